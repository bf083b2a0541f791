"""Binance USDⓈ-M history over REST: raw klines (with taker-buy volume) and settled funding.

Paginated, retried as the policy allows, checked for shape; failures become FeedErrors that
name the symbol.
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable

import ccxt

from engine.exchange import BinanceClient
from engine.exchange_errors import RetryPolicy, describe, is_transient, retry_after, with_retries
from engine.feeds.base import FeedError
from engine.feeds.binance_bars import MINUTE_MS
from engine.feeds.binance_funding import FUNDING_PERIOD_MS

log = logging.getLogger("trifactor.feed.binance")
KLINES_PER_REQUEST = 1500
FUNDING_PER_REQUEST = 1000


class BinanceHistory:
    def __init__(self, client: BinanceClient, retry: RetryPolicy) -> None:
        self.client = client
        self.retry = retry

    async def call(self, subject: str, what: str, call: Callable[[], Awaitable]) -> object:
        def note(exc: BaseException, wait: float) -> None:
            log.warning("%s: %s: %s; retrying in %.1f s", subject, what, describe(exc), wait)
        try:
            return await with_retries(call, self.retry, on_retry=note)
        except ccxt.BaseError as e:
            raise FeedError(f"{subject}: {what} failed: {describe(e)}", transient=is_transient(e),
                            retry_after=retry_after(e)) from None

    async def klines(self, symbol: str, **window: int) -> list[list]:
        params = {"symbol": symbol, "interval": "1m", **window}
        rows = await self.call(symbol, "fetching klines", lambda: self.client.fapiPublicGetKlines(params))
        if not isinstance(rows, list) or any(not isinstance(r, list) or len(r) < 10 for r in rows):
            raise FeedError(f"{symbol}: Binance answered with something other than klines")
        return rows

    async def latest(self, symbol: str, count: int, last_open_ms: int) -> list[list]:
        """Up to `count` rows ending with the bar opening at `last_open_ms`, newest page first."""
        rows: list[list] = []
        end = last_open_ms
        while len(rows) < count:
            want = min(KLINES_PER_REQUEST, count - len(rows))
            page = [r for r in await self.klines(symbol, endTime=end, limit=want) if int(r[0]) <= end]
            rows = page + rows
            if len(page) < want:
                break  # the listing is younger than that
            end = int(page[0][0]) - MINUTE_MS
        return rows

    async def between(self, symbol: str, first_ms: int, last_ms: int) -> list[list]:
        """Rows of the bars opening in [first_ms, last_ms], oldest page first."""
        rows: list[list] = []
        start = first_ms
        while start <= last_ms:
            page = await self.klines(symbol, startTime=start, endTime=last_ms, limit=KLINES_PER_REQUEST)
            rows += page
            if len(page) < KLINES_PER_REQUEST:
                break
            start = int(page[-1][0]) + MINUTE_MS
        return rows

    async def funding(self, symbol: str, first_ms: int, last_ms: int) -> list[tuple[int, float]]:
        """Settlements from the one in force at `first_ms` through `last_ms`: (time, rate)."""
        start = first_ms - FUNDING_PERIOD_MS
        rows: list[dict] = []
        while start <= last_ms:
            params = {"symbol": symbol, "startTime": start, "endTime": last_ms, "limit": FUNDING_PER_REQUEST}
            page = await self.call(symbol, "fetching funding history",
                                   lambda: self.client.fapiPublicGetFundingRate(params))
            rows += page
            if len(page) < FUNDING_PER_REQUEST:
                break
            start = int(page[-1]["fundingTime"]) + 1
        try:
            return [(int(r["fundingTime"]), float(r["fundingRate"])) for r in rows]
        except (KeyError, TypeError, ValueError):
            raise FeedError(f"{symbol}: Binance sent a malformed funding history") from None
