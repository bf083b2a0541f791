"""Price and final factor of one symbol over its recent bars, drawn with plotext, with the
symbol's fills (▲ buy, ▼ sell) and, under the plot, the position held at each bar.

Different markers keep the lines and the fills apart without colour. Drawing costs a few
milliseconds, so it happens at most `max_hz` times a second and only when shown; a
request inside that interval is drawn when the interval ends.
"""
from __future__ import annotations

import logging
import math
import re
import time
from bisect import bisect_right
from datetime import datetime
from decimal import Decimal
from typing import Callable

import plotext as plt
from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from tui import formatting as fmt
from tui.fill_marks import FillMark, FillMarks, bar_of, positions_at
from tui.history import SignalHistory
from tui.palette import Palette

log = logging.getLogger(__name__)


ANSI = re.compile(r"\x1b\[[0-9;]*m")
BLOCKS = " ▁▂▃▄▅▆▇█"  # a cell filled from the bottom in eighths
STRIP_ROWS = 2  # long above, short below: the position under the price
MIN_PLOT_ROWS = 8  # title, frame, four rows of prices, frame, times


def plot_text(symbol: str, times: list[datetime], prices: list[float], factors: list[float],
              marks: list[FillMark], held: Decimal, width: int, height: int, palette: Palette = Palette()) -> Text:
    """Price (left axis) and final factor (right), this symbol's fills as ▲ buy ▼ sell at their
    bar and price, and under the plot the position held at each bar, long above and short below."""
    n = len(prices)
    if n < 2:
        return Text(f"{symbol}\nThe chart starts after two bars.", style="italic")
    width = max(width, 20)
    strip = height >= MIN_PLOT_ROWS + STRIP_ROWS
    xs = list(range(1 - n, 1))
    placed = [(i, m) for m in marks if (i := bar_of(times, m.ts)) is not None]
    plt.clear_figure()
    plt.plot_size(width, max(height - (STRIP_ROWS if strip else 0), 5))
    plt.theme("clear")
    plt.title(_title(symbol, n, strip, width))
    # No legend: it would sit over the plot's corner, fills included; the title names the lines.
    plt.plot(xs, prices, marker="braille")
    plt.plot(xs, [0.0 if math.isnan(f) else f for f in factors], marker="•", yside="right")
    plain = not palette.profit  # NO_COLOR: grey by luminance would draw the fills fainter than the text
    for buy, marker, color in ((True, "▲", "green"), (False, "▼", "red")):
        points = [(xs[i], m.price) for i, m in placed if m.buy == buy]
        if points:
            plt.scatter([x for x, _ in points], [y for _, y in points], marker=marker,
                        color="default" if plain else color)
    plt.xlim(xs[0], xs[-1])
    ticks = sorted({round(k * (n - 1) / (time_ticks(width) - 1)) for k in range(time_ticks(width))})
    plt.xticks([xs[i] for i in ticks], [_clock(times, i) for i in ticks])
    lines = plt.build().rstrip("\n").split("\n")
    text = Text(no_wrap=True)
    frame = max((k for k, line in enumerate(lines) if "└" in line), default=None)
    for k, line in enumerate(lines):
        if k:
            text.append("\n")
        text.append_text(Text.from_ansi(line, no_wrap=True))
        if strip and k == frame:
            bare = ANSI.sub("", line)
            left, right = bare.index("└") + 1, bare.rindex("┘")
            text.append_text(position_strip(positions_at(times, marks, held), left, right - left,
                                            len(bare) - right - 1, palette))
    return text


