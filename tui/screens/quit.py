"""Asked only when live positions are open: they stay open after the desk quits."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class QuitScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Quit", id="quit_yes"),
        Binding("n,escape", "answer(False)", "Stay", id="quit_no"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box") as box:
            box.border_title = "Quit with live positions open?"
            yield Static(
                "LIVE positions are open. Quitting stops the engine: the positions stay open on "
                "the exchange with nothing managing them.\n\n"
                "Press y to quit anyway, n or escape to stay (F flattens everything first)."
            )

    def action_answer(self, sure: bool) -> None:
        self.dismiss(sure)
