"""BinanceFeed against the fake exchange through the real ccxt: universe, warm-up, live bars, faults."""
import asyncio
import re
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest

from engine.exchange_errors import RetryPolicy
from engine.feeds.base import FeedError
from engine.feeds.binance import BinanceFeed, StreamTiming
from engine.feeds.binance_bars import MINUTE_MS
from tests.fake_binance import FakeBinance
from tests.fake_binance.helpers import RecordingSleep, config_for, eventually
from tests.fake_binance.streaming import kline_event

FAST = StreamTiming(group_wait_s=0.05, stale_after_s=60.0, rewatch_pause_s=0.0, reconnect_base_s=0.01)
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@asynccontextmanager
async def started_feed(fake, symbols=SYMBOLS, sleep=None, timing=FAST, **overrides):
    feed = BinanceFeed(config_for(fake, symbols, **overrides), timing=timing,
                       retry=RetryPolicy(attempts=3, sleep=sleep or RecordingSleep()))
    try:
        await feed.start()
        yield feed
    finally:
        await feed.close()


@asynccontextmanager
async def streaming(feed, fake, warmup=5):
    """A warmed-up feed whose bar stream is subscribed: yields a `next_group()` coroutine function."""
    for symbol in feed.instruments:
        await feed.warmup(symbol, warmup)
    bars = feed.stream()

    async def next_group():
        return await asyncio.wait_for(bars.__anext__(), 5)

    first = asyncio.ensure_future(next_group())
    for symbol in feed.instruments:
        await fake.wait_subscribed(f"{symbol.lower()}@kline_1m")
    pending = [first]

    async def get():
        return await (pending.pop() if pending else next_group())

    try:
        yield get
    finally:
        for task in pending:
            task.cancel()
        await bars.aclose()


def opens(group):
    return [int(b.ts.timestamp() * 1000) for b in group]


@pytest.fixture
async def fake():
    async with FakeBinance(SYMBOLS, history_bars=300) as f:
        yield f


async def test_start_resolves_the_universe_with_exchange_rules(fake):
    async with started_feed(fake) as feed:
        btc = feed.instruments["BTCUSDT"]
        assert (btc.tick_size, btc.step_size, btc.min_qty, btc.min_notional) == (
            Decimal("0.10"), Decimal("0.001"), Decimal("0.001"), Decimal("100"))
        assert list(feed.instruments) == SYMBOLS and feed.status == "connecting"
    assert feed.status == "stopped"
    # load_markets hit futures exchangeInfo only (no spot wallet, no currencies)
    assert {r.path for r in fake.requests} == {"/fapi/v1/exchangeInfo", "/fapi/v1/time", "/fapi/v1/premiumIndex"}


async def test_universe_all_takes_trading_usdt_perpetuals_minus_exclusions(fake):
    async with started_feed(fake, universe={"type": "all", "exclude_symbols": ["ETHUSDT"]}) as feed:
        assert list(feed.instruments) == ["BTCUSDT"]  # no quarterly, no USDC, no settling contract


@pytest.mark.parametrize("symbol, words", [("NOPEUSDT", "not listed"), ("OLDUSDT", "status SETTLING")])
async def test_unusable_listed_symbols_are_named(fake, symbol, words):
    feed = BinanceFeed(config_for(fake, ["BTCUSDT", symbol]), timing=FAST)
    with pytest.raises(FeedError, match=f"{symbol}: .*{words}"):
        await feed.start()
    await feed.close()


