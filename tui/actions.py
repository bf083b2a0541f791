"""What the desk's keys do. Each key becomes one engine command, run as a worker so the
screen stays live; its answer is shown as a notice. A key pressed when it cannot work
(engine starting, no symbol highlighted, the same command still running) says why.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable

from engine.events import CommandResult
from tui.screens.help import HelpScreen
from tui.screens.mode import ModeScreen
from tui.screens.quit import QuitScreen

if TYPE_CHECKING:
    from tui.app import DeskApp

# Commands the desk issues itself; their answers come back from the call, so the copies
# on the event stream are not shown twice.
DESK_COMMANDS = frozenset({"flatten_all", "flatten", "pause", "resume", "halt", "resume_entries",
                           "set_mode", "stop_flatten"})
MAX_DETAIL_LINES = 12


def describe_result(result: CommandResult) -> str:
    lines = [result.message or ("done" if result.ok else "refused")]
    details = list(result.details.items())
    for key, value in details[:MAX_DETAIL_LINES]:
        lines.append(f"{key}: {value}")
    if len(details) > MAX_DETAIL_LINES:
        lines.append(f"… and {len(details) - MAX_DETAIL_LINES} more")
    return "\n".join(lines)


class DeskActions:
    """Mixed into the desk screen; needs `app`, `notify` and `signals`."""

    app: "DeskApp"
    _in_flight: set[str]

    # Guards ------------------------------------------------------------------------

    def engine_ready(self) -> bool:
        if self.app.engine_done:
            self.notify("The engine has stopped, so no command can be sent.", severity="error")
            return False
        if not self.app.engine.started:
            self.notify("The engine is still starting: try again when the signals show.",
                        severity="warning")
            return False
        return True

    def highlighted_symbol(self) -> str | None:
        symbol = self.signals.cursor_key
        if symbol is None:
            self.notify("No symbol is highlighted: move to a row of the Signals table first.",
                        severity="warning")
        return symbol

    def send(self, label: str, title: str, call: Callable[[], Awaitable[CommandResult]],
             progress: str | None = None) -> None:
        """Run one engine command unless the same one is still running."""
        if label in self._in_flight:
            self.notify(f"{title} is already in progress.", severity="warning")
            return
        self._in_flight.add(label)
        if progress:
            self.notify(progress, title=title)
        self.app.run_worker(self._send(label, title, call), name=title, group="commands",
                            exit_on_error=False)

    async def _send(self, label: str, title: str, call: Callable[[], Awaitable[CommandResult]]) -> None:
        try:
            result = await call()
        finally:
            self._in_flight.discard(label)
            self.app.pump.hurry()  # the state the command changed shows now, not next frame
        self.notify(describe_result(result), title=title,
                    severity="information" if result.ok else "error",
                    timeout=12 if len(result.details) > 1 else 6)

    # Keys ----------------------------------------------------------------------------

    def action_flatten_all(self) -> None:
        if self.engine_ready():
            self.send("flatten_all", "Flatten all", self.app.engine.flatten_all,
                      progress="Closing every position…")

    def action_stop_flatten(self) -> None:
        self.send("stop_flatten", "Stop flatten", self.app.engine.stop_flatten, progress="Stopping the flatten…")

    def action_flatten_symbol(self) -> None:
        if not self.engine_ready():
            return
        symbol = self.highlighted_symbol()
        if symbol:
            self.send(f"flatten:{symbol}", f"Flatten {symbol}", lambda: self.app.engine.flatten(symbol),
                      progress=f"Closing {symbol}…")

    def action_pause_symbol(self) -> None:
        if not self.engine_ready():
            return
        symbol = self.highlighted_symbol()
        if not symbol:
            return
        engine = self.app.engine
        if self.signals.state is not None and symbol in self.signals.state.paused:
            self.send(f"pause:{symbol}", f"Resume {symbol}", lambda: engine.resume(symbol))
        else:
            self.send(f"pause:{symbol}", f"Pause {symbol}", lambda: engine.pause(symbol))

    def action_halt_entries(self) -> None:
        if not self.engine_ready():
            return
        engine = self.app.engine
        if self.signals.state is not None and self.signals.state.halted:
            self.send("halt", "Resume entries", engine.resume_entries)
        else:
            self.send("halt", "Halt entries", engine.halt_entries)

    def action_switch_mode(self) -> None:
        if self.engine_ready():
            self.app.push_screen(ModeScreen(self.app.engine, self.app.pump))

    def action_next_theme(self) -> None:
        self.app.next_theme()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.help_rows()))

    def action_quit_desk(self) -> None:
        if self.app.live_positions_open():
            self.app.push_screen(QuitScreen(), lambda sure: sure and self.app.shutdown())
        else:
            self.app.shutdown()
