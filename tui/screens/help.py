"""Every key of the desk, as the keymap has them now."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

MOVING = (("↑ ↓ PgUp PgDn", "Move through the table that has focus"),
          ("tab", "Move focus between panes"),
          ("ctrl+q", "Quit, the same way as q"))


def help_text(rows: list[tuple[str, str]]) -> Text:
    width = max(len(key) for key, _ in [*rows, *MOVING]) + 2
    text = Text()
    for key, what in [*rows, ("", ""), *MOVING]:
        text.append(f"{key:<{width}}", style="bold")
        text.append(f"{what}\n")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help_close")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Keys (escape closes)"
            yield Static(help_text(self.rows))
