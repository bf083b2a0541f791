"""Sending one order: its intent made durable first, then the venue, then the fills into the book.

Every step is published: OrderUpdate `new` before the order leaves, then its outcome, each fill
(with the PnL our book realized on it) and the position it leaves. A real order leaves only
once the bus has committed its intent to the ledger; a paper order cannot outlive the
process that simulates it, so its intent is committed with the minute. A venue failure
becomes an `error` outcome and an EngineError naming the symbol; it never escapes.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Awaitable, Callable

from engine.book import ModeBook
from engine.events import Event, FillEvent, OrderUpdate
from engine.ids import OrderIds
from engine.model import Fill, Mode, OrderRequest, OrderResult
from engine.sizing import Plan, PlannedOrder
from engine.venues.base import VenueError

log = logging.getLogger(__name__)


class OrderSender:
    def __init__(self, publish: Callable[[Event], None], error: Callable[[str, str], None],
                 commit: Callable[[], Awaitable[None]], ledger_problem: Callable[[], str], ids: OrderIds,
                 market_time: Callable[[], datetime]) -> None:
        self._publish = publish
        self._error = error
        self._commit = commit
        self._ledger_problem = ledger_problem
        self._ids = ids
        self._now = market_time

    async def send(self, book: ModeBook, symbol: str, planned: PlannedOrder, reason: str, price: Decimal,
                   factor: float | None = None) -> OrderResult:
        mode = book.mode
        request = OrderRequest(self._ids.next(mode.value), symbol, planned.side, planned.quantity,
                               planned.reduce_only, reason, mark_price=price)
        new = OrderUpdate(mode, request.client_order_id, symbol, planned.side.value, planned.quantity, "new",
                          planned.reduce_only, reason, self._now())
        problem = self._ledger_problem()
        if problem and not planned.reduce_only:  # no durable intent, no new risk
            message = f"{symbol}: order not sent, its intent could not be made durable: {problem}"
            self._publish(replace(new, status="error", message=message))
            self._error(message, symbol)
            return OrderResult(request, "error", message=message)
        if problem:
            self._error(f"{symbol}: closing anyway; the ledger cannot record it: {problem}", symbol)
        self._publish(new)
        if mode is not Mode.PAPER:
            await self._commit()  # reducing risk goes out even if the ledger has a problem
        try:
            result = await book.venue.submit(request)
        except VenueError as e:
            result = OrderResult(request, "error", message=str(e))
        except Exception as e:  # noqa: BLE001 - a venue bug must not kill the loop
            log.exception("order submission failed")
            result = OrderResult(request, "error", message=f"{symbol}: {type(e).__name__}: {e}")
        for fill in result.fills:
            self._book_fill(book, fill, factor)
        self._publish(OrderUpdate(mode, new.client_order_id, symbol, new.side, new.quantity, result.status,
                                  new.reduce_only, reason, self._now(), result.exchange_order_id, result.message))
        if result.status in ("rejected", "error"):
            self._error(result.message or f"{symbol}: order {result.status}", symbol)
        return result

    def _book_fill(self, book: ModeBook, fill: Fill, factor: float | None) -> None:
        realized = book.portfolio.apply_fill(fill)
        # The PnL our book realized (the same arithmetic for every venue) and the factor behind it.
        event = FillEvent(Fill(fill.mode, fill.symbol, fill.side, fill.quantity, fill.price, fill.fee, fill.fee_asset,
                               fill.ts, fill.client_order_id, fill.trade_id, fill.exchange_order_id, fill.is_maker,
                               realized, factor))
        book.fills.append(event)
        self._publish(event)
        self._publish(book.position_update(fill.symbol, self._now()))

    def report_skip(self, book: ModeBook, symbol: str, plan: Plan) -> None:
        """A wanted order the exchange would refuse (below its minimum): reported, never sent."""
        self._publish(OrderUpdate(book.mode, self._ids.next(book.mode.value), symbol, plan.skipped_side.value,
                                  plan.skipped_quantity, "skipped", False, "rebalance", self._now(),
                                  message=plan.skipped))
