"""Fills from the user-data stream (ccxt.pro on the fake's private websocket), REST only as a fallback."""
from decimal import Decimal

from engine.model import Side
from tests.engine.test_binance_venue import SYMBOLS, fake, order, rules, venue_for  # noqa: F401 (fixture)
from tests.fake_binance.helpers import eventually


def trade_reads(fake):
    return len(fake.requests_to("/fapi/v1/userTrades"))


async def streaming_venue(venue, fake):
    await venue.prepare(rules(SYMBOLS), leverage=5, margin_mode="cross")
    await fake.user_streams.wait_connected()
    await eventually(lambda: venue._stream.live, what="the user-data stream")


async def test_fills_come_from_the_stream_without_reading_trades(fake):
    async with venue_for(fake) as venue:
        await streaming_venue(venue, fake)
        opened = await venue.submit(order("s-1"))
        closed = await venue.submit(order("s-2", side=Side.SELL, reduce_only=True))
    assert trade_reads(fake) == 0
    for result, trade in zip((opened, closed), fake.trades):
        (fill,) = result.fills
        assert fill.trade_id == str(trade["id"]) and fill.fee == Decimal(trade["commission"])
        assert fill.price == Decimal(trade["price"]) and fill.realized_pnl == Decimal(trade["realizedPnl"])
    assert fake.user_streams.created == 1


async def test_a_silent_stream_falls_back_to_rest_with_the_same_trade_ids(fake):
    async with venue_for(fake) as venue:
        await streaming_venue(venue, fake)
        fake.silence_user_stream()
        result = await venue.submit(order("quiet-1"))
    assert result.status == "filled" and trade_reads(fake) >= 1
    assert [f.trade_id for f in result.fills] == [str(fake.trades[-1]["id"])]


async def test_an_expired_listen_key_is_replaced_and_the_stream_resumes(fake):
    async with venue_for(fake) as venue:
        await streaming_venue(venue, fake)
        first_key = fake.user_streams.listen_key
        await fake.expire_listen_key()
        await eventually(lambda: fake.user_streams.listen_key not in (None, first_key) and venue._stream.live,
                         timeout=10, what="a new listenKey")
        result = await venue.submit(order("after-expiry"))
    assert result.status == "filled" and trade_reads(fake) == 0
    assert fake.user_streams.created >= 2


async def test_the_listen_key_is_kept_alive_and_a_refused_renewal_starts_over(fake):
    async with venue_for(fake) as venue:
        venue._stream.keep_alive_s = 0.1  # 20 minutes in a real run; Binance lets a key lapse after 60
        await streaming_venue(venue, fake)
        await eventually(lambda: fake.user_streams.keep_alives >= 3, what="repeated keep-alives")
        fake.user_streams.listen_key = None  # lapsed at the exchange: the next PUT answers -1125
        await eventually(lambda: fake.user_streams.listen_key is not None and venue._stream.live, timeout=10,
                         what="a fresh listenKey after -1125")
        result = await venue.submit(order("renewed"))
    assert result.status == "filled" and trade_reads(fake) == 0


async def test_an_unreadable_answer_is_settled_by_the_stream_when_lookups_fail(fake):
    async with venue_for(fake) as venue:
        await streaming_venue(venue, fake)
        fake.garble("/fapi/v1/order", "html", executed=True, method="POST")
        fake.outage("/fapi/v1/order", 60, method="GET")  # no lookup gets through
        result = await venue.submit(order("streamed-1"))
    assert result.status == "filled" and [f.trade_id for f in result.fills] == [str(fake.trades[-1]["id"])]
    assert len(fake.orders) == 1 and trade_reads(fake) == 0
