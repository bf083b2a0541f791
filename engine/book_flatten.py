"""A flatten of one mode's book, as the engine's operator and the offline `trifactor flatten`
both run it: closes of what the book holds through the caller's order path, and afterwards
the venue's answer booked as the truth."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Awaitable, Callable

from engine.book import ModeBook
from engine.events import FlattenProgress
from engine.flatten import Backoff, FlattenRun
from engine.model import OrderResult
from engine.sizing import PlannedOrder, close_order

SendOrder = Callable[[ModeBook, str, PlannedOrder, str, Decimal], Awaitable[OrderResult]]


def book_flatten(book: ModeBook, symbol: str | None, send: SendOrder, price_of: Callable[[str], Decimal],
                 show: Callable[[FlattenProgress], None], backoff: Backoff) -> FlattenRun:
    """The flatten of `symbol` (None: everything) in `book`: each close a reduce-only order."""
    def close(s: str, quantity: Decimal) -> Awaitable[OrderResult]:
        return send(book, s, close_order(quantity), "flatten", price_of(s))

    guess = {s: p.quantity for s, p in book.portfolio.open_positions().items()}
    return FlattenRun(book.venue, symbol, guess, close, show, backoff=backoff)


def settle_flat_book(book: ModeBook, wanted: Callable[[str], bool], venue_open: dict[str, Decimal], ts: datetime,
                     publish: Callable, report: Callable[[str, str], None]) -> None:
    """After a flatten whose last read succeeded, a symbol the venue reports flat is flat in the
    book too (a close made elsewhere, or a fill we never heard of)."""
    for symbol, pos in list(book.portfolio.open_positions().items()):
        if wanted(symbol) and symbol not in venue_open:
            report(f"{symbol}: the venue reports flat while our book held {pos.quantity:f}; booked as flat", symbol)
            book.portfolio.adopt(symbol, Decimal(0), Decimal(0))
            publish(book.position_update(symbol, ts))
