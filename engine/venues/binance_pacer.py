"""Keeps new orders within Binance's per-account order rate (300 per 10 seconds on futures)."""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Awaitable, Callable


class OrderPacer:
    """A rolling-window gate: at most `limit` orders leave in any `window_s` seconds.

    A burst up to the limit (flatten everything) goes out at once; only the excess waits.
    """

    def __init__(self, limit: int = 300, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.limit, self.window_s = limit, window_s
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque()

    async def wait_turn(self) -> None:
        while True:
            now = self._clock()
            while self._sent and now - self._sent[0] >= self.window_s:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                self._sent.append(now)
                return
            await self._sleep(self._sent[0] + self.window_s - now)
