"""The direct flatten (no engine running) on a book: the engine's flatten, its closes through the
engine's order path into the book, and, once it has to wait, its progress as the engine's lines."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from decimal import Decimal

from engine.book import ModeBook
from engine.events import EventBus, FillEvent, OrderUpdate, PositionUpdate
from engine.flatten import Backoff
from engine.flatten_offline import flatten_book
from engine.model import Fill, Mode, OrderRequest, OrderResult, VenuePosition
from engine.portfolio import Portfolio
from engine.risk import Breakers
from engine.venues.base import VenueError
from tests.engine.support import GUARD

D = Decimal
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
QUICK = Backoff(first_s=0.1, max_s=0.2)


class Rejected(VenueError):
    permanent = True


class ScriptedVenue:
    """Positions that only our closes change; the first `send_failures` orders get no answer and,
    as on Binance, a reduce-only order that would not reduce is rejected."""

    mode = Mode.TESTNET

    def __init__(self, held: dict[str, str], send_failures: int = 0) -> None:
        self.held = {s: D(q) for s, q in held.items()}
        self.send_failures = send_failures
        self.orders: list[OrderRequest] = []
        self.read_error: BaseException | None = None

    async def positions(self) -> dict[str, VenuePosition]:
        if self.read_error is not None:
            raise self.read_error
        return {s: VenuePosition(s, q, D(100)) for s, q in self.held.items() if q}

    async def cancel_all(self, symbol=None) -> None:
        pass

    def rate_limited_for(self) -> float:
        return 0.0

    async def submit(self, order: OrderRequest) -> OrderResult:
        self.orders.append(order)
        if self.send_failures:
            self.send_failures -= 1
            return OrderResult(order, "error", message=f"{order.symbol}: Binance is unavailable (HTTP 503)")
        held = self.held.get(order.symbol, D(0))
        if not held or (held > 0) == (order.side.sign > 0):
            return OrderResult(order, "rejected", message=f"{order.symbol}: reduce-only order rejected")
        self.held[order.symbol] += order.quantity * order.side.sign
        fill = Fill(self.mode, order.symbol, order.side, order.quantity, D(100), D(0), "USDT", NOW,
                    order.client_order_id, f"t-{order.client_order_id}")
        return OrderResult(order, "filled", (fill,))


async def flatten(venue: ScriptedVenue, book_holds: dict[str, str], symbol=None):
    book = ModeBook(Mode.TESTNET, venue, Portfolio(Mode.TESTNET, D(1000)), Breakers(0, 0), 5)
    for s, qty in book_holds.items():
        book.portfolio.adopt(s, D(qty), D(100))
    bus, lines = EventBus(), []
    events = bus.subscribe("test", coalesce=False, maxsize=10**6)
    outcome = await asyncio.wait_for(flatten_book(book, symbol, {}, lambda: NOW, bus, lines.append, QUICK), GUARD)
    await bus.commit()
    return outcome, book, lines, events.drain()


async def test_closes_go_through_the_order_path_into_the_book_and_print_the_engines_lines():
    venue = ScriptedVenue({"BTCUSDT": "0.5", "ETHUSDT": "-2"}, send_failures=2)
    outcome, book, lines, events = await flatten(venue, {"BTCUSDT": "0.5", "ETHUSDT": "-2"})
    assert outcome.ok and outcome.message == "flat: 2 position(s) closed (after 2 attempts)"
    assert outcome.details == {"BTCUSDT": "closed 0.5", "ETHUSDT": "closed 2"}
    assert venue.held == {"BTCUSDT": 0, "ETHUSDT": 0} and book.portfolio.open_positions() == {}
    assert all(o.reduce_only and o.reason == "flatten" for o in venue.orders) and len(venue.orders) == 4
    filled = [e for e in events if isinstance(e, OrderUpdate) and e.status == "filled"]
    assert sorted(e.symbol for e in filled) == ["BTCUSDT", "ETHUSDT"]
    assert sorted(e.fill.symbol for e in events if isinstance(e, FillEvent)) == ["BTCUSDT", "ETHUSDT"]
    btc = [line for line in lines if line.startswith("flatten BTCUSDT:")]
    assert btc[0].startswith("flatten BTCUSDT: attempt 1 did not finish; next try in 0.1 s (last error: BTCUSDT: "
                             "Binance is unavailable (HTTP 503))")
    assert btc[-1] == "flatten BTCUSDT: flat after 2 attempt(s)"
    assert not any("closing" in line for line in lines)  # the wait announced the retry
    quick = ScriptedVenue({"BTCUSDT": "0.5"})
    outcome, _, lines, _ = await flatten(quick, {"BTCUSDT": "0.5"})
    assert outcome.ok and lines == []  # what went through at once is in the answer alone


async def test_what_the_venue_confirms_flat_is_flat_in_the_book_but_a_failed_read_changes_nothing():
    venue = ScriptedVenue({"ETHUSDT": "1"})  # BTCUSDT was closed elsewhere
    outcome, book, _, events = await flatten(venue, {"BTCUSDT": "0.5", "ETHUSDT": "1"})
    assert outcome.ok and book.portfolio.open_positions() == {}
    assert [o.symbol for o in venue.orders] == ["BTCUSDT", "ETHUSDT"]  # the BTCUSDT close found nothing to reduce
    assert any(isinstance(e, PositionUpdate) and e.symbol == "BTCUSDT" and e.quantity == 0 for e in events)

    refused = ScriptedVenue({})
    refused.read_error = Rejected("Binance: reading positions failed: API key rejected")
    outcome, book, lines, _ = await flatten(refused, {"BTCUSDT": "0.5"})
    assert outcome.state == "failed" and not outcome.confirmed
    assert outcome.message.startswith("flatten stopped: Binance: reading positions failed: API key rejected; "
                                      "retrying cannot fix this; 1 position(s) still open: BTCUSDT")
    assert book.portfolio.quantity("BTCUSDT") == D("0.5") and lines == []


async def test_one_symbol_leaves_the_others_in_the_venue_and_the_book():
    venue = ScriptedVenue({"BTCUSDT": "0.5", "ETHUSDT": "1"})
    outcome, book, _, _ = await flatten(venue, {"BTCUSDT": "0.5", "ETHUSDT": "1"}, symbol="ETHUSDT")
    assert outcome.ok and venue.held == {"BTCUSDT": D("0.5"), "ETHUSDT": 0}
    assert book.portfolio.open_positions().keys() == {"BTCUSDT"}