def time_ticks(width: int) -> int:
    return max(2, min(6, width // 14))


def _title(symbol: str, n: int, strip: bool, width: int) -> str:
    """The longest title that fits."""
    below = ", position below" if strip else ""
    titles = (f"{symbol}: price ⠤ (left), final factor • (right), fills ▲ buy ▼ sell{below}, last {n} bars",
              f"{symbol}: price ⠤ left, factor • right, ▲ buy ▼ sell, {n} bars",
              f"{symbol}: price ⠤, factor •, ▲ buy ▼ sell")
    return next((t for t in titles if len(t) <= width), titles[-1])


def _clock(times: list[datetime], i: int) -> str:
    """Market time; with the day when the window spans more than one."""
    return times[i].strftime("%H:%M" if times[0].date() == times[-1].date() else "%d %H:%M")


def position_strip(held: list[Decimal], left: int, cells: int, right: int, palette: Palette = Palette()) -> Text:
    """Two rows under the plot's `cells` columns: a long position grows up from the bottom of the
    upper row, a short one down from the top of the lower row (reverse video, so it reads the
    same without colour); full height is the largest position in the window."""
    scale = max((abs(q) for q in held), default=Decimal(0))
    n = len(held)
    # Each cell shows the bar drawn at or before it, so a change starts under its fill's marker.
    starts = [bar_column(i, n, cells) for i in range(n)]
    per_cell = [held[max(bisect_right(starts, c) - 1, 0)] for c in range(cells)]
    label = _scale_label(scale) if scale else "flat"
    text = Text(no_wrap=True)
    for row, (name, side) in enumerate((("long", 1), ("short", -1))):
        text.append("\n")
        text.append(f"{name} ".rjust(left)[-left:] if left else "")
        for q in per_cell:
            eighths = math.ceil(abs(q) / scale * 8) if scale and q * side > 0 else 0
            if side > 0:
                text.append(BLOCKS[eighths], style=palette.profit if eighths else "")
            else:
                text.append(BLOCKS[8 - eighths] if eighths else " ",
                            style=f"reverse {palette.loss}".strip() if eighths else "")
        text.append((" " + (label if row == 0 else ""))[:right + 1])
    return text


def bar_column(i: int, n: int, cells: int) -> int:
    """The plot column plotext draws bar `i` of `n` in (its own rounding, half up)."""
    return math.floor(round(0.5 + (cells - 1) * i / (n - 1), 8))


def _scale_label(q: Decimal) -> str:
    """The largest position in the window, short enough for the right axis's labels (12.3k)."""
    return fmt.compact(q) if q >= 1000 else f"{float(q):.3g}"


class PriceFactorChart(Static):
    def __init__(self, history: SignalHistory, fills: FillMarks, held: Callable[[str], Decimal],
                 max_hz: float = 2.0, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.history = history
        self.fills = fills
        self.held = held  # the symbol's position now (0 when flat)
        self.palette = Palette()
        self.symbol: str | None = None
        self.min_interval = 1.0 / max_hz
        self._drawn_at = -math.inf
        self._drawn_key: tuple | None = None
        self._timer: Timer | None = None

    def _visible(self) -> bool:
        return self.symbol is not None and self.is_on_screen and self.size.height >= 5

    def _inputs(self) -> tuple:
        symbol = self.symbol
        return (*self.history.series(symbol), self.fills.of(symbol), self.held(symbol))

    def _key(self, times, prices, factors, marks, held) -> tuple:
        return (self.symbol, len(prices), times[-1:], prices[-1:], factors[-1:], len(marks), marks[-1:], held,
                self.size)

    @property
    def up_to_date(self) -> bool:
        """The chart shows the newest bar, fills and position of its symbol (or is not on screen)."""
        return not self._visible() or self._drawn_key == self._key(*self._inputs())

    def request(self, symbol: str | None) -> None:
        self.symbol = symbol
        wait = self.min_interval - (time.monotonic() - self._drawn_at)
        if wait <= 0:
            self.draw()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self.draw)

    def draw(self) -> None:
        self._timer = None
        if not self._visible():
            return
        inputs = self._inputs()
        key = self._key(*inputs)
        if key == self._drawn_key:
            return
        self._drawn_key, self._drawn_at = key, time.monotonic()
        try:
            chart = plot_text(self.symbol, *inputs, self.size.width, self.size.height, self.palette)
        except Exception as e:  # noqa: BLE001 - a chart problem must never take the desk down
            log.error("the chart of %s could not be drawn", self.symbol, exc_info=e)
            chart = Text(f"{self.symbol}\nThe chart cannot be drawn ({type(e).__name__}); see the log file.",
                         style="italic")
        self.update(chart, layout=False)

    def redraw(self) -> None:
        """Draw again even if nothing it shows changed (a new size or palette)."""
        self._drawn_key = None
        self.request(self.symbol)

    def on_resize(self) -> None:
        self.redraw()

    def on_show(self) -> None:
        self.request(self.symbol)