async def test_warmup_paginates_raw_klines_with_taker_buy_volume_and_funding():
    async with FakeBinance(SYMBOLS, history_bars=3200) as fake, started_feed(fake) as feed:
        bars = await feed.warmup("BTCUSDT", 3100)
    rows = fake.market("BTCUSDT").klines
    assert len(bars) == 3100
    assert [int(b.ts.timestamp() * 1000) for b in bars] == [r[0] for r in rows[-3100:]]
    assert [b.taker_buy_volume for b in bars] == [float(r[9]) for r in rows[-3100:]]
    kline_requests = [r.query for r in fake.requests_to("/fapi/v1/klines")]
    assert [q.rsplit("limit=", 1)[1] for q in kline_requests] == ["1500", "1500", "100"]
    settlements = fake.market("BTCUSDT").funding
    for b in bars[::97]:
        at = int(b.ts.timestamp() * 1000)
        in_force = [f for f in settlements if f["fundingTime"] <= at] or settlements[:1]
        assert b.funding_rate == float(in_force[-1]["fundingRate"])


async def test_live_bars_come_from_closed_klines_only(fake):
    async with started_feed(fake) as feed, streaming(feed, fake) as next_group:
        await fake.push_kline("BTCUSDT", close=1.0, closed=False)  # a still-forming bar
        btc = await fake.push_kline("BTCUSDT", taker_buy=33.0)
        eth = await fake.push_kline("ETHUSDT")
        group = await next_group()
        assert [b.symbol for b in group] == SYMBOLS and opens(group) == [btc[0], eth[0]]
        assert group[0].close == float(btc[4]) and group[0].taker_buy_volume == 33.0
        assert feed.status == "live" and feed.last_price("BTCUSDT") == float(btc[4])


