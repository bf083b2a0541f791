"""A 429 or 418 with Retry-After holds back every request to that Binance host until it ends."""
from decimal import Decimal

import pytest

from engine.exchange_errors import RetryPolicy
from engine.feeds.base import FeedError
from engine.feeds.binance import BinanceFeed
from engine.model import Mode, OrderRequest, Side
from engine.venues.base import VenueError
from engine.venues.binance import BinanceVenue
from tests.fake_binance import FakeBinance
from tests.fake_binance.helpers import RecordingSleep, config_for, fake_secrets

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
NO_RETRY = RetryPolicy(attempts=1)


@pytest.fixture
async def fake():
    async with FakeBinance(SYMBOLS, history_bars=30) as f:
        f.set_price("BTCUSDT", 50000)
        yield f


@pytest.mark.parametrize("status", [429, 418])
async def test_a_ban_holds_back_the_venue_and_the_feed_of_that_host_until_it_ends(fake, status):
    config = config_for(fake, SYMBOLS)
    venue = BinanceVenue(config, fake_secrets(), Mode.TESTNET, retry=NO_RETRY)
    feed = BinanceFeed(config, retry=NO_RETRY)
    try:
        await feed.start()
        await venue.positions()
        fake.fail_next("/fapi/v3/positionRisk", status=status, code=-1003 if status == 429 else None,
                       retry_after=120)
        with pytest.raises(VenueError, match=str(status)):
            await venue.positions()
        assert 119 < venue.rate_limited_for() <= 120
        sent = len(fake.requests)
        result = await venue.submit(OrderRequest("held-back", "BTCUSDT", Side.BUY, Decimal("0.010"), False, "rebalance"))
        assert result.status == "error" and "s left; not sent" in result.message
        with pytest.raises(VenueError, match=r"s left; not sent"):
            await venue.balance()
        with pytest.raises(FeedError, match=r"s left; not sent"):
            await feed.warmup("BTCUSDT", 10)  # the feed's own client talks to the same host
        assert len(fake.requests) == sent and fake.orders == []  # nothing at all went out
        venue.client.ban.lift()  # as when the 120 s are over
        assert venue.rate_limited_for() == 0
        assert (await venue.submit(OrderRequest("after", "BTCUSDT", Side.BUY, Decimal("0.010"), False,
                                                "rebalance"))).status == "filled"
    finally:
        await venue.close()
        await feed.close()


async def test_a_429_without_retry_after_starts_no_ban(fake):
    venue = BinanceVenue(config_for(fake, SYMBOLS), fake_secrets(), Mode.TESTNET, retry=NO_RETRY)
    try:
        fake.fail_next("/fapi/v3/positionRisk", status=429, code=-1003)
        with pytest.raises(VenueError):
            await venue.positions()
        assert venue.rate_limited_for() == 0 and await venue.positions() == {}
    finally:
        await venue.close()


async def test_an_order_held_back_by_a_short_ban_fails_at_once_instead_of_waiting(fake):
    venue = BinanceVenue(config_for(fake, SYMBOLS), fake_secrets(), Mode.TESTNET,
                         retry=RetryPolicy(attempts=3, sleep=RecordingSleep()))
    try:
        dust = OrderRequest("dust", "BTCUSDT", Side.BUY, Decimal("0.0001"), False, "rebalance")
        assert (await venue.submit(dust)).status == "skipped"  # the markets are loaded, as in a running engine
        venue.client.ban.impose(5, 429)
        result = await venue.submit(OrderRequest("short-ban", "BTCUSDT", Side.BUY, Decimal("0.010"), False,
                                                 "rebalance", mark_price=Decimal(50000)))
        assert result.status == "error" and "5 s left; not sent" in result.message
        assert venue.retry.sleep.waits == [] and fake.requests_to("/fapi/v1/order") == []
    finally:
        await venue.close()
