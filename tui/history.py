"""A short, bounded memory of each symbol's (bar time, price, final factor) for the chart.

The desk keeps what the engine sent, after what the store held from earlier runs; a bar
the desk never saw (its update was coalesced away under load) is simply a gap.
"""
from __future__ import annotations

from array import array
from datetime import datetime, timezone
from typing import Mapping, Sequence

from engine.events import SignalUpdate


class _Series:
    """One symbol's points as three flat arrays of floats (times as POSIX seconds).

    Arrays hold no Python objects for the garbage collector to walk: with 500 symbols, tuples per
    bar would be ninety thousand tracked objects, and every full collection would stall the desk
    while it visited them."""

    __slots__ = ("ts", "price", "factor")

    def __init__(self) -> None:
        self.ts, self.price, self.factor = array("d"), array("d"), array("d")

    def append(self, ts: float, price: float, factor: float, keep: int) -> None:
        self.ts.append(ts)
        self.price.append(price)
        self.factor.append(factor)
        if len(self.ts) >= 2 * keep:  # trimmed in steps, so appending stays cheap
            self.trim(keep)

    def trim(self, keep: int) -> None:
        for column in (self.ts, self.price, self.factor):
            del column[:-keep]


class SignalHistory:
    def __init__(self, bars: int = 180) -> None:
        self.bars = bars
        self._series: dict[str, _Series] = {}
        self._last_ts: dict[str, datetime] = {}
        self._first_ts: dict[str, datetime] = {}  # this run's first recorded bar
        self._tz: timezone | None = timezone.utc  # bar times are aware UTC; None for naive ones

    def record(self, signal: SignalUpdate) -> bool:
        """Keep this bar's point; False when this bar was already kept."""
        symbol, ts = signal.symbol, signal.ts
        last = self._last_ts.get(symbol)
        if last is not None and ts <= last:
            return False
        self._last_ts[symbol] = ts
        self._first_ts.setdefault(symbol, ts)
        series = self._series.get(symbol)
        if series is None:
            series = self._series[symbol] = _Series()
        series.append(self._seconds(ts), signal.price, signal.final_factor, self.bars)
        return True

    def load(self, stored: Mapping[str, Sequence[tuple[datetime, float | None, float | None]]]) -> None:
        """Earlier bars from the store, (time, price, final factor) oldest first, before what this
        run recorded; bars without a price or factor are left out."""
        for symbol, points in stored.items():
            start = self._first_ts.get(symbol)
            older = [(ts, p, f) for ts, p, f in points if p is not None and f is not None and (start is None or ts < start)]
            if not older:
                continue
            recorded = self._series.get(symbol)
            series = self._series[symbol] = _Series()
            for ts, p, f in older:
                series.append(self._seconds(ts), p, f, self.bars)
            if recorded is not None:
                series.ts.extend(recorded.ts)
                series.price.extend(recorded.price)
                series.factor.extend(recorded.factor)
            series.trim(self.bars)
            self._last_ts.setdefault(symbol, older[-1][0])

    def series(self, symbol: str) -> tuple[list[datetime], list[float], list[float]]:
        """Bar times (market time), prices and final factors, oldest first."""
        series = self._series.get(symbol)
        if series is None:
            return [], [], []
        keep = self.bars
        return ([self._datetime(t) for t in series.ts[-keep:]], series.price[-keep:].tolist(),
                series.factor[-keep:].tolist())

    def _seconds(self, ts: datetime) -> float:
        if ts.tzinfo is None:
            self._tz = None
            return ts.replace(tzinfo=timezone.utc).timestamp()
        return ts.timestamp()

    def _datetime(self, seconds: float) -> datetime:
        ts = datetime.fromtimestamp(seconds, timezone.utc)
        return ts if self._tz is not None else ts.replace(tzinfo=None)
