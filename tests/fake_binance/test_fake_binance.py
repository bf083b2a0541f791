"""The fake exchange on its own: signatures, windows, faults, book-keeping, streams."""
import asyncio
import hashlib
import hmac
import json
import time
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.fake_binance import API_KEY, API_SECRET, FakeBinance


def signed(params: dict, secret: str = API_SECRET, timestamp: int | None = None) -> str:
    query = urlencode({**params, "timestamp": timestamp or int(time.time() * 1000)})
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def fake():
    async with FakeBinance(["BTCUSDT", "ETHUSDT"], history_bars=200) as f:
        yield f


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http, fake, method, path, query="", body=None, key=API_KEY):
    headers = {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"}
    url = f"{fake.base_url}{path}" + (f"?{query}" if query else "")
    async with http.request(method, url, data=body, headers=headers) as r:
        return r.status, json.loads(await r.text() or "null"), r.headers


async def test_serves_only_on_loopback(fake, http):
    assert fake.base_url.startswith("http://127.0.0.1:")
    status, body, _ = await call(http, fake, "GET", "/fapi/v1/time")
    assert status == 200 and abs(body["serverTime"] - time.time() * 1000) < 5000


async def test_klines_windows_follow_binance(fake, http):
    rows = fake.market("BTCUSDT").klines
    _, latest, _ = await call(http, fake, "GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=5")
    assert latest == rows[-5:]
    end = rows[100][0]
    _, before, _ = await call(http, fake, "GET", "/fapi/v1/klines", f"symbol=BTCUSDT&interval=1m&endTime={end}&limit=3")
    assert [r[0] for r in before] == [r[0] for r in rows[98:101]]
    start = rows[10][0]
    _, after, _ = await call(http, fake, "GET", "/fapi/v1/klines",
                             f"symbol=BTCUSDT&interval=1m&startTime={start}&limit=2")
    assert [r[0] for r in after] == [rows[10][0], rows[11][0]]
    assert len(latest[0]) == 12 and float(latest[0][9]) < float(latest[0][5])  # taker buy volume present
    status, body, _ = await call(http, fake, "GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=1501")
    assert status == 400 and body["code"] == -1130


async def test_history_is_deterministic():
    async with FakeBinance(["BTCUSDT"], history_bars=50, seed=3) as a, \
            FakeBinance(["BTCUSDT"], history_bars=50, seed=3) as b:
        assert [r[4] for r in a.market("BTCUSDT").klines] == [r[4] for r in b.market("BTCUSDT").klines]


async def test_private_endpoints_check_key_signature_and_timestamp(fake, http):
    ok_status, rows, _ = await call(http, fake, "GET", "/fapi/v3/balance", signed({}))
    assert ok_status == 200 and rows[0]["asset"] == "USDT"
    status, body, _ = await call(http, fake, "GET", "/fapi/v3/balance", signed({}, secret="wrong"))
    assert (status, body["code"]) == (400, -1022)
    status, body, _ = await call(http, fake, "GET", "/fapi/v3/balance", signed({}), key="other")
    assert (status, body["code"]) == (401, -2015)
    stale = signed({}, timestamp=int(time.time() * 1000) - 60_000)
    status, body, _ = await call(http, fake, "GET", "/fapi/v3/balance", stale)
    assert (status, body["code"]) == (400, -1021)
    assert [r.signed for r in fake.requests] == [True] * 4


async def test_market_orders_keep_positions_trades_and_wallet(fake, http):
    fake.set_price("BTCUSDT", 50000)
    body = signed({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010",
                   "newClientOrderId": "t-1"})
    status, order, _ = await call(http, fake, "POST", "/fapi/v1/order", body=body)
    assert status == 200 and order["status"] == "FILLED" and order["clientOrderId"] == "t-1"
    assert fake.positions == {"BTCUSDT": Decimal("0.010")}
    fake.set_price("BTCUSDT", 51000)
    body = signed({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.010", "reduceOnly": "true",
                   "newClientOrderId": "t-2"})
    status, _, _ = await call(http, fake, "POST", "/fapi/v1/order", body=body)
    assert status == 200 and fake.positions == {}
    assert Decimal(fake.trades[-1]["realizedPnl"]) == Decimal("10.000")
    fees = Decimal("0.010") * (50000 + 51000) * Decimal("0.0005")
    assert fake.wallet == Decimal("10000") + Decimal("10") - fees


async def test_orders_are_validated_like_binance(fake, http):
    fake.set_price("BTCUSDT", 50000)
    cases = [
        ({"quantity": "0.0015"}, -1111),  # not on the step
        ({"quantity": "0.001"}, -4164),  # 50 USDT below the 100 USDT minimum notional
        ({"quantity": "0.001", "reduceOnly": "true"}, -2022),  # nothing to reduce
        ({"quantity": "10"}, -2019),  # 500k notional on a 10k wallet
    ]
    for i, (extra, code) in enumerate(cases):
        params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "newClientOrderId": f"v-{i}", **extra}
        status, body, _ = await call(http, fake, "POST", "/fapi/v1/order", body=signed(params))
        assert (status, body["code"]) == (400, code), extra
    assert fake.orders == []


