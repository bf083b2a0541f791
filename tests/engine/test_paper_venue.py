from datetime import datetime, timezone
from decimal import Decimal

import pytest

from engine.config import PaperConfig
from engine.model import Instrument, Mode, OrderRequest, Side
from engine.portfolio import Portfolio
from engine.venues.base import VenueError
from engine.venues.paper import PaperVenue

D = Decimal
ETH = Instrument("ETHUSDT", D("0.01"), D("0.001"), D("0.001"), D(20))
TS = datetime(2026, 1, 1, 8, tzinfo=timezone.utc)


async def venue(price: float | None = 2000.0, **config) -> PaperVenue:
    v = PaperVenue(PaperConfig(**config), lambda s: price, clock=lambda: TS)
    await v.prepare({"ETHUSDT": ETH}, 5, "isolated")
    return v


def order(side: Side, qty: str, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest("c1", "ETHUSDT", side, D(qty), reduce_only, "test")


async def test_market_orders_pay_taker_fee_and_slippage_on_the_tick_grid():
    v = await venue(2000.0, slippage_bps=1.0)
    buy = (await v.submit(order(Side.BUY, "0.5"))).fills[0]
    assert buy.price == D("2000.20")  # 2000 x (1 + 1 bp)
    assert buy.fee == D("0.5") * D("2000.20") * D("0.0005")  # VIP0 taker 0.05 %
    assert not buy.is_maker and buy.ts == TS
    sell = (await v.submit(order(Side.SELL, "0.5", reduce_only=True))).fills[0]
    assert sell.price == D("1999.80")


async def test_slippage_rounds_against_us():
    v = await venue(2000.005, slippage_bps=0.3)
    assert (await v.submit(order(Side.BUY, "1"))).fills[0].price == D("2000.07")  # 2000.065... up
    assert (await v.submit(order(Side.SELL, "1"))).fills[0].price == D("1999.94")  # 1999.945... down


async def test_configured_fees_and_zero_slippage():
    v = await venue(1500.0, slippage_bps=0, taker_fee=0.0004)
    fill = (await v.submit(order(Side.SELL, "2"))).fills[0]
    assert fill.price == D(1500) and fill.fee == D("1.2")


async def test_reduce_only_never_opens_or_flips():
    v = await venue()
    rejected = await v.submit(order(Side.SELL, "1", reduce_only=True))
    assert rejected.status == "rejected" and "ETHUSDT" in rejected.message
    await v.submit(order(Side.BUY, "1"))
    cut = await v.submit(order(Side.SELL, "3", reduce_only=True))
    assert cut.fills[0].quantity == D(1)
    assert await v.positions() == {}


async def test_positions_and_balance_follow_fills():
    v = await venue(2000.0, slippage_bps=0)
    await v.submit(order(Side.BUY, "1.5"))
    pos = (await v.positions())["ETHUSDT"]
    assert pos.quantity == D("1.5") and pos.entry_price == D(2000)
    assert await v.balance() == -D("1.5") * D(2000) * D("0.0005")


async def test_no_price_is_a_clear_error():
    v = await venue(None)
    with pytest.raises(VenueError, match="ETHUSDT"):
        await v.submit(order(Side.BUY, "1"))


def test_funding_payment_is_minus_quantity_times_mark_times_rate():
    book = Portfolio(Mode.PAPER, D(0))
    book.adopt("ETHUSDT", D("2"), D(2000))
    assert book.apply_funding(book.quantity("ETHUSDT"), D("0.0001"), D(2100)) == D("-0.42")
    book.adopt("ETHUSDT", D("-2"), D(2000))
    assert book.apply_funding(book.quantity("ETHUSDT"), D("0.0001"), D(2100)) == D("0.42")
    assert book.apply_funding(book.quantity("ETHUSDT"), D("-0.0003"), D(2000)) == D("-1.2")
    assert book.funding == D("-1.2")
