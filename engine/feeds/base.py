"""What the engine needs from a market data source."""
from __future__ import annotations

from typing import AsyncIterator, Protocol

from engine.model import Bar, Instrument


class FeedError(Exception):
    """A market data problem worth telling the operator about (names the symbol).

    `transient`: time may fix it (network, timeout, 5xx, rate limit), so a start may retry it.
    """

    def __init__(self, message: str, *, transient: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class Feed(Protocol):
    name: str  # "sim", "binance", "replay"

    @property
    def status(self) -> str:
        """connecting, live, reconnecting, stale or stopped."""

    async def start(self) -> dict[str, Instrument]:
        """Connect, resolve the universe and return its instruments."""

    async def warmup(self, symbol: str, bars: int) -> list[Bar]:
        """Closed history, oldest first, at most `bars` long."""

    def stream(self) -> AsyncIterator[list[Bar]]:
        """Closed bars as they close: each item holds the bars of one minute, in time order.

        Duplicates and out-of-order bars are dropped here; gaps are backfilled.
        """

    def last_price(self, symbol: str) -> float | None:
        """Latest known price, used to mark positions and price paper fills."""

    async def close(self) -> None: ...