async def test_scripted_faults_and_slow_answers(fake, http):
    fake.fail_next("klines", status=429, code=-1003, retry_after=7)
    status, body, headers = await call(http, fake, "GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=1")
    assert (status, body["code"], headers["Retry-After"]) == (429, -1003, "7")
    status, _, _ = await call(http, fake, "GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=1")
    assert status == 200  # only the next one failed
    fake.fail_next("/fapi/v1/exchangeInfo", status=503, times=2)
    assert [(await call(http, fake, "GET", "/fapi/v1/exchangeInfo"))[0] for _ in range(3)] == [503, 503, 200]
    fake.delay("/fapi/v1/time", 0.05, times=1)
    started = time.perf_counter()
    await call(http, fake, "GET", "/fapi/v1/time")
    assert time.perf_counter() - started >= 0.05


async def test_streams_subscribe_publish_and_drop(fake, http):
    async with http.ws_connect(f"ws://127.0.0.1:{fake.port}/market/ws/0") as raw, \
            http.ws_connect(f"ws://127.0.0.1:{fake.port}/stream?streams=btcusdt@kline_1m") as combined:
        await raw.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1})
        assert await raw.receive_json() == {"result": None, "id": 1}
        await fake.wait_subscribed("btcusdt@kline_1m", times=2)
        row = await fake.push_kline("BTCUSDT")
        event = await raw.receive_json()
        assert event["e"] == "kline" and event["k"]["t"] == row[0] and event["k"]["x"] is True
        assert event["k"]["V"] == row[9]
        wrapped = await combined.receive_json()
        assert wrapped["stream"] == "btcusdt@kline_1m" and wrapped["data"] == event
        assert fake.market("BTCUSDT").klines[-1] == row  # closed bars join the REST history
        assert await fake.drop_streams() == 2
        assert (await raw.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


def order_body(cid, qty="0.010", side="BUY"):
    return signed({"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty, "newClientOrderId": cid})


async def status_of(http, fake, method, path, body=None):
    headers = {"X-MBX-APIKEY": API_KEY, "Content-Type": "application/x-www-form-urlencoded"}
    async with http.request(method, f"{fake.base_url}{path}", data=body, headers=headers) as r:
        return r.status


async def test_an_outage_lasts_its_seconds_whatever_is_sent(fake, http):
    fake.outage("/fapi/v1/order", 0.3, method="POST")
    fake.set_price("BTCUSDT", 50000)
    answers = [await status_of(http, fake, "POST", "/fapi/v1/order", order_body(f"o-{i}")) for i in range(3)]
    assert answers == [503, 503, 503] and fake.orders == []
    assert await status_of(http, fake, "GET", "/fapi/v1/time") == 200  # other endpoints are up
    await asyncio.sleep(0.35)
    assert await status_of(http, fake, "POST", "/fapi/v1/order", order_body("after")) == 200


async def test_an_outage_can_reset_the_connection(fake, http):
    fake.outage("time", 0.5, reset=True)
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(http, fake, "GET", "/fapi/v1/time")


@pytest.mark.parametrize("body", ["truncated", "html", "empty"])
@pytest.mark.parametrize("executed", [True, False])
async def test_garbled_answers_with_and_without_the_order(fake, http, body, executed):
    fake.set_price("BTCUSDT", 50000)
    fake.garble("/fapi/v1/order", body, executed=executed, method="POST")
    headers = {"X-MBX-APIKEY": API_KEY, "Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(f"{fake.base_url}/fapi/v1/order", data=order_body("g-1"), headers=headers) as r:
        status, text = r.status, await r.text()
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(text)
    assert len(fake.orders) == (1 if executed else 0)
    if body == "truncated" and executed:
        assert json.dumps(fake.orders[0]).startswith(text)


async def test_duplicate_trades_income_and_paging(fake, http):
    fake.set_price("BTCUSDT", 50000)
    for i in range(3):
        await call(http, fake, "POST", "/fapi/v1/order", body=order_body(f"d-{i}"))
    fake.duplicate_trades()
    _, doubled, _ = await call(http, fake, "GET", "/fapi/v1/userTrades", signed({"symbol": "BTCUSDT"}))
    assert [t["id"] for t in doubled] == [t["id"] for t in fake.trades for _ in (0, 1)]
    _, once, _ = await call(http, fake, "GET", "/fapi/v1/userTrades", signed({"symbol": "BTCUSDT"}))
    assert len(once) == 3
    first = fake.trades[1]["id"]
    _, page, _ = await call(http, fake, "GET", "/fapi/v1/userTrades",
                            signed({"symbol": "BTCUSDT", "fromId": first, "limit": 1}))
    assert [t["id"] for t in page] == [first]
    fake.pay_funding("BTCUSDT", "-1.25", time_ms=1_000)
    fake.pay_funding("ETHUSDT", "0.5", time_ms=2_000)
    _, rows, _ = await call(http, fake, "GET", "/fapi/v1/income",
                            signed({"incomeType": "FUNDING_FEE", "startTime": 1_500}))
    assert [(r["symbol"], r["income"]) for r in rows] == [("ETHUSDT", "0.5")]


async def test_a_ban_covers_every_request_until_it_ends(fake, http):
    fake.ban(0.4, status=418)
    status, body, headers = await call(http, fake, "GET", "/fapi/v1/time")
    assert (status, body["code"], headers["Retry-After"]) == (418, -1003, "1")
    assert (await call(http, fake, "GET", "/fapi/v3/balance", signed({})))[0] == 418
    await asyncio.sleep(0.45)
    assert (await call(http, fake, "GET", "/fapi/v1/time"))[0] == 200


async def test_user_data_stream_events_expiry_and_silence(fake, http):
    fake.set_price("BTCUSDT", 50000)
    headers = {"X-MBX-APIKEY": API_KEY}
    async with http.post(f"{fake.base_url}/fapi/v1/listenKey", headers=headers) as r:
        key = (await r.json())["listenKey"]
    async with http.put(f"{fake.base_url}/fapi/v1/listenKey", headers=headers) as r:
        assert r.status == 200
    async with http.ws_connect(f"ws://127.0.0.1:{fake.port}/private/ws?listenKey={key}") as ws:
        await fake.user_streams.wait_connected()
        await call(http, fake, "POST", "/fapi/v1/order", body=order_body("u-1"))
        update = await ws.receive_json(timeout=5)
        assert update["e"] == "ORDER_TRADE_UPDATE" and update["o"]["c"] == "u-1"
        assert update["o"]["t"] == fake.trades[-1]["id"] and update["o"]["X"] == "FILLED"
        account = await ws.receive_json(timeout=5)
        assert account["e"] == "ACCOUNT_UPDATE" and account["a"]["P"][0]["pa"] == "0.010"
        fake.silence_user_stream()
        await call(http, fake, "POST", "/fapi/v1/order", body=order_body("u-2"))
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive_json(timeout=0.2)
        assert not ws.closed  # silent, not closed
        fake.silence_user_stream(False)
        await fake.expire_listen_key()
        assert (await ws.receive_json(timeout=5))["e"] == "listenKeyExpired"
        assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    async with http.put(f"{fake.base_url}/fapi/v1/listenKey", headers=headers) as r:
        assert r.status == 400 and (await r.json())["code"] == -1125
