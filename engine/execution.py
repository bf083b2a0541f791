"""Sending one order: its intent made durable first, then the venue, then the fills into the book.

Every step is published: OrderUpdate `new` before the order leaves, then its outcome, each fill
(with the PnL our book realized on it) and the position it leaves. A real order leaves only
once the bus has committed its intent to the ledger; a paper order cannot outlive the
process that simulates it, so its intent is committed with the minute. A venue failure
becomes an `error` outcome and an EngineError naming the symbol; it never escapes. An
`unknown` outcome freezes the symbol (see engine.uncertain) until a lookup settles it; it is
never resent. A trade the book already holds (by exchange trade id) is never booked again.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Awaitable, Callable

from engine.book import ModeBook
from engine.events import CommandResult, Event, FillEvent, OrderUpdate
from engine.ids import OrderIds
from engine.model import Fill, Mode, OrderRequest, OrderResult
from engine.sizing import Plan, PlannedOrder
from engine.uncertain import UncertainOrders, Unresolved
from engine.venues.base import VenueError

log = logging.getLogger(__name__)


class OrderSender:
    def __init__(self, publish: Callable[[Event], None], error: Callable[[str, str], None],
                 commit: Callable[[], Awaitable[None]], ledger_problem: Callable[[], str], ids: OrderIds,
                 market_time: Callable[[], datetime], uncertain_changed: Callable[[], None] = lambda: None,
                 fill_booked: Callable[[ModeBook], None] = lambda book: None) -> None:
        self._publish = publish
        self._error = error
        self._commit = commit
        self._ledger_problem = ledger_problem
        self._ids = ids
        self._now = market_time
        self.uncertain = UncertainOrders(self._settle, uncertain_changed)
        self._fill_booked = fill_booked

    async def send(self, book: ModeBook, symbol: str, planned: PlannedOrder, reason: str, price: Decimal,
                   factor: float | None = None) -> OrderResult:
        mode = book.mode
        if symbol in self.uncertain:
            settled = await self.uncertain.try_symbol(symbol)
            # The plan was made on a book the settled order may have changed: plan again next bar.
            # A flatten goes on: reduce-only closes cannot overshoot, and it re-reads the positions.
            if reason != "flatten":
                why = "was settled just now" if settled else "is still unknown"
                return OrderResult(OrderRequest("", symbol, planned.side, planned.quantity, planned.reduce_only,
                                                reason, mark_price=price), "skipped",
                                   message=f"{symbol}: not sent: an earlier order's outcome {why}")
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
            # The order may have reached an exchange: settle it by lookup rather than risk sending it twice.
            status = "unknown" if getattr(book.venue, "resolve", None) is not None else "error"
            result = OrderResult(request, status, message=f"{symbol}: {type(e).__name__}: {e}")
        for fill in result.fills:
            self._book_fill(book, fill, factor)
        self._publish(OrderUpdate(mode, new.client_order_id, symbol, new.side, new.quantity, result.status,
                                  new.reduce_only, reason, self._now(), result.exchange_order_id, result.message))
        if result.status in ("rejected", "error") and reason != "flatten":  # a flatten shows its own progress
            self._error(result.message or f"{symbol}: order {result.status}", symbol)
        elif result.status == "unknown":
            self.uncertain.add(Unresolved(book, request, factor))
            self._error(f"{result.message or symbol + ': order outcome unknown'}; no new order for {symbol} until "
                        f"Binance confirms order {request.client_order_id}", symbol)
        return result

    def _settle(self, entry: Unresolved, result: OrderResult) -> None:
        """A lookup told us what became of an order whose outcome was unknown."""
        for fill in result.fills:
            self._book_fill(entry.book, fill, entry.factor)
        self.publish_outcome(entry.book, entry.request, result)

    def publish_outcome(self, book: ModeBook, request: OrderRequest, result: OrderResult,
                        not_before: datetime | None = None) -> None:
        """The final status of an order settled after the fact (its fills are booked by the caller).

        It is stamped no earlier than `not_before` (the order's own time), so it supersedes the
        order's earlier status whatever clock that one was stamped with.
        """
        ts = self._now() if not_before is None else max(self._now(), not_before)
        self._publish(OrderUpdate(book.mode, request.client_order_id, request.symbol, request.side.value,
                                  request.quantity, result.status, request.reduce_only, request.reason, ts,
                                  result.exchange_order_id, result.message))
        what = f"filled {result.filled_qty:f}" if result.fills else result.status.replace("_", " ")
        self._publish(CommandResult("resolve", True, f"{request.symbol}: order {request.client_order_id} resolved: "
                                                     f"{what}", request.symbol))

    def book_fill(self, book: ModeBook, fill: Fill, factor: float | None = None) -> bool:
        """Book a fill learnt outside an order's own answer (recovery, the user-data stream); False if
        the book already holds it."""
        return self._book_fill(book, fill, factor)

    def _book_fill(self, book: ModeBook, fill: Fill, factor: float | None) -> bool:
        if not book.claim_trade(fill):
            log.info("%s: trade %s is already booked; not counted again", fill.symbol, fill.trade_id)
            return False
        realized = book.portfolio.apply_fill(fill)
        # The PnL our book realized (the same arithmetic for every venue) and the factor behind it.
        event = FillEvent(Fill(fill.mode, fill.symbol, fill.side, fill.quantity, fill.price, fill.fee, fill.fee_asset,
                               fill.ts, fill.client_order_id, fill.trade_id, fill.exchange_order_id, fill.is_maker,
                               realized, factor))
        book.fills.append(event)
        self._publish(event)
        self._publish(book.position_update(fill.symbol, self._now()))
        self._fill_booked(book)
        return True

    def report_skip(self, book: ModeBook, symbol: str, plan: Plan) -> None:
        """A wanted order the exchange would refuse (below its minimum): reported, never sent."""
        self._publish(OrderUpdate(book.mode, self._ids.next(book.mode.value), symbol, plan.skipped_side.value,
                                  plan.skipped_quantity, "skipped", False, "rebalance", self._now(),
                                  message=plan.skipped))
