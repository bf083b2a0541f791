"""A scrolling list of one-line entries that renders only the lines in view.

RichLog keeps a rendered strip (with its caches) for every line it holds: thousands of
long-lived objects for the garbage collector to walk on every full pass. Here a line is kept
as its text and whether it is an alarm, and drawn when it is on screen.
"""
from __future__ import annotations

from collections import deque
from typing import Iterable

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class EntryLog(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    EntryLog {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        overflow-x: auto;
    }
    """

    def __init__(self, max_lines: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: deque[tuple[str, bool]] = deque(maxlen=max_lines)
        self._width = 0
        self.alarm_style = "bold reverse"

    @property
    def lines(self) -> list[str]:
        return [text for text, _ in self._lines]

    def write(self, lines: Iterable[tuple[str, bool]], scroll_end: bool) -> None:
        """Append (text, alarm) lines; the oldest beyond the limit drop off the top."""
        new = list(lines)
        if not new:
            return
        self._lines.extend(new)
        self._width = max(self._width, *(cell_len(text) for text, _ in new))
        self._resize()
        if scroll_end:
            self.scroll_end(animate=False, immediate=False, x_axis=False)

    def replace(self, lines: Iterable[tuple[str, bool]]) -> None:
        self._lines.clear()
        self._lines.extend(lines)
        self._width = max((cell_len(t) for t, _ in self._lines), default=0)
        self._resize()
        self.scroll_end(animate=False, immediate=False, x_axis=False)

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, len(self._lines))
        self.refresh()  # lines move up when old ones drop off, even when the size stays the same

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        style = self.rich_style
        index = scroll_y + y
        if index >= len(self._lines):
            return Strip.blank(width, style)
        text, alarm = self._lines[index]
        line = Text(text, style=self.alarm_style if alarm else "", no_wrap=True, end="")
        line.stylize_before(style)
        strip = Strip(line.render(self.app.console), cell_len(text))
        return strip.crop_extend(scroll_x, scroll_x + width, style)
