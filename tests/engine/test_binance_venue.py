"""BinanceVenue against the fake exchange through the real ccxt: orders, fills, account, faults."""
import asyncio
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest

from engine.config import from_mapping
from engine.exchange_errors import RetryPolicy
from engine.model import Instrument, Mode, OrderRequest, Side
from engine.secrets import Secrets
from engine.venues.base import VenueError
from engine.venues.binance import BinanceVenue
from engine.venues.binance_pacer import OrderPacer
from tests.fake_binance import API_KEY, API_SECRET, FakeBinance
from tests.fake_binance.helpers import RecordingSleep, config_for, eventually, fake_secrets

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@asynccontextmanager
async def venue_for(fake, mode=Mode.TESTNET, sleep=None, secrets=None, **overrides):
    venue = BinanceVenue(config_for(fake, SYMBOLS, **overrides), secrets or fake_secrets(), mode,
                         retry=RetryPolicy(attempts=3, sleep=sleep or RecordingSleep()))
    try:
        yield venue
    finally:
        await venue.close()


@pytest.fixture
async def fake():
    async with FakeBinance(SYMBOLS, history_bars=30) as f:
        f.set_price("BTCUSDT", 50000)
        f.set_price("ETHUSDT", 2500)
        yield f


def order(cid, symbol="BTCUSDT", side=Side.BUY, qty="0.010", reduce_only=False, mark="0"):
    return OrderRequest(cid, symbol, side, Decimal(qty), reduce_only, "rebalance", Decimal(mark))


def rules(symbols):
    return {s: Instrument(s, Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), Decimal("5")) for s in symbols}


def sent_orders(fake):
    return [r.params for r in fake.requests if r.method == "POST" and r.path == "/fapi/v1/order"]


async def test_prepare_sets_margin_mode_and_leverage_per_symbol(fake):
    async with venue_for(fake) as venue:
        await venue.prepare(rules(SYMBOLS), leverage=7, margin_mode="isolated")
        await venue.prepare(rules(SYMBOLS), leverage=7, margin_mode="isolated")  # "no need to change" is fine
    for s in SYMBOLS:
        pos = fake.account.positions[s]
        assert (pos.leverage, pos.margin_type) == (7, "isolated")
    assert len(fake.requests_to("/fapi/v1/marginType")) == 4 and len(fake.requests_to("/fapi/v1/leverage")) == 4


async def test_prepare_refuses_a_hedge_mode_account(fake):
    fake.account.hedge_mode = True
    async with venue_for(fake) as venue:
        with pytest.raises(VenueError, match="hedge mode"):
            await venue.prepare(rules(SYMBOLS), leverage=7, margin_mode="isolated")
    assert fake.requests_to("/fapi/v1/leverage") == []


async def test_prepare_keeps_the_margin_mode_of_an_open_position(fake, caplog):
    fake.set_position("BTCUSDT", "0.010")  # Binance refuses margin mode changes now (-4048)
    async with venue_for(fake) as venue:
        await venue.prepare(rules(SYMBOLS), leverage=4, margin_mode="isolated")
    assert fake.account.positions["BTCUSDT"].margin_type == "cross"
    assert fake.account.positions["ETHUSDT"].margin_type == "isolated"
    assert fake.account.positions["BTCUSDT"].leverage == 4
    assert "BTCUSDT: margin mode stays as it is" in caplog.text


async def test_prepare_failures_name_every_symbol(fake):
    fake.fail_next("/fapi/v1/leverage", status=400, code=-4028, msg="Leverage 7 is not valid", times=2)
    async with venue_for(fake) as venue:
        with pytest.raises(VenueError) as caught:
            await venue.prepare(rules(SYMBOLS), leverage=7, margin_mode="cross")
    assert "BTCUSDT: setting leverage 7x failed" in str(caught.value) and "ETHUSDT" in str(caught.value)
    assert "-4028" in str(caught.value)


async def test_fills_and_fees_come_from_the_exchange(fake):
    async with venue_for(fake) as venue:
        opened = await venue.submit(order("open-1", qty="0.0109"))  # truncated to the 0.001 step
        fake.set_price("BTCUSDT", 51000)
        closed = await venue.submit(order("close-1", side=Side.SELL, qty="0.010", reduce_only=True))
    assert opened.status == "filled" and closed.status == "filled"
    sent = sent_orders(fake)
    assert [o["quantity"] for o in sent] == ["0.01", "0.01"]
    assert [o["newClientOrderId"] for o in sent] == ["open-1", "close-1"]
    assert "reduceOnly" not in sent[0] and sent[1]["reduceOnly"] == "true"
    (fill,) = closed.fills
    trade = fake.trades[-1]
    assert fill.fee == Decimal(trade["commission"]) == Decimal("0.255")  # 0.010 x 51000 x 0.05 %
    assert fill.price == Decimal("51000.0") and fill.realized_pnl == Decimal("10.000")
    assert (fill.trade_id, fill.exchange_order_id) == (str(trade["id"]), closed.exchange_order_id)
    assert fill.mode is Mode.TESTNET
    assert opened.filled_qty == Decimal("0.010") and fake.positions == {}


