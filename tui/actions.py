"""What the desk's keys do. Each key becomes one engine command, run as a worker so the
screen stays live; its answer is shown as a notice. Per-symbol keys act on the row under the
cursor of the focused table (Signals, Positions or Trades). A key pressed when it cannot work
(engine starting, no row under the cursor, the same command still running) says why.
"""
from __future__ import annotations

from typing import Awaitable, Callable

from engine.events import CommandResult
from tui import formatting as fmt
from tui.host import DeskHost
from tui.screens.help import HelpScreen
from tui.screens.mode import ModeScreen
from tui.screens.quit import QuitScreen
from tui.widgets.keyed_table import KeyedTable

# Commands the desk issues itself; their answers come back from the call, so the copies
# on the event stream are not shown twice.
DESK_COMMANDS = frozenset({"flatten_all", "flatten", "pause", "resume", "halt", "resume_entries",
                           "set_mode", "stop_flatten"})
NOTICE_CHARS = 160


def first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= NOTICE_CHARS else line[:NOTICE_CHARS - 1] + "…"


def describe_result(result: CommandResult) -> str:
    """One line; a per-symbol outcome is in the event log."""
    text = first_line(result.message or ("done" if result.ok else "refused"))
    if result.details:
        text += " · each symbol's outcome: see the log (6)"
    return text


class DeskActions:
    """Mixed into the desk screen; needs `host`, `app` (for screens), `notify` and `signals`."""

    host: DeskHost
    _in_flight: set[str]
    _told_starting = False

    # Guards ------------------------------------------------------------------------

    def engine_ready(self) -> bool:
        if self.host.engine_done:
            self.notify("The engine has stopped, so no command can be sent.", severity="error")
            return False
        if not self.host.engine.started:
            if not self._told_starting:  # one notice however many keys are pressed meanwhile
                self._told_starting = True
                self.notify("The engine is still starting: keys work once the signals show.",
                            severity="warning")
            return False
        return True

    def focused_table(self) -> KeyedTable:
        """The table whose cursor the per-symbol keys follow: the focused one, or the Signals
        table when focus is elsewhere (the breakdown and chart show its highlighted symbol)."""
        focused = self.focused
        return focused if isinstance(focused, KeyedTable) else self.signals

    def target_symbol(self) -> str | None:
        """The symbol of the row under the cursor of the focused table; a hint if none."""
        table = self.focused_table()
        symbol = table.cursor_symbol
        if symbol is None:
            self.hint_no_row(table)
        return symbol

    def hint_no_row(self, table: KeyedTable) -> None:
        self.notify(f"The {table.PANE} table has no row under the cursor: nothing was done. "
                    "Move to a row first.", severity="warning")

    def what_flatten_closes(self, symbol: str) -> str:
        """"BTCUSDT LONG 0.012, notional 1.2k USDT", or that no position is open."""
        position = self.positions.latest.get(symbol)
        if position is None:
            return f"{symbol}: no open position shown"
        side = "LONG" if position.quantity > 0 else "SHORT"
        return (f"{symbol} {side} {fmt.quantity(abs(position.quantity))}, "
                f"notional {fmt.notional(position.notional)} USDT")

    def send(self, label: str, title: str, call: Callable[[], Awaitable[CommandResult]],
             progress: str | None = None, preface: str = "") -> None:
        """Run one engine command unless the same one is still running."""
        if label in self._in_flight:
            self.notify(f"{title} is already in progress.", severity="warning")
            return
        self._in_flight.add(label)
        if progress:
            self.notify(progress, title=title)
        self.host.run_command(self._send(label, title, call, preface), name=title)

    async def _send(self, label: str, title: str, call: Callable[[], Awaitable[CommandResult]],
                    preface: str = "") -> None:
        try:
            result = await call()
        finally:
            self._in_flight.discard(label)
            self.host.hurry()  # the state the command changed shows now, not next frame
        self.notify(preface + describe_result(result), title=title,
                    severity="information" if result.ok else "error",
                    timeout=8)

    # Keys ----------------------------------------------------------------------------

    def action_flatten_all(self) -> None:
        if self.engine_ready():
            self.send("flatten_all", "Flatten all", self.host.engine.flatten_all,
                      progress="Closing every position…")

    def action_stop_flatten(self) -> None:
        self.send("stop_flatten", "Stop flatten", self.host.engine.stop_flatten, progress="Stopping the flatten…")

    def action_flatten_symbol(self) -> None:
        if not self.engine_ready():
            return
        symbol = self.target_symbol()
        if symbol:
            closes = self.what_flatten_closes(symbol)
            self.send(f"flatten:{symbol}", f"Flatten {symbol}", lambda: self.host.engine.flatten(symbol),
                      progress=f"Closing {closes}…", preface=f"{closes}: ")

    def action_pause_symbol(self) -> None:
        if not self.engine_ready():
            return
        symbol = self.target_symbol()
        if not symbol:
            return
        engine = self.host.engine
        if self.signals.state is not None and symbol in self.signals.state.paused:
            self.send(f"pause:{symbol}", f"Resume {symbol}", lambda: engine.resume(symbol))
        else:
            self.send(f"pause:{symbol}", f"Pause {symbol}", lambda: engine.pause(symbol))

    def action_halt_entries(self) -> None:
        if not self.engine_ready():
            return
        engine = self.host.engine
        if self.signals.state is not None and self.signals.state.halted:
            self.send("halt", "Resume entries", engine.resume_entries)
        else:
            self.send("halt", "Halt entries", engine.halt_entries)

    def action_switch_mode(self) -> None:
        if self.engine_ready():
            self.app.push_screen(ModeScreen(self.host.engine, self.host.hurry))

    def action_next_theme(self) -> None:
        self.host.next_theme()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.help_rows()))

    def action_quit_desk(self) -> None:
        if self.live_positions_open():
            self.app.push_screen(QuitScreen(), lambda sure: sure and self.host.shutdown())
        else:
            self.host.shutdown()
