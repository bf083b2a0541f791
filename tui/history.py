"""A short, bounded memory of each symbol's (bar time, price, final factor) for the chart.

The desk keeps what the engine sent, after what the store held from earlier runs; a bar
the desk never saw (its update was coalesced away under load) is simply a gap.
"""
from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Mapping, Sequence

from engine.events import SignalUpdate


class SignalHistory:
    def __init__(self, bars: int = 180) -> None:
        self.bars = bars
        self._points: dict[str, deque[tuple[datetime, float, float]]] = {}
        self._last_ts: dict[str, datetime] = {}
        self._first_ts: dict[str, datetime] = {}  # this run's first recorded bar

    def record(self, signal: SignalUpdate) -> bool:
        """Keep this bar's point; False when this bar was already kept."""
        last = self._last_ts.get(signal.symbol)
        if last is not None and signal.ts <= last:
            return False
        self._last_ts[signal.symbol] = signal.ts
        self._first_ts.setdefault(signal.symbol, signal.ts)
        points = self._points.get(signal.symbol)
        if points is None:
            points = self._points[signal.symbol] = deque(maxlen=self.bars)
        points.append((signal.ts, signal.price, signal.final_factor))
        return True

    def load(self, stored: Mapping[str, Sequence[tuple[datetime, float | None, float | None]]]) -> None:
        """Earlier bars from the store, (time, price, final factor) oldest first, before what this
        run recorded; bars without a price or factor are left out."""
        for symbol, points in stored.items():
            start = self._first_ts.get(symbol)
            older = [(ts, p, f) for ts, p, f in points if p is not None and f is not None and (start is None or ts < start)]
            if not older:
                continue
            recorded = self._points.get(symbol, ())
            self._points[symbol] = deque([*older, *recorded], maxlen=self.bars)
            self._last_ts.setdefault(symbol, older[-1][0])

    def series(self, symbol: str) -> tuple[list[datetime], list[float], list[float]]:
        """Bar times (market time), prices and final factors, oldest first."""
        points = self._points.get(symbol, ())
        return [t for t, _, _ in points], [p for _, p, _ in points], [f for _, _, f in points]