async def test_orders_below_the_exchange_minimums_are_skipped_and_never_sent(fake):
    async with venue_for(fake) as venue:
        small = await venue.submit(order("tiny-notional", qty="0.001"))  # 50 USDT < 100 USDT minimum
        dust = await venue.submit(order("tiny-qty", qty="0.0004"))  # truncates to zero
        marked = await venue.submit(order("marked", qty="0.003", mark="20000"))  # priced by the caller
    assert small.status == dust.status == marked.status == "skipped"
    assert "BTCUSDT" in small.message and "below the exchange minimum 100 USDT" in small.message
    assert "0.0004" in dust.message
    assert sent_orders(fake) == []


async def test_an_unknown_symbol_is_named(fake):
    async with venue_for(fake) as venue:
        result = await venue.submit(order("nope", symbol="NOPEUSDT"))
    assert result.status == "error" and result.message == "NOPEUSDT: not listed on Binance USDⓈ-M futures"


async def test_reduce_only_closes_are_exempt_from_the_minimum_notional(fake):
    fake.set_position("BTCUSDT", "0.001", 50000)
    async with venue_for(fake) as venue:
        result = await venue.submit(order("close-small", side=Side.SELL, qty="0.001", reduce_only=True))
    assert result.status == "filled" and fake.positions == {}


@pytest.mark.parametrize("code, words", [
    (-2019, "insufficient margin (Binance -2019: Margin is insufficient.)"),
    (-4164, "order rejected (Binance -4164"),
    (-2015, "API key rejected"),
])
async def test_refusals_are_reported_not_retried(fake, code, words):
    fake.fail_next("/fapi/v1/order", status=401 if code == -2015 else 400, code=code, method="POST")
    async with venue_for(fake) as venue:
        result = await venue.submit(order("refused"))
    assert result.status == "rejected"
    assert result.message.startswith("BTCUSDT: BUY 0.01 market order failed: ") and words in result.message
    assert len(sent_orders(fake)) == 1 and fake.orders == []
    assert API_KEY not in result.message and API_SECRET not in result.message


async def test_rate_limits_are_waited_out_then_the_order_goes_through(fake, caplog):
    sleep = RecordingSleep()
    fake.fail_next("/fapi/v1/order", status=429, code=-1003, retry_after=2, method="POST")
    fake.fail_next("/fapi/v1/order", status=400, code=-1003, method="POST")
    async with venue_for(fake, sleep=sleep) as venue:
        result = await venue.submit(order("patient"))
    assert result.status == "filled" and sleep.waits[:2] == [2.0, 1.0]
    assert len(fake.orders) == 1
    assert "BTCUSDT: BUY 0.01 market order: rate limited by Binance (HTTP 429)" in caplog.text
    assert API_KEY not in caplog.text and API_SECRET not in caplog.text


async def test_a_long_ban_is_reported_without_sending(fake):
    fake.fail_next("/fapi/v1/order", status=418, retry_after=3600, method="POST")
    async with venue_for(fake) as venue:
        result = await venue.submit(order("banned"))
    assert "3600" in result.message
    assert result.status == "error" and "banned" in result.message and "not placed" in result.message
    assert fake.orders == []


async def test_a_clock_drift_is_resynchronised_once(fake):
    fake.clock_skew_ms = 60_000  # the exchange's clock runs a minute ahead of ours
    async with venue_for(fake) as venue:
        result = await venue.submit(order("late"))
    assert result.status == "filled"
    assert len(fake.requests_to("/fapi/v1/time")) == 1 and len(sent_orders(fake)) == 2


async def test_a_slow_answer_is_resolved_by_looking_the_order_up(fake):
    fake.delay("/fapi/v1/order", 0.3, times=1)  # acted on at once, answered late
    async with venue_for(fake, exchange={"timeout_ms": 100}) as venue:
        result = await venue.submit(order("slow"))
    assert result.status == "filled" and len(result.fills) == 1
    lookups = [r for r in fake.requests_to("/fapi/v1/order") if r.method == "GET"]
    assert len(lookups) == 1 and "origClientOrderId=slow" in lookups[0].query
    assert len(fake.orders) == 1  # never sent twice


async def test_a_server_error_with_no_order_says_not_placed(fake):
    fake.fail_next("/fapi/v1/order", status=503, method="POST")
    async with venue_for(fake) as venue:
        result = await venue.submit(order("five-oh-three"))
    assert result.status == "error"
    assert "Binance is unavailable (HTTP 503)" in result.message and "not placed" in result.message


async def test_a_refused_connection_is_a_clear_error(fake):
    async with FakeBinance(SYMBOLS) as gone:
        config = config_for(gone, SYMBOLS)
    venue = BinanceVenue(config, fake_secrets(), Mode.LIVE, retry=RetryPolicy(attempts=2, sleep=RecordingSleep()))
    with pytest.raises(VenueError, match="^Binance: reading the balance failed: Binance is not reachable"):
        await venue.balance()
    assert (await venue.submit(order("nowhere"))).status == "error"
    await venue.close()


