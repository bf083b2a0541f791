"""The settled funding rate each Binance bar carries: the last settlement at its open time.

Warm-up fills the history from `/fapi/v1/fundingRate`. Live, the mark-price stream says when
the next settlement is due (`T`) and what it is expected to be (`r`). The first bar opening at
or after that time asks the funding history for the settlement itself, which is exact. Until
the exchange has published it (usually seconds), the last estimate seen before that time
stands in for it; a few more bars ask again, and the published rate replaces the estimate.

Pure bookkeeping: the feed does the fetching.
"""
from __future__ import annotations

import bisect

from engine.feeds.binance_bars import MINUTE_MS

FUNDING_PERIOD_MS = 8 * 3_600_000  # the usual interval; the mark-price stream announces the actual one
ASKS_PER_SETTLEMENT = 5  # bars that may ask for a settlement the exchange has not published yet


class SettledFunding:
    def __init__(self) -> None:
        self._times: dict[str, list[int]] = {}
        self._rates: dict[str, list[float]] = {}
        # Per symbol: each announced settlement time not yet in the history -> its latest estimate.
        self._estimates: dict[str, dict[int, float | None]] = {}
        self._asked: dict[str, tuple[int, int]] = {}  # per symbol: (due time, how often asked)

    def last_time(self, symbol: str) -> int | None:
        times = self._times.get(symbol)
        return times[-1] if times else None

    def add(self, symbol: str, settlements: list[tuple[int, float]]) -> None:
        """Settlements (time ms, rate) from the funding history; a time already known is replaced.

        The history sometimes stamps a settlement a few milliseconds after its minute; it counts from
        the minute, so the bar opening then carries it."""
        merged = dict(zip(self._times.get(symbol, []), self._rates.get(symbol, [])))
        merged.update((t - t % MINUTE_MS, rate) for t, rate in settlements)
        times = sorted(merged)
        self._times[symbol], self._rates[symbol] = times, [merged[t] for t in times]
        last = times[-1] if times else None
        if last is not None:
            estimates = self._estimates.get(symbol, {})
            for t in [t for t in estimates if t <= last]:
                del estimates[t]

    def note_mark(self, symbol: str, next_funding_ms: int, estimate: float | None) -> None:
        """A mark-price update: the next settlement time and the current estimate of its rate."""
        last = self.last_time(symbol)
        if last is not None and next_funding_ms <= last:
            return
        estimates = self._estimates.setdefault(symbol, {})
        if estimate is not None or next_funding_ms not in estimates:
            estimates[next_funding_ms] = estimate

    def due(self, symbol: str) -> int | None:
        """The earliest settlement time not yet known, if the exchange should have published it by now."""
        last = self.last_time(symbol)
        if last is None:
            return None
        announced = [t for t in self._estimates.get(symbol, {}) if t > last]
        return min(announced) if announced else last + FUNDING_PERIOD_MS

    def should_ask(self, symbol: str, open_ms: int) -> bool:
        """Whether the bar opening at `open_ms` must ask the funding history first."""
        due = self.due(symbol)
        if due is None or open_ms < due:
            return False
        at, count = self._asked.get(symbol, (due, 0))
        if at != due:
            count = 0
        if count >= ASKS_PER_SETTLEMENT:
            return False
        self._asked[symbol] = (due, count + 1)
        return True

    def rate_at(self, symbol: str, open_ms: int) -> float:
        """The settled rate in force at `open_ms`; the first known rate before the first settlement; 0
        with no history. A settlement not yet published counts at its last estimate."""
        times, rates = self._times.get(symbol, []), self._rates.get(symbol, [])
        estimates = self._estimates.get(symbol, {})
        estimated = [t for t, r in estimates.items() if r is not None and t <= open_ms and (not times or t > times[-1])]
        if estimated:
            return estimates[max(estimated)]
        if not times:
            return 0.0
        i = bisect.bisect_right(times, open_ms) - 1
        return rates[max(i, 0)]
