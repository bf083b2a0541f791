"""Testnet/live start-up recovery: the exchange's account brought into the book before any order.

In order, and failing closed (nothing is booked until every read has succeeded; on failure
the whole pass is retried with backoff while no order is sent):
1. every order the store lists as new, sent or unknown is looked up by client order id: its
   fills are booked, or it is marked not placed; one still unknown stops the pass;
2. trades of our orders since the last stored fill (per traded symbol, per symbol with an
   unsettled order, per symbol the exchange holds) are booked once, by exchange trade id;
3. funding fees the exchange settled since the last stored one are booked as they were paid.
The caller then reconciles positions.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable

from engine.book import ModeBook
from engine.events import Event
from engine.exchange_funding import book_funding
from engine.execution import OrderSender
from engine.ids import is_ours
from engine.model import Fill, FundingIncome, OrderRequest, OrderResult, Side
from engine.store import RestoredState
from engine.venues.base import ExchangeVenue

log = logging.getLogger(__name__)
FIRST_WAIT_S = 1.0
MAX_WAIT_S = 30.0


class RecoveryIncomplete(Exception):
    """A pass that could not finish; its message says what is still unknown."""


class RecoveryStopped(Exception):
    """The engine was stopped before recovery finished."""


@dataclass
class Found:
    """What one pass read from the exchange, booked only once all of it is in."""

    settled: list[tuple[OrderRequest, OrderResult, datetime]] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    funding: list[FundingIncome] = field(default_factory=list)


async def read_account(book: ModeBook, state: RestoredState) -> Found:
    venue: ExchangeVenue = book.venue  # testnet/live books hold exchange venues
    found = Found()
    for pending in state.pending_orders:
        request = OrderRequest(pending.client_order_id, pending.symbol, Side(pending.side), pending.quantity,
                               pending.reduce_only, pending.reason)
        result = await venue.resolve(request)
        if result.status == "unknown":
            raise RecoveryIncomplete(f"{pending.symbol}: order {pending.client_order_id} from the last run: "
                                     f"{result.message}")
        found.settled.append((request, result, pending.created_at))
        found.fills.extend(result.fills)
    anchors = [t for t in [state.last_fill_at] + [p.created_at for p in state.pending_orders] if t is not None]
    if anchors:
        held = await venue.positions()
        symbols = set(state.traded_symbols) | {p.symbol for p in state.pending_orders} | set(held)
        mode = book.mode.value
        found.fills.extend(await venue.fills_since(sorted(symbols), min(anchors),
                                                   lambda client_id: is_ours(client_id, mode)))
    funding_anchor = state.last_funding_at or (min(anchors) if anchors else None)
    if funding_anchor is not None:
        found.funding = await venue.funding_since(funding_anchor)
    return found


def book_found(book: ModeBook, found: Found, orders: OrderSender, publish: Callable[[Event], None],
               now: Callable[[], datetime]) -> tuple[int, int]:
    """Book one pass's findings; returns (fills booked, funding payments booked)."""
    p = book.portfolio
    before = p.realized - p.fees + p.funding
    unique = {f.trade_id: f for f in found.fills}
    booked = sum(1 for f in sorted(unique.values(), key=lambda f: (f.ts, f.trade_id)) if orders.book_fill(book, f))
    for request, result, created_at in found.settled:
        orders.publish_outcome(book, request, result, not_before=created_at)
    funding = book_funding(book, found.funding, publish)
    # The wallet the capital was derived from already held all of this: keep the equity identity.
    p.capital -= (p.realized - p.fees + p.funding) - before
    publish(book.equity_update(now()))
    return booked, funding


async def recover(book: ModeBook, state: RestoredState | None, orders: OrderSender,
                  publish: Callable[[Event], None], now: Callable[[], datetime], *,
                  report: Callable[[str], None], stopped: Callable[[], bool],
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> str:
    """Run passes until one succeeds; `report` hears why each failed ("" once done). Returns a summary."""
    if state is None:
        return "nothing stored to recover"
    wait, attempt = FIRST_WAIT_S, 0
    while True:
        attempt += 1
        try:
            found = await read_account(book, state)
        except Exception as e:  # noqa: BLE001 - any failure leaves the book untouched and is retried
            report(f"recovering the {book.mode.value} account (attempt {attempt}, next in {wait:g} s): {e}")
            if stopped():
                raise RecoveryStopped(f"stopped while recovering the {book.mode.value} account") from None
            await sleep(wait)
            if stopped():
                raise RecoveryStopped(f"stopped while recovering the {book.mode.value} account") from None
            wait = min(wait * 2, MAX_WAIT_S)
            continue
        fills, funding = book_found(book, found, orders, publish, now)
        report("")
        return (f"{book.mode.value}: recovered {len(found.settled)} unsettled order(s), {fills} fill(s) and "
                f"{funding} funding payment(s) from the exchange")
