"""Binance's request-weight budget, spent per rolling minute.

ccxt's own rolling window rescans its whole history and releases one request per event-loop
turn; a flatten of fifty positions would queue behind that. This one keeps a running total.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Callable


class WeightBudget:
    """At most `per_window` weight in any `window_s` seconds; a burst within it goes at once."""

    def __init__(self, per_window: float, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_window, self.window_s, self._clock = per_window, window_s, clock
        self._spent: deque[tuple[float, float]] = deque()
        self._total = 0.0

    def _expire(self, now: float) -> None:
        while self._spent and now - self._spent[0][0] >= self.window_s:
            self._total -= self._spent.popleft()[1]

    def try_take(self, cost: float, keep: float = 0.0) -> bool:
        """Spend `cost` now if it fits with `keep` to spare, without waiting; False when it does not."""
        now = self._clock()
        self._expire(now)
        if self._total + cost + keep > self.per_window:
            return False
        self._spent.append((now, cost))
        self._total += cost
        return True

    async def __call__(self, cost: float | None = None) -> None:
        cost = 1.0 if cost is None else float(cost)
        while True:
            now = self._clock()
            self._expire(now)
            if self._total + cost <= self.per_window or not self._spent:
                if cost:
                    self._spent.append((now, cost))
                    self._total += cost
                return
            await asyncio.sleep(self._spent[0][0] + self.window_s - now)
