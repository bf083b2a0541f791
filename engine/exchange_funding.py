"""Testnet/live funding: what the exchange itself settled, read from its income history.

Paper computes funding from the rate; a real account is charged by Binance, whose amount is
the truth. Shortly after each funding time the fees it settled are read and booked once (the
book remembers the newest one it holds, restored from the store at start).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal
from typing import Awaitable, Callable

from engine.book import ModeBook
from engine.events import Event, FundingPayment
from engine.model import FundingIncome
from engine.tasks import cancel_and_wait

log = logging.getLogger(__name__)
FIRST_WAIT_S = 5.0  # Binance lists the fees a few seconds after the funding time
TRIES = 6
ZERO = Decimal(0)


def book_funding(book: ModeBook, incomes: list[FundingIncome], publish: Callable[[Event], None]) -> int:
    """Book the fees newer than the newest one the book holds; returns how many were booked."""
    p = book.portfolio
    booked = 0
    for income in sorted(incomes, key=lambda i: (i.ts, i.symbol)):
        if book.last_funding_at is not None and income.ts <= book.last_funding_at:
            continue
        pos = p.positions.get(income.symbol)
        p.book_funding(income.amount)
        # The exchange's own amount; the rate it applied is not part of its income history.
        publish(FundingPayment(book.mode, income.symbol, income.ts, ZERO, p.quantity(income.symbol),
                               pos.mark if pos else ZERO, income.amount))
        booked += 1
    if booked:
        book.last_funding_at = max(i.ts for i in incomes)
    return booked


class ExchangeFunding:
    def __init__(self, publish: Callable[[Event], None], now: Callable[[], datetime], *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, first_wait_s: float = FIRST_WAIT_S,
                 tries: int = TRIES) -> None:
        self._publish, self._now, self._sleep = publish, now, sleep
        self._first_wait_s, self._tries = first_wait_s, tries
        self._tasks: set[asyncio.Task] = set()

    def due(self, book: ModeBook, funding_time: datetime) -> None:
        """A funding time has passed: collect what the exchange settled for it, in the background."""
        if not book.portfolio.open_positions():
            return  # nothing held, nothing charged
        task = asyncio.ensure_future(self._collect(book, funding_time))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _collect(self, book: ModeBook, funding_time: datetime) -> None:
        wait = self._first_wait_s
        for _ in range(self._tries):
            await self._sleep(wait)
            wait *= 2
            try:
                incomes = await book.venue.funding_since(book.last_funding_at or funding_time)
            except Exception as e:  # noqa: BLE001 - read again on the next try
                log.warning("reading the %s funding income failed: %s", book.mode.value, e)
                continue
            if book_funding(book, incomes, self._publish):
                self._publish(book.equity_update(self._now()))
            if book.last_funding_at is not None and book.last_funding_at >= funding_time:
                return

    async def close(self) -> None:
        await cancel_and_wait(*self._tasks)
