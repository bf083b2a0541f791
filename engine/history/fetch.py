"""`trifactor data fetch`: Binance USDⓈ-M 1-minute history into the local history directory.

The raw klines endpoint (through ccxt) carries the taker-buy volume that `fetch_ohlcv` drops;
pages of 1500 bars, spaced by the client's weight budget (ccxt's costs are Binance's weights),
retried when Binance asks us to wait. Each symbol resumes after the newest bar it already has
(and fetches what lies before the oldest, when asked to start earlier). A month is written when
its bars are in, so an interrupted fetch keeps every finished month and redoes only the rest.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from engine.config import Config
from engine.exchange import create_client
from engine.exchange_errors import RetryPolicy
from engine.feeds.base import FeedError
from engine.feeds.binance_funding import SettledFunding
from engine.feeds.binance_history import BinanceHistory
from engine.history.files import MINUTE_MS, HistoryDir, find_gaps, month_of, month_start_ms, next_month

log = logging.getLogger("trifactor.history")


@dataclass
class Fetched:
    symbol: str
    bars: int = 0
    months: list[str] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # in what was fetched now


def _replay_row(symbol: str, row: list, rate: float) -> list:
    # The exchange's own decimal strings, as sent: the replay reader parses them as Python floats.
    return [int(row[0]), symbol, row[1], row[2], row[3], row[4], row[5], row[9], repr(rate)]


async def fetch(config: Config, symbols: list[str], start_ms: int, end_ms: int, target: HistoryDir, *,
                retry: RetryPolicy = RetryPolicy(), progress: Callable[[str, int, int], None] | None = None
                ) -> list[Fetched]:
    """Bars opening in [start_ms, end_ms] (minute-aligned) for each symbol, resumed where the directory stops."""
    client = create_client(config)
    history = BinanceHistory(client, retry)
    try:
        await history.call("Binance", "loading markets", client.load_markets)
        listed = {m["id"] for m in client.markets.values() if m.get("linear") and m.get("swap")
                  and m["info"].get("contractType") == "PERPETUAL"}
        unknown = [s for s in symbols if s not in listed]
        if unknown:
            raise FeedError(f"{unknown[0]} is not a USDⓈ-M perpetual listed on Binance")
        server = await history.call("Binance", "reading the server time", client.fapiPublicGetTime)
        last_closed = (int(server["serverTime"]) // MINUTE_MS - 1) * MINUTE_MS
        end_ms = min(end_ms, last_closed)
        out = []
        for symbol in symbols:
            out.append(await _fetch_symbol(history, symbol, start_ms, end_ms, target, progress))
        return out
    finally:
        await client.close()


def _missing_ranges(have: list[int], start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    if not have:
        return [(start_ms, end_ms)] if start_ms <= end_ms else []
    ranges = []
    if start_ms < have[0]:
        ranges.append((start_ms, min(end_ms, have[0] - MINUTE_MS)))
    if end_ms > have[-1]:
        ranges.append((max(start_ms, have[-1] + MINUTE_MS), end_ms))
    return [(a, b) for a, b in ranges if a <= b]


async def _fetch_symbol(history: BinanceHistory, symbol: str, start_ms: int, end_ms: int, target: HistoryDir,
                        progress) -> Fetched:
    result = Fetched(symbol)
    ranges = _missing_ranges(target.open_times(symbol), start_ms, end_ms)
    total = sum((b - a) // MINUTE_MS + 1 for a, b in ranges)
    done = 0
    for first, last in ranges:
        settlements = dict(target.read_funding(symbol))
        settlements.update(await history.funding(symbol, first, last))
        target.write_funding(symbol, list(settlements.items()))
        known = sorted(settlements.items())
        month = month_of(first)
        fetched_times: list[int] = []
        while month_start_ms(month) <= last:
            lo = max(first, month_start_ms(month))
            hi = min(last, month_start_ms(next_month(month)) - MINUTE_MS)
            rows = [r for r in await history.between(symbol, lo, hi) if lo <= int(r[0]) <= hi]
            if rows:
                opens = [int(r[0]) for r in rows]
                settled = SettledFunding()
                settled.add(symbol, known)
                new = [_replay_row(symbol, r, settled.rate_at(symbol, t)) for r, t in zip(rows, opens)]
                kept = {int(r[0]): r for r in target.read_month(symbol, month)}
                kept.update({r[0]: r for r in new})
                target.write_month(symbol, month, [kept[t] for t in sorted(kept)])
                result.months.append(month)
                result.bars += len(rows)
                fetched_times += opens
            done += (hi - lo) // MINUTE_MS + 1
            if progress is not None:
                progress(symbol, done, total)
            month = next_month(month)
        result.gaps += _gaps_within(fetched_times, first, last)
    return result


def _gaps_within(times: list[int], first: int, last: int) -> list[tuple[int, int]]:
    """Missing minutes in [first, last] of what the exchange sent (its own holes, or before the listing)."""
    if not times:
        return [(first, last)]
    gaps = find_gaps(times)
    if times[0] > first:
        gaps.insert(0, (first, times[0] - MINUTE_MS))
    if times[-1] < last:
        gaps.append((times[-1] + MINUTE_MS, last))
    return gaps