async def test_live_bars_carry_the_last_settled_funding_rate_not_the_running_estimate(fake):
    async with started_feed(fake) as feed, streaming(feed, fake) as next_group:
        settled = {s: fake.market(s).funding[-1] for s in SYMBOLS}
        due = settled["BTCUSDT"]["fundingTime"] + 8 * 3_600_000
        await fake.wait_subscribed("btcusdt@markPrice@1s")
        await fake.push_mark_price("BTCUSDT", price=65000.0, funding_rate=0.00123)  # estimates, not settlements
        await fake.push_mark_price("ETHUSDT", price=3300.0, funding_rate=0.00077)
        await eventually(lambda: feed._mark.get("ETHUSDT") == 3300.0, what="the mark price events")
        await fake.push_kline("BTCUSDT")
        await fake.push_kline("ETHUSDT")
        group = await next_group()
        assert [b.funding_rate for b in group] == [float(settled[s]["fundingRate"]) for s in SYMBOLS]

        # The funding time passes while the stream is away; BTC's settlement is published, ETH's not yet.
        for symbol in SYMBOLS:
            fake.add_klines(symbol, (due - fake.market(symbol).last_open_ms) // MINUTE_MS - 1)
        fake.settle_funding("BTCUSDT", due + 1, 0.00042)  # stamped a millisecond late, as it sometimes is
        await fake.push_kline("BTCUSDT")
        await fake.push_kline("ETHUSDT")
        groups = [await next_group()]
        while opens(groups[-1])[0] < due:
            groups.append(await next_group())
        before, at = groups[:-1], groups[-1]
        assert opens(at) == [due, due] and len(before) == (due - opens(group)[0]) // MINUTE_MS - 1
        assert all(b.funding_rate == float(settled[b.symbol]["fundingRate"]) for g in before for b in g)
        assert [b.funding_rate for b in at] == [0.00042, 0.00077]  # ETH: the last estimate before the time
        asked = [r.query for r in fake.requests_to("/fapi/v1/fundingRate") if "ETHUSDT" in r.query]
        fake.settle_funding("ETHUSDT", due, 0.00075)
        await fake.push_kline("BTCUSDT")
        await fake.push_kline("ETHUSDT")
        assert [b.funding_rate for b in await next_group()] == [0.00042, 0.00075]  # published: exact
        assert len([r for r in fake.requests_to("/fapi/v1/fundingRate") if "ETHUSDT" in r.query]) == len(asked) + 1


async def test_aggtrade_flow_sums_taker_buys_of_the_minute(fake):
    async with started_feed(fake, flow={"source": "aggtrades"}) as feed, streaming(feed, fake) as next_group:
        await fake.wait_subscribed("btcusdt@aggTrade")
        minute = fake.market("BTCUSDT").last_open_ms + MINUTE_MS
        await fake.push_agg_trade("BTCUSDT", 3.0, buyer_is_maker=False, trade_ms=minute + 1_000)
        await fake.push_agg_trade("BTCUSDT", 5.0, buyer_is_maker=True, trade_ms=minute + 2_000)
        await fake.push_agg_trade("BTCUSDT", 4.0, buyer_is_maker=False, trade_ms=minute + 59_000)
        await eventually(lambda: feed.flow.taker_buy("BTCUSDT", minute) == 7.0, what="aggregated trades")
        await fake.push_kline("BTCUSDT", taker_buy=99.0)
        await fake.push_kline("ETHUSDT", taker_buy=11.0)
        group = await next_group()
        assert group[0].taker_buy_volume == 7.0  # from trades, not the kline's 99
        assert group[1].taker_buy_volume == 11.0  # no trades seen for ETH: the kline's figure


async def test_duplicate_and_out_of_order_bars_are_dropped(fake):
    async with started_feed(fake) as feed, streaming(feed, fake) as next_group:
        first = [await fake.push_kline(s) for s in SYMBOLS]
        assert opens(await next_group()) == [first[0][0], first[1][0]]
        await fake.push_kline("BTCUSDT", row=first[0])  # the same bar again
        older = fake.make_kline("BTCUSDT", open_ms=first[0][0] - MINUTE_MS)
        await fake.hub.publish("btcusdt@kline_1m", kline_event("BTCUSDT", older, closed=True, event_ms=0))
        second = [await fake.push_kline(s) for s in SYMBOLS]
        group = await next_group()
        assert opens(group) == [second[0][0], second[1][0]]
        assert feed.dropped_bars == 2


async def test_disconnect_reconnects_and_backfills_the_gap(fake):
    async with started_feed(fake) as feed, streaming(feed, fake) as next_group:
        for s in SYMBOLS:
            await fake.push_kline(s)
        before = await next_group()
        assert await fake.drop_streams() >= 1
        missed = {s: [r[0] for r in fake.add_klines(s, 3)] for s in SYMBOLS}  # closed while we were away
        for s in SYMBOLS:
            await fake.wait_subscribed(f"{s.lower()}@kline_1m", times=2)
        latest = {s: (await fake.push_kline(s))[0] for s in SYMBOLS}
        seen = {s: [] for s in SYMBOLS}
        minutes = []
        while any(not seen[s] or seen[s][-1] != latest[s] for s in SYMBOLS):
            group = await next_group()
            minutes.append(opens(group)[0])
            for b in group:
                seen[b.symbol].append(int(b.ts.timestamp() * 1000))
        for s in SYMBOLS:
            assert seen[s] == missed[s] + [latest[s]]
        assert minutes == sorted(minutes) and minutes[0] > opens(before)[0]
        assert len(fake.requests_to("/fapi/v1/klines")) > len(SYMBOLS)  # the gap came over REST


async def test_a_quiet_stream_is_covered_over_rest(fake):
    fake.clock_skew_ms = 5 * 60_000  # by the exchange's clock, bars after the history have closed
    quiet = StreamTiming(group_wait_s=0.05, stale_after_s=0.2, rewatch_pause_s=0.0, reconnect_base_s=0.01)
    async with started_feed(fake, timing=quiet) as feed, streaming(feed, fake) as next_group:
        missed = {s: [r[0] for r in fake.add_klines(s, 2)] for s in SYMBOLS}  # never streamed
        groups = [await next_group(), await next_group()]
        assert [opens(g) for g in groups] == [[missed["BTCUSDT"][i], missed["ETHUSDT"][i]] for i in range(2)]
        assert feed.status == "stale"
        said = feed.take_notices()
        assert [symbol for _, symbol in said] == SYMBOLS
        assert all(re.fullmatch(rf"{s}: no bar for \d+ s, backfilling over REST", m) for m, s in said), said
        await fake.push_kline("BTCUSDT")
        await fake.push_kline("ETHUSDT")
        await next_group()
        assert feed.status == "live"
        assert feed.take_notices() == [("market data: bars arrive on the stream again", None)]


async def test_malformed_events_are_ignored(fake):
    async with started_feed(fake) as feed, streaming(feed, fake) as next_group:
        await fake.hub.publish("btcusdt@kline_1m", {"e": "kline", "E": 0, "s": "BTCUSDT",
                                                    "k": {"s": "BTCUSDT", "t": "soon", "c": "1", "x": True}})
        await fake.push_kline("BTCUSDT")
        await fake.push_kline("ETHUSDT")
        assert [b.symbol for b in await next_group()] == SYMBOLS
        assert feed.dropped_bars == 0


async def test_every_request_stays_on_the_fake(fake):
    async with started_feed(fake, flow={"source": "aggtrades"}) as feed, streaming(feed, fake) as next_group:
        for s in SYMBOLS:
            await fake.push_kline(s)
        await next_group()
        client = feed._client
        urls = []

        def walk(v):
            if isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, str):
                urls.append(v)
        walk(client.urls["api"])
        assert all(u.startswith((fake.base_url, f"ws://127.0.0.1:{fake.port}")) for u in urls)
        assert client.clients and all(url.startswith(f"ws://127.0.0.1:{fake.port}/") for url in client.clients)
    assert {r.host for r in fake.requests} == {f"127.0.0.1:{fake.port}"}
    assert len(fake.hub.paths) >= 3  # klines, mark prices, aggregated trades