async def test_positions_and_balance_come_from_the_account(fake):
    fake.set_position("BTCUSDT", "-0.020", 52000)
    async with venue_for(fake) as venue:
        await venue.prepare(rules(["BTCUSDT"]), leverage=3, margin_mode="cross")
        positions = await venue.positions()
        balance = await venue.balance()
        await venue.cancel_all()
    assert list(positions) == ["BTCUSDT"]
    pos = positions["BTCUSDT"]
    assert (pos.quantity, pos.entry_price, pos.leverage) == (Decimal("-0.020"), Decimal("52000"), 3)
    assert Decimal(pos.extra["unRealizedProfit"]) == Decimal("40.000")
    assert balance == Decimal("10000")
    # nothing was open, so one look at each list and no cancel
    assert [r.path for r in fake.requests if r.method == "DELETE"] == []
    assert len(fake.requests_to("/fapi/v1/openOrders")) == len(fake.requests_to("/fapi/v1/openAlgoOrders")) == 1


async def test_cancel_all_cancels_conditional_orders_too(fake):
    now = fake.now_ms()
    for symbol in ("BTCUSDT", "ETHUSDT"):
        fake.account.place_algo(symbol, {"algoType": "CONDITIONAL", "type": "STOP_MARKET", "side": "SELL",
                                         "quantity": "0.01", "triggerPrice": "1000", "reduceOnly": "true"}, now)
    async with venue_for(fake) as venue:
        await venue.cancel_all("BTCUSDT")
        assert [o["symbol"] for o in fake.account.algo_orders if o["algoStatus"] == "NEW"] == ["ETHUSDT"]
        await venue.cancel_all()
    assert {o["algoStatus"] for o in fake.account.algo_orders} == {"CANCELED"}
    cancels = [(r.path, r.params["symbol"]) for r in fake.requests if r.method == "DELETE"]
    assert cancels == [("/fapi/v1/algoOpenOrders", "BTCUSDT"), ("/fapi/v1/algoOpenOrders", "ETHUSDT")]


async def test_flatten_sends_every_close_at_once(fake):
    symbols = [f"C{i:02d}USDT" for i in range(50)]
    async with FakeBinance(symbols, history_bars=5) as many:
        for i, s in enumerate(symbols):
            many.set_position(s, "100" if i % 2 else "-100")
        async with venue_for(many) as venue:
            await venue.positions()  # markets and the session are ready, as in a running engine
            closes = [order(f"flat-{s}", s, Side.SELL if many.positions[s] > 0 else Side.BUY, "100", reduce_only=True)
                      for s in symbols]
            gate = many.hold("/fapi/v1/order")
            flatten = asyncio.gather(*(venue.submit(c) for c in closes))
            # every close reaches the exchange while none has been answered: they went out at once
            await eventually(lambda: len(many.orders) == 50, what="all 50 closes in flight")
            gate.set()
            results = await flatten
        assert {r.status for r in results} == {"filled"} and many.positions == {}
        assert all(o["reduceOnly"] for o in many.orders)


async def test_a_spent_budget_books_the_fill_without_waiting(fake, caplog):
    async with venue_for(fake) as venue:
        assert (await venue.submit(order("dust", qty="0.0001"))).status == "skipped"  # markets are loaded
        while venue.client.throttler.try_take(10):  # spend the minute's weight
            pass
        result = await venue.submit(order("thrifty", mark="50000"))
    (fill,) = result.fills
    assert result.status == "filled" and fill.quantity == Decimal("0.010") and fill.price == Decimal("50000.0")
    assert fill.fee == 0 and "trades are not read" in caplog.text
    assert fake.requests_to("/fapi/v1/userTrades") == []


def test_keys_and_modes_are_checked_up_front():
    config = from_mapping({})
    with pytest.raises(VenueError, match="paper mode uses the paper venue"):
        BinanceVenue(config, fake_secrets(), Mode.PAPER)
    with pytest.raises(VenueError, match="TRIFACTOR_TESTNET_API_KEY and TRIFACTOR_TESTNET_API_SECRET"):
        BinanceVenue(config, Secrets.load(environ={}), "testnet")


async def test_testnet_trades_on_binance_demo_and_live_on_binance():
    demo = BinanceVenue(from_mapping({}), fake_secrets(), Mode.TESTNET)
    live = BinanceVenue(from_mapping({}), fake_secrets(), Mode.LIVE)
    assert demo.client.urls["api"]["fapiPrivate"].startswith("https://demo-fapi.binance.com/")
    assert live.client.urls["api"]["fapiPrivate"].startswith("https://fapi.binance.com/")
    own = {k: v for k, v in vars(demo).items() if k != "client"}  # ccxt's client needs the plain key
    assert API_KEY not in repr(own) and API_SECRET not in repr(own)
    await demo.close()
    await live.close()


async def test_the_order_pacer_lets_a_burst_through_and_holds_the_excess():
    now = [0.0]
    waits = []

    async def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    pacer = OrderPacer(limit=3, window_s=10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await pacer.wait_turn()
    assert waits == []
    now[0] = 4.0
    await pacer.wait_turn()  # the fourth waits until the first leaves the window
    assert waits == [6.0]
