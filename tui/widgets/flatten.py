"""While a flatten runs: where each symbol stands, and the key that stops it.

Symbols still being worked on are listed first (attempt, countdown, last error); those
already flat are only counted, so fifty positions still fit in a few lines.
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.events import FlattenProgress
from tui.palette import Palette

MAX_SYMBOL_LINES = 3


def progress_text(progress: dict[str, FlattenProgress], stop_key: str, palette: Palette) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    done = sum(1 for p in progress.values() if p.state == "flat")
    busy = sorted((p for p in progress.values() if p.state != "flat"), key=lambda p: p.symbol)
    text.append("FLATTENING", style=f"bold reverse {palette.loss}")
    text.append(f"  {done} flat, {len(busy)} to go · press {stop_key} to stop", style="bold")
    for p in busy[:MAX_SYMBOL_LINES]:
        text.append(f"\n{p.symbol} attempt {p.attempt}: ")
        if p.state == "waiting":
            text.append(f"next try in {p.next_try_in_s:.1f} s", style=f"bold {palette.warn}")
        else:
            text.append(p.state)
        if p.last_error:
            text.append(f" · {p.last_error}", style="dim")
    if len(busy) > MAX_SYMBOL_LINES:
        text.append(f"\n… and {len(busy) - MAX_SYMBOL_LINES} more")
    return text


class FlattenPane(Static):
    """Shown only while a flatten runs (its display changes twice per flatten, not every frame)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.progress: dict[str, FlattenProgress] = {}
        self.stop_key = "S"
        self.palette = Palette()
        self.running = False

    def set_running(self, running: bool) -> None:
        if running and not self.running:
            self.progress.clear()
        self.running = running
        if self.display != running:
            self.display = running
        if running:
            self.redraw()

    def apply(self, updates: tuple[FlattenProgress, ...]) -> None:
        for p in updates:
            self.progress[p.symbol] = p
        if self.running:
            self.redraw()

    def redraw(self) -> None:
        self.update(progress_text(self.progress, self.stop_key, self.palette))