async def test_rate_limit_is_waited_out_as_binance_asks(fake):
    sleep = RecordingSleep()
    fake.fail_next("/fapi/v1/klines", status=429, code=-1003, retry_after=3)
    async with started_feed(fake, sleep=sleep) as feed:
        bars = await feed.warmup("BTCUSDT", 10)
    assert len(bars) == 10 and sleep.waits == [3.0]


async def test_an_ip_ban_longer_than_we_wait_is_a_clear_error(fake):
    fake.fail_next("/fapi/v1/klines", status=418, retry_after=7200)
    async with started_feed(fake) as feed:
        with pytest.raises(FeedError, match=r"^BTCUSDT: fetching klines failed: IP temporarily banned .*7200"):
            await feed.warmup("BTCUSDT", 10)


async def test_server_errors_and_slow_answers_are_retried(fake):
    sleep = RecordingSleep()
    fake.fail_next("/fapi/v1/exchangeInfo", status=503)
    fake.delay("/fapi/v1/klines", 0.3, times=1)
    async with started_feed(fake, sleep=sleep, exchange={"timeout_ms": 100}) as feed:
        assert len(await feed.warmup("ETHUSDT", 10)) == 10
    assert len(sleep.waits) == 2  # one for the 503, one for the timeout


async def test_persistent_failure_names_the_symbol(fake):
    fake.fail_next("/fapi/v1/klines", status=502, times=10)
    async with started_feed(fake) as feed:
        with pytest.raises(FeedError, match=r"^ETHUSDT: fetching klines failed: Binance is unavailable \(HTTP 502\)"):
            await feed.warmup("ETHUSDT", 10)


async def test_a_garbled_answer_is_a_clear_error(fake):
    fake.fail_next("/fapi/v1/klines", status=200, msg="<html>maintenance</html>")
    async with started_feed(fake) as feed:
        with pytest.raises(FeedError, match="^BTCUSDT: Binance answered with something other than klines"):
            await feed.warmup("BTCUSDT", 10)


async def test_an_unreachable_exchange_is_a_clear_error():
    async with FakeBinance(["BTCUSDT"]) as gone:
        config = config_for(gone, ["BTCUSDT"])
    feed = BinanceFeed(config, timing=FAST, retry=RetryPolicy(attempts=2, sleep=RecordingSleep()))
    with pytest.raises(FeedError, match="not reachable"):
        await feed.start()
    await feed.close()
