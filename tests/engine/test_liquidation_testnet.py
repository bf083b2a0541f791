"""Testnet positions carry the exchange's liquidation price: positionRisk through the real ccxt
from the fake Binance, into the engine's position updates, refreshed at each reconciliation."""
from datetime import datetime, timezone
from decimal import Decimal

from engine.book import ModeBook
from engine.events import PositionUpdate
from engine.liquidation import liquidation_price
from engine.model import Mode, VenuePosition
from engine.portfolio import Portfolio
from engine.risk import Breakers
from tests.engine.support import GUARD
from tests.engine.test_flatten_e2e import engine_with_positions
from tests.fake_binance.helpers import eventually

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
HELD = {"BTCUSDT": "0.020", "ETHUSDT": "-0.50"}


def latest_positions(events, seen: dict[str, PositionUpdate]) -> dict[str, PositionUpdate]:
    for e in events.drain():
        if isinstance(e, PositionUpdate):
            seen[e.symbol] = e
    return seen


async def test_the_exchanges_liquidation_price_reaches_the_position_updates_and_follows_it():
    async with engine_with_positions(symbols=list(HELD), held=HELD,
                                     exchange={"reconcile_interval_s": 1}) as (engine, fake, events):
        seen = latest_positions(events, {})
        for symbol in HELD:
            pos = fake.account.positions[symbol]
            exchange_figure = pos.liquidation_price()
            assert exchange_figure > 0
            update = seen[symbol]
            assert update.quantity == pos.quantity
            assert update.liquidation_price == exchange_figure
            # the fake's flat maintenance rate is not Binance's brackets: the figure is the exchange's
            assert update.liquidation_price != liquidation_price(symbol, pos.quantity, pos.entry_price,
                                                                 update.leverage)
        assert engine.snapshot().positions["BTCUSDT"].liquidation_price == seen["BTCUSDT"].liquidation_price

        # The exchange's figure moves (here: its entry price); the next reconciliation publishes it.
        btc = fake.account.positions["BTCUSDT"]
        fake.set_position("BTCUSDT", btc.quantity, entry_price=btc.entry_price * Decimal("1.1"))
        moved = btc.liquidation_price()
        await eventually(lambda: latest_positions(events, seen)["BTCUSDT"].liquidation_price == moved, GUARD,
                         "the moved liquidation price")


def test_a_figure_read_for_another_quantity_is_not_shown():
    book = ModeBook(Mode.TESTNET, None, Portfolio(Mode.TESTNET, Decimal(1000)), Breakers(0, 0), 5)
    book.portfolio.adopt("BTCUSDT", Decimal("0.02"), Decimal(50000))
    read = {"BTCUSDT": VenuePosition("BTCUSDT", Decimal("0.02"), Decimal(50000), 5, {"liquidationPrice": "40250.1"}),
            "ETHUSDT": VenuePosition("ETHUSDT", Decimal("1"), Decimal(2500), 5, {"liquidationPrice": "0"})}
    assert book.note_venue_positions(read) == ["BTCUSDT"]  # changed: its update is published again
    assert book.position_update("BTCUSDT", T0).liquidation_price == Decimal("40250.1")
    assert book.note_venue_positions(read) == []  # the same figure: nothing to publish
    book.portfolio.adopt("BTCUSDT", Decimal("0.03"), Decimal(50000))  # a fill moved the position on
    assert book.position_update("BTCUSDT", T0).liquidation_price is None
    assert book.venue_liquidation.keys() == {"BTCUSDT"}  # Binance's 0 means "cannot be liquidated"


async def test_a_fill_brings_the_new_quantitys_liquidation_price_without_waiting_for_a_reconciliation():
    from engine.model import Side
    from engine.sizing import PlannedOrder

    async with engine_with_positions(symbols=list(HELD), held=HELD,
                                     exchange={"reconcile_interval_s": 3600}) as (engine, fake, events):
        seen = latest_positions(events, {})
        result = await engine.send_order(engine.book, "BTCUSDT", PlannedOrder(Side.SELL, Decimal("0.010"), True),
                                          "test", engine.prices.get("BTCUSDT", Decimal(0)))
        assert result.status == "filled", result
        after = fake.account.positions["BTCUSDT"]
        assert after.quantity == Decimal("0.010")
        # The figure read for 0.020 is not shown for 0.010; only a read after the fill can show one.

        def shown() -> PositionUpdate:
            return latest_positions(events, seen)["BTCUSDT"]

        await eventually(lambda: shown().quantity == after.quantity and shown().liquidation_price is not None,
                         GUARD, "the new quantity's liquidation price, read after the fill")
        assert shown().liquidation_price == after.liquidation_price()
