"""Each symbol's recent fills in the shown mode, and where they fall on the chart's bars.

The desk feeds it what it already has: the engine snapshot's fills, the fill stream and, after a
restart, the trades loaded from the store. The same trade reaching it twice is kept once.

A fill belongs to the bar it happened in: the last bar that began at or before it. A fill older
than the first bar, or newer than one bar's length past the last, is outside the chart.
The position at each bar is walked back from the position held now, so it needs only the fills
inside the chart's window (whatever happened before it is already in the position).
"""
from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from engine.events import FillEvent


@dataclass(frozen=True, slots=True)
class FillMark:
    ts: datetime
    price: float
    quantity: Decimal  # signed: + bought, - sold
    trade_id: str

    @property
    def buy(self) -> bool:
        return self.quantity > 0


class FillMarks:
    def __init__(self, keep: int = 400) -> None:
        self.keep = keep  # per symbol: more than a chart's window ever holds
        self._marks: dict[str, deque[FillMark]] = {}
        self._ids: set[tuple[str, str]] = set()

    def reset(self, fills: Iterable[FillEvent], mode: str) -> None:
        self._marks.clear()
        self._ids.clear()
        self.add(fills, mode)

    def add(self, fills: Iterable[FillEvent], mode: str) -> set[str]:
        """Keep the fills of `mode`; the symbols that got new ones."""
        symbols = set()
        for event in fills:
            f = event.fill
            key = (f.symbol, f.trade_id)
            if f.mode.value != mode or key in self._ids:
                continue
            marks = self._marks.setdefault(f.symbol, deque())
            marks.append(FillMark(f.ts, float(f.price), f.quantity * f.side.sign, f.trade_id))
            self._ids.add(key)
            while len(marks) > self.keep:
                self._ids.discard((f.symbol, marks.popleft().trade_id))
            symbols.add(f.symbol)
        return symbols

    def of(self, symbol: str) -> list[FillMark]:
        """Oldest first."""
        return sorted(self._marks.get(symbol, ()), key=lambda m: m.ts)


def bar_of(times: list[datetime], ts: datetime) -> int | None:
    """The index of the bar `ts` falls in, or None outside the window."""
    if len(times) < 2 or ts < times[0] or ts > times[-1] + (times[-1] - times[-2]):
        return None
    return bisect_right(times, ts) - 1


def positions_at(times: list[datetime], marks: list[FillMark], now: Decimal) -> list[Decimal]:
    """The position held at the end of each bar: `now` at the last, less each later fill before it."""
    held = now
    out = [Decimal(0)] * len(times)
    later = sorted(marks, key=lambda m: m.ts, reverse=True)
    j = 0
    for i in range(len(times) - 1, -1, -1):
        if i + 1 < len(times):
            while j < len(later) and later[j].ts >= times[i + 1]:
                held -= later[j].quantity
                j += 1
        out[i] = held
    return out
