"""End to end: real `trifactor run --headless --mode testnet` processes against the fake exchange.

An order whose 200 answer is cut short fills once, never twice, and freezes its symbol until a
lookup settles it; a trade Binance lists twice is booked once; fills and funding the exchange
made while the engine was down (or while it was killed mid-order) are booked once at restart.
"""
from decimal import Decimal

import pytest

from tests.engine.testnet_process import EngineProcess
from tests.fake_binance import FakeBinance

SYMBOL = "BTCUSDT"


@pytest.fixture
async def fake():
    async with FakeBinance([SYMBOL], history_bars=400) as f:
        yield f


def posts(fake):
    return [i for i, r in enumerate(fake.requests) if r.method == "POST" and r.path == "/fapi/v1/order"]


def stored_trades(engine):
    return engine.query("SELECT trade_id, client_order_id, quantity FROM trades WHERE mode = 'testnet'")


def assert_store_equals_exchange(engine, fake):
    """Every exchange trade is in the store exactly once, and the store's position is the exchange's."""
    rows = stored_trades(engine)
    ids = [r[0] for r in rows]
    assert sorted(ids) == sorted(str(t["id"]) for t in fake.trades), (ids, fake.trades)
    signed = sum((Decimal(t["qty"]) * (1 if t["side"] == "BUY" else -1) for t in fake.trades), Decimal(0))
    assert fake.positions.get(SYMBOL, Decimal(0)) == signed
    stored = engine.query("SELECT side, quantity FROM trades WHERE mode = 'testnet'")
    assert sum((Decimal(q) * (1 if s == "BUY" else -1) for s, q in stored), Decimal(0)) == signed


async def test_a_truncated_answer_to_an_executed_order_fills_once_and_freezes_the_symbol(tmp_path, fake):
    fake.garble("/fapi/v1/order", "truncated", executed=True, method="POST")  # the first order's answer
    fake.garble("/fapi/v1/order", "html", executed=True, method="GET", times=6)  # and its first lookups
    fake.duplicate_trades(answers=10_000)  # every trade list names each trade twice
    fake.silence_user_stream()  # so fills are read over REST, where the duplicates are
    engine = await EngineProcess(tmp_path, fake, [SYMBOL], bars=40).start()
    await engine.subscribed()
    await engine.drive_until(lambda: len(fake.orders) >= 1, "the first order")
    (order,) = fake.orders
    cid = order["clientOrderId"]
    await engine.wait_line(f"no new order for {SYMBOL} until Binance confirms order {cid}")
    await engine.drive_until(lambda: any(f"UNCERTAIN {SYMBOL}" in line for line in engine.lines), "the frozen symbol")
    await engine.drive_until(lambda: any(f"order {cid} resolved: filled" in line for line in engine.lines),
                             "the lookup that settles it")
    await engine.drive_until(lambda: not engine.running(), "the end of the run")
    assert await engine.finish() == 0, engine.output()

    assert [o for o in fake.orders if o["clientOrderId"] == cid] == [order]  # one order for that intent
    # Nothing for the symbol was sent while its outcome was unknown: the next POST comes after the
    # first lookup that could be read (the 7th).
    lookups = [i for i, r in enumerate(fake.requests) if r.method == "GET" and r.path == "/fapi/v1/order"]
    later_posts = posts(fake)[1:]
    assert all(i > lookups[6] for i in later_posts)
    assert engine.query("SELECT status FROM orders WHERE client_order_id = ?", (cid,)) == [("filled",)]
    assert [r[0] for r in stored_trades(engine) if r[1] == cid] == [str(fake.trades[0]["id"])]
    assert_store_equals_exchange(engine, fake)


async def test_a_restart_books_what_the_exchange_did_while_the_engine_was_down_once(tmp_path, fake):
    engine = await EngineProcess(tmp_path, fake, [SYMBOL], bars=3).start()
    await engine.subscribed()
    await engine.drive_until(lambda: not engine.running(), "the end of the first run")
    assert await engine.finish() == 0, engine.output()
    assert fake.orders, engine.output()
    assert_store_equals_exchange(engine, fake)
    assert fake.requests_to("/fapi/v1/userTrades") == []  # its fills came over the user-data stream

    # While it is down: one of our orders fills (its record lost), and funding is settled.
    fake.set_price(SYMBOL, fake.market(SYMBOL).price)
    fake.account.place_market(fake.market(SYMBOL), {"symbol": SYMBOL, "side": "BUY", "type": "MARKET",
                                                    "quantity": "0.002", "newClientOrderId": "tftdowntime-1"},
                              fake.now_ms(), fake.prices)
    fake.pay_funding(SYMBOL, "-0.5")

    # Second run: killed while an order has been placed but not yet answered.
    engine.bars = 200
    before = len(fake.orders)
    await engine.start()
    line = await engine.wait_line("ok recover:")
    assert "recovered 0 unsettled order(s), 1 fill(s) and 1 funding payment(s)" in line, engine.output()
    await engine.subscribed()
    gate = fake.hold("/fapi/v1/order")
    await engine.drive_until(lambda: len(fake.orders) > before, "an order in the second run", limit=150)
    held = fake.orders[-1]["clientOrderId"]
    await engine.kill()
    gate.set()
    fake.faults.holds.clear()
    assert engine.query("SELECT status FROM orders WHERE client_order_id = ?", (held,)) == [("new",)]
    fake.account.place_market(fake.market(SYMBOL), {"symbol": SYMBOL, "side": "BUY", "type": "MARKET",
                                                    "quantity": "0.002", "newClientOrderId": "by-hand-1"},
                              fake.now_ms(), fake.prices)  # not ours: left to reconciliation

    # Third run: every trade listed twice, still booked once; the first recovery pass fails (the
    # income history is unavailable through all of a request's retries) and is tried again.
    fake.duplicate_trades(answers=10_000)
    fake.fail_next("/fapi/v1/income", status=503, times=4)
    engine.bars = 1
    await engine.start()
    line = await engine.wait_line("ok recover:")
    assert "recovered 1 unsettled order(s), 1 fill(s) and 0 funding payment(s)" in line, engine.output()
    assert "! recovering the testnet account (attempt 1, next in 1 s)" in engine.output(), engine.output()
    await engine.subscribed()
    await engine.drive_until(lambda: not engine.running(), "the end of the third run")
    assert await engine.finish() == 0, engine.output()
    assert engine.query("SELECT status FROM orders WHERE client_order_id = ?", (held,)) == [("filled",)]
    ours = [t for t in fake.trades if t["orderId"] != next(o["orderId"] for o in fake.orders
                                                           if o["clientOrderId"] == "by-hand-1")]
    ids = sorted(r[0] for r in stored_trades(engine))
    assert ids == sorted(str(t["id"]) for t in ours) and len(set(ids)) == len(ids)
    funding = engine.query("SELECT amount FROM funding_payments WHERE mode = 'testnet'")
    assert [Decimal(str(r[0])) for r in funding] == [Decimal("-0.5")]
    assert "mismatch" in engine.output() or "exchange reports" in engine.output()  # the by-hand trade

    # A fourth start finds nothing new: nothing is booked twice.
    await engine.start()
    line = await engine.wait_line("ok recover:")
    assert "0 unsettled order(s), 0 fill(s) and 0 funding payment(s)" in line, engine.output()
    await engine.subscribed()
    await engine.drive_until(lambda: not engine.running(), "the end of the fourth run")
    assert await engine.finish() == 0
    assert sorted(r[0] for r in stored_trades(engine)) == ids
