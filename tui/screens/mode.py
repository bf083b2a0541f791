"""The mode switcher: paper, testnet or live, and what switching does to positions.

Live needs API keys and the word LIVE typed in full; the engine decides, and a refusal
is shown here in its own words.
"""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.bindings import FLATTEN_ALL
from tui.pump import EventPump

MODES = (
    ("paper", "simulated fills, fees and funding"),
    ("testnet", "Binance demo trading (testnet keys)"),
    ("live", "real money (live keys, type LIVE)"),
)
CONSEQUENCES = (
    "Each mode keeps its own positions, trades and PnL. Switching closes nothing: "
    "the positions of the mode you leave stay exactly as they are, and are shown again "
    "when you come back to it."
)


class LiveConfirmInput(Input):
    """The typed LIVE confirmation. The flatten key is never taken as text here, so it
    flattens from this prompt too; LIVE never needs an upper-case F.

    Textual drops the bindings of keys a focused input takes *before* it applies the keymap,
    so the flatten binding's own key must be let through as well, or a keymap override would
    find nothing left to move. With the key moved, F still reaches the input as a letter.
    """

    def check_consume_key(self, key: str, character: str | None) -> bool:
        if key == FLATTEN_ALL.key or key in getattr(self.app, "flatten_keys", ()):
            return False
        return super().check_consume_key(key, character)


class ModeScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="mode_cancel")]

    def __init__(self, engine: Any, pump: EventPump) -> None:
        super().__init__()
        self.engine = engine
        self.pump = pump
        self.busy = False

    def compose(self) -> ComposeResult:
        current = self.engine.mode.value
        options = []
        for mode, what in MODES:
            ok, reason = self.engine.can_trade(mode)
            now = " ← now" if mode == current else ""
            availability = "" if ok else f"\n         ✗ {reason}"
            options.append(Option(Text(f"{mode.upper():8} {what}{now}{availability}"), id=mode))
        with Vertical(id="mode-box") as box:
            box.border_title = f"Trading mode · now {current}"
            yield Static(CONSEQUENCES, id="mode-consequences")
            yield OptionList(*options, id="mode-options")
            yield LiveConfirmInput(placeholder="type LIVE to confirm, then enter", id="mode-confirm")
            yield Static("", id="mode-answer")
            yield Static("↑↓ choose · enter switch · escape cancel", id="mode-keys")

    def on_mount(self) -> None:
        self.query_one("#mode-confirm").display = False
        options = self.query_one(OptionList)
        options.highlighted = [m for m, _ in MODES].index(self.engine.mode.value)
        options.focus()

    @on(OptionList.OptionHighlighted)
    def toggle_confirm(self, event: OptionList.OptionHighlighted) -> None:
        self.query_one("#mode-confirm").display = event.option.id == "live"

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        mode = event.option.id
        confirm = self.query_one("#mode-confirm", Input)
        if mode == "live" and not confirm.value:
            confirm.focus()
            self.answer("Type LIVE in the box and press enter to switch to live trading.", ok=True)
            return
        self.switch(mode, confirm.value if mode == "live" else None)

    @on(Input.Submitted, "#mode-confirm")
    def confirmed(self, event: Input.Submitted) -> None:
        self.switch("live", event.value)

    def switch(self, mode: str, confirm: str | None) -> None:
        if self.busy:
            return
        if mode == self.engine.mode.value:
            self.dismiss(None)
            self.notify(f"Already in {mode} mode.")
            return
        self.busy = True
        self.answer(f"Switching to {mode}…", ok=True)
        self.app.run_worker(self._switch(mode, confirm), name=f"Switch to {mode}", group="commands",
                            exit_on_error=False)

    async def _switch(self, mode: str, confirm: str | None) -> None:
        try:
            result = await self.engine.set_mode(mode, confirm=confirm)
        finally:
            self.busy = False
            self.pump.hurry()
        still_open = self.app.screen is self  # the operator may have closed it meanwhile
        if result.ok:
            if still_open:
                self.dismiss(mode)
            self.app.notify(result.message or f"Now trading in {mode} mode.", title="Mode")
        else:
            if still_open:
                self.answer(f"Refused: {result.message}", ok=False)
            self.app.notify(result.message, title=f"Mode {mode} refused", severity="error")

    def answer(self, text: str, ok: bool) -> None:
        widget = self.query_one("#mode-answer", Static)
        widget.update(text)
        widget.set_class(not ok, "-refused")

    def action_cancel(self) -> None:
        self.dismiss(None)
