"""Binance kline rows and events as Bars, taker flow buckets, and the bar sequencer.

Pure code, no I/O: the feed in `engine.feeds.binance` drives it.
"""
from __future__ import annotations

from datetime import datetime, timezone

from engine.model import Bar

MINUTE_MS = 60_000


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def bar_from_row(symbol: str, row: list, funding_rate: float) -> Bar:
    """A REST kline row: [open time, o, h, l, c, volume, close time, quote vol, trades, taker buy base, ...]."""
    return Bar(symbol, ms_to_dt(int(row[0])), float(row[1]), float(row[2]), float(row[3]), float(row[4]),
               float(row[5]), float(row[9]), funding_rate)


def bar_from_event(kline: dict, funding_rate: float, taker_buy: float | None = None) -> Bar:
    """The `k` object of a kline stream event; `taker_buy` overrides its `V` (aggregated-trade flow)."""
    return Bar(kline["s"], ms_to_dt(int(kline["t"])), float(kline["o"]), float(kline["h"]), float(kline["l"]),
               float(kline["c"]), float(kline["v"]), float(kline["V"]) if taker_buy is None else taker_buy,
               funding_rate)


class TakerFlow:
    """Taker buy volume per symbol and minute, summed from aggregated trades."""

    def __init__(self, keep_minutes: int = 10) -> None:
        self.keep_minutes = keep_minutes
        self._buys: dict[str, dict[int, float]] = {}

    def add(self, symbol: str, trade_ms: int, quantity: float, buyer_is_maker: bool) -> None:
        minute = trade_ms - trade_ms % MINUTE_MS
        buckets = self._buys.setdefault(symbol, {})
        # A trade whose buyer is the maker was a taker sell: it counts as zero taker buy volume,
        # but still marks the minute as observed.
        buckets[minute] = buckets.get(minute, 0.0) + (0.0 if buyer_is_maker else quantity)
        if len(buckets) > self.keep_minutes:
            for old in sorted(buckets)[: len(buckets) - self.keep_minutes]:
                del buckets[old]

    def taker_buy(self, symbol: str, minute_ms: int) -> float | None:
        """None when no trade of that minute was seen (the caller falls back to the kline's figure)."""
        return self._buys.get(symbol, {}).get(minute_ms)


class BarSequencer:
    """Per-symbol closed bars in, minute groups out, in time order.

    Per symbol a bar must follow the previous one: a duplicate or older bar is dropped, and a
    bar after a hole is reported as a gap so the caller can backfill before adding it. A
    minute's group is released when every symbol has its bar, when it has waited `wait_s`
    for stragglers, or at once when it is older than a group already released (backfill).
    """

    def __init__(self, symbols: list[str], wait_s: float) -> None:
        self.symbols = list(symbols)
        self.wait_s = wait_s
        self.last: dict[str, int] = {}
        self.dropped = 0
        self._pending: dict[int, dict[str, Bar]] = {}
        self._first_seen: dict[int, float] = {}
        self._released_upto: int | None = None

    def verdict(self, symbol: str, open_ms: int) -> str:
        """`ok` (next bar), `stale` (duplicate or out of order) or `gap` (bars missing before it)."""
        last = self.last.get(symbol)
        if last is None or open_ms == last + MINUTE_MS:
            return "ok"
        return "stale" if open_ms <= last else "gap"

    def add(self, bar: Bar, now: float) -> bool:
        """Queue a bar newer than the symbol's last one; False (and counted) when it is not."""
        open_ms = int(bar.ts.timestamp() * 1000)
        last = self.last.get(bar.symbol)
        if last is not None and open_ms <= last:
            self.dropped += 1
            return False
        self.last[bar.symbol] = open_ms
        self._pending.setdefault(open_ms, {})[bar.symbol] = bar
        self._first_seen.setdefault(open_ms, now)
        return True

    def release(self, now: float) -> list[list[Bar]]:
        out = []
        for minute in sorted(self._pending):
            group = self._pending[minute]
            complete = all(s in group for s in self.symbols)
            late = self._released_upto is not None and minute <= self._released_upto
            waited = now - self._first_seen[minute] >= self.wait_s
            if not (complete or late or waited):
                break
            out.append([group[s] for s in self.symbols if s in group])
            del self._pending[minute]
            del self._first_seen[minute]
            self._released_upto = max(minute, self._released_upto or minute)
        return out

    def next_deadline(self) -> float | None:
        """When the oldest waiting group is released even if incomplete."""
        if not self._first_seen:
            return None
        return self._first_seen[min(self._first_seen)] + self.wait_s
