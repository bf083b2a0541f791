"""Orders whose outcome is unknown freeze their symbol; start-up recovery fails closed."""
from datetime import datetime, timezone
from decimal import Decimal

from engine.events import CommandResult, EngineError, EngineState, FillEvent, OrderUpdate
from engine.model import Fill, Mode, OrderResult, Side
from engine.store import PendingOrder, RestoredState
from tests.engine.support import TESTNET_SECRETS, ExchangeStub, Harness, StoreStub, make_config
from tests.fake_binance.helpers import eventually


class UnsureExchange(ExchangeStub):
    """Fills every order, but cannot tell the first one's outcome until `known` is set."""

    def __init__(self, mode, price) -> None:
        super().__init__(mode, price)
        self.known = False
        self.lookups = 0
        self.fills: dict[str, Fill] = {}

    async def submit(self, order):
        result = await super().submit(order)
        self.fills[order.client_order_id] = result.fills[0]
        if len(self.submitted) == 1:
            return OrderResult(order, "unknown", message=f"{order.symbol}: the answer was unreadable")
        return result

    async def resolve(self, order):
        self.lookups += 1
        if not self.known:
            return OrderResult(order, "unknown", message="its outcome is unknown (no answer)")
        fill = self.fills.get(order.client_order_id)
        if fill is None:
            return OrderResult(order, "not_placed")
        return OrderResult(order, "filled", (fill,), exchange_order_id=fill.trade_id)


def harness(**kwargs):
    h = Harness(make_config(market="binance", trading_mode="testnet"), secrets=TESTNET_SECRETS, **kwargs)

    def factory(mode):
        venue = UnsureExchange(mode, h.feed.last_price)
        h.venues[mode] = venue
        return venue

    h.engine._venue_factory = factory
    return h


async def test_an_unknown_outcome_freezes_the_symbol_until_a_lookup_settles_it():
    async with harness() as h:
        venue = h.venues[Mode.TESTNET]
        await h.step_until(lambda: venue.submitted)
        first = venue.submitted[0]
        assert h.of(OrderUpdate, client_order_id=first.client_order_id)[-1].status == "unknown"
        assert first.symbol in h.engine.snapshot().state.uncertain
        assert all(f.fill.client_order_id != first.client_order_id for f in h.of(FillEvent))
        await h.step(30)
        assert [o for o in venue.submitted if o.symbol == first.symbol] == [first]  # never resent, no new order
        assert h.engine.snapshot().signals[first.symbol].status == "uncertain"
        assert any(first.symbol in s.uncertain for s in h.of(EngineState))
        venue.known = True
        await eventually(lambda: first.symbol not in h.engine.snapshot().state.uncertain, timeout=10,
                         what="the background lookup")
        booked = [f.fill for f in h.of(FillEvent) if f.fill.client_order_id == first.client_order_id]
        assert len(booked) == 1 and h.of(OrderUpdate, client_order_id=first.client_order_id)[-1].status == "filled"
        assert any(c.command == "resolve" and c.symbol == first.symbol for c in h.of(CommandResult))
        assert h.engine.snapshot().positions[first.symbol].quantity == venue.truth[first.symbol]


async def test_a_fill_the_book_already_holds_is_not_booked_again():
    async with harness() as h:
        venue = h.venues[Mode.TESTNET]
        venue.known = True
        await h.step_until(lambda: len(venue.submitted) >= 2)
        book = h.engine._book
        fill = h.of(FillEvent)[-1].fill
        held = book.portfolio.quantity(fill.symbol)
        assert h.engine._orders.book_fill(book, fill) is False
        assert book.portfolio.quantity(fill.symbol) == held


async def test_flatten_settles_an_unknown_order_first():
    async with harness() as h:
        venue = h.venues[Mode.TESTNET]
        await h.step_until(lambda: venue.submitted)
        symbol = venue.submitted[0].symbol
        venue.known = True
        result = await h.engine.flatten(symbol)
        assert result.ok, result.message
        assert symbol not in h.engine.snapshot().state.uncertain
        assert venue.truth[symbol] == 0 and h.engine.snapshot().positions.get(symbol) is None


async def test_recovery_at_start_fails_closed_and_retries_until_the_exchange_answers():
    created = datetime(2026, 1, 1, tzinfo=timezone.utc)
    pending = PendingOrder("tftold-1", "BTCUSDT", "BUY", Decimal("0.01"), False, "rebalance", created)
    store = StoreStub({"testnet": RestoredState("testnet", pending_orders=(pending,), last_fill_at=created)})
    h = harness(store=store)
    make = h.engine._venue_factory

    def factory(mode):
        venue = make(mode)
        venue.fills["tftold-1"] = Fill(mode, "BTCUSDT", Side.BUY, Decimal("0.01"), Decimal("50000"),
                                       Decimal("0.25"), "USDT", created, "tftold-1", "777", "777")
        venue.truth["BTCUSDT"] = Decimal("0.01")
        original = venue.resolve

        async def resolve(order):
            if venue.lookups >= 2:
                venue.known = True
            return await original(order)
        venue.resolve = resolve
        return venue

    h.engine._venue_factory = factory
    async with h:
        venue = h.venues[Mode.TESTNET]
        assert venue.lookups == 3  # two passes failed, the third settled it
        why = [e.message for e in h.of(EngineError) if "recovering the testnet account" in e.message]
        assert len(why) == 2 and "attempt 1" in why[0] and "tftold-1" in why[0]
        assert h.engine.snapshot().state.recovery == ""
        (fill,) = [f.fill for f in h.of(FillEvent)]
        assert fill.trade_id == "777" and h.engine.snapshot().positions["BTCUSDT"].quantity == Decimal("0.01")
        assert h.of(OrderUpdate, client_order_id="tftold-1")[-1].status == "filled"
        assert h.engine.snapshot().state.mismatched == frozenset()  # the recovered fill matches the exchange
