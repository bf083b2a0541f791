"""Price and final factor of one symbol over its recent bars, drawn with plotext.

Two different markers keep the two lines apart without colour. Drawing costs a few
milliseconds, so it happens at most `max_hz` times a second and only when shown; a
request inside that interval is drawn when the interval ends.
"""
from __future__ import annotations

import logging
import math
import time

import plotext as plt
from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from tui.history import SignalHistory

log = logging.getLogger(__name__)


def plot_text(title: str, prices: list[float], factors: list[float], width: int, height: int) -> Text:
    if len(prices) < 2:
        return Text(f"{title}\nThe chart starts after two bars.", style="italic")
    xs = list(range(1 - len(prices), 1))
    plt.clear_figure()
    plt.plot_size(max(width, 20), max(height, 5))
    plt.theme("clear")
    plt.title(title)
    plt.plot(xs, prices, label="price", marker="braille")
    plt.plot(xs, [0.0 if math.isnan(f) else f for f in factors], label="factor", marker="•",
             yside="right")
    return Text.from_ansi(plt.build(), no_wrap=True)


class PriceFactorChart(Static):
    def __init__(self, history: SignalHistory, max_hz: float = 2.0, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.history = history
        self.symbol: str | None = None
        self.min_interval = 1.0 / max_hz
        self._drawn_at = -math.inf
        self._drawn_key: tuple | None = None
        self._timer: Timer | None = None

    def _visible(self) -> bool:
        return self.symbol is not None and self.is_on_screen and self.size.height >= 5

    def _key(self, prices: list[float], factors: list[float]) -> tuple:
        return (self.symbol, len(prices), prices[-1:], factors[-1:], self.size)

    @property
    def up_to_date(self) -> bool:
        """The chart shows the newest bar of its symbol (or is not on screen)."""
        return not self._visible() or self._drawn_key == self._key(*self.history.series(self.symbol))

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
        prices, factors = self.history.series(self.symbol)
        key = self._key(prices, factors)
        if key == self._drawn_key:
            return
        self._drawn_key, self._drawn_at = key, time.monotonic()
        title = f"{self.symbol}: price (left), final factor (right), last {len(prices)} bars"
        try:
            chart = plot_text(title, prices, factors, self.size.width, self.size.height)
        except Exception as e:  # noqa: BLE001 - a chart problem must never take the desk down
            log.error("the chart of %s could not be drawn", self.symbol, exc_info=e)
            chart = Text(f"{title}\nThe chart cannot be drawn ({type(e).__name__}); see the log file.",
                         style="italic")
        self.update(chart, layout=False)

    def on_resize(self) -> None:
        self._drawn_key = None
        self.request(self.symbol)

    def on_show(self) -> None:
        self.request(self.symbol)
