"""Flatten end to end: the engine in testnet mode, the real ccxt, the fake Binance and its faults.

Each flatten must end flat, confirmed by the exchange, with exactly one filled close per
position however long the order endpoint is out or Binance keeps us away.
"""
import asyncio
import contextlib
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from engine.events import EventBus, FlattenProgress
from engine.wiring import build_engine
from tests.engine.support import FAST_STRATEGY, GUARD
from tests.fake_binance import FakeBinance
from tests.fake_binance.helpers import config_for, eventually, fake_secrets

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
HELD = {"BTCUSDT": "0.020", "ETHUSDT": "-0.50", "SOLUSDT": "3"}


@contextlib.asynccontextmanager
async def engine_with_positions(symbols=SYMBOLS, held=HELD, **overrides):
    """A started testnet engine whose book holds what the fake exchange holds; `overrides` are
    config keys, as config_for takes them."""
    async with FakeBinance(symbols, history_bars=300) as fake:
        for symbol, qty in held.items():
            fake.set_position(symbol, qty)
        config = config_for(fake, symbols, trading_mode="testnet", data_fetch_limit=300,
                            strategy_v2=dict(FAST_STRATEGY), **overrides)
        bus = EventBus()
        events = bus.subscribe("test", coalesce=False, maxsize=10**9)
        engine = build_engine(config, fake_secrets(), bus)
        task = asyncio.ensure_future(engine.run())
        try:
            await eventually(lambda: engine.started or task.done(), GUARD, "the engine to start")
            if task.done():
                task.result()
            for symbol in held:  # the book adopts the exchange's positions, as an operator would
                assert (await engine.resume(symbol)).ok
            yield engine, fake, events
        finally:
            await asyncio.wait_for(engine.stop(), GUARD)
            await task


def progress(events) -> list[FlattenProgress]:
    return [e for e in events.drain() if isinstance(e, FlattenProgress)]


def filled_closes(fake: FakeBinance) -> dict[str, int]:
    counts: dict[str, int] = {}
    for order in fake.orders:
        assert order["reduceOnly"] and order["status"] == "FILLED"
        counts[order["symbol"]] = counts.get(order["symbol"], 0) + 1
    return counts


async def flatten_through_outage(seconds: float, reset: bool):
    async with engine_with_positions() as (engine, fake, events):
        fake.outage("/fapi/v1/order", seconds, method="POST", reset=reset)
        result = await asyncio.wait_for(engine.flatten_all(), seconds + GUARD)
        assert result.ok, result.message
        assert fake.positions == {} and engine.snapshot().positions == {}
        assert filled_closes(fake) == {s: 1 for s in HELD}  # never two filled orders for one close
        seen = progress(events)
        assert max(p.attempt for p in seen) > 1 and {p.state for p in seen} >= {"closing", "waiting", "flat"}
        assert all(p.state == "flat" for p in seen[-len(HELD):])
        return result


@pytest.mark.parametrize("reset", [True, False], ids=["connection-reset", "http-503"])
async def test_flatten_reaches_flat_through_a_1_s_order_outage(reset):
    result = await flatten_through_outage(1.0, reset)
    assert "entries halted" in result.message


async def test_flatten_reaches_flat_through_a_10_s_order_outage():
    await flatten_through_outage(10.0, reset=True)


async def flatten_through_ban(status: int):
    async with engine_with_positions() as (engine, fake, events):
        fake.fail_next("/fapi/v1/order", status=status, code=-1003 if status == 429 else None, retry_after=60,
                       method="POST")
        flattening = asyncio.ensure_future(engine.flatten_all())
        await eventually(lambda: engine.state().rate_limited_until is not None, GUARD, "the ban")
        sent = len(fake.requests)
        await asyncio.sleep(50)
        assert len(fake.requests) == sent  # nothing at all went out while Binance keeps us away
        waiting = [p for p in progress(events) if p.state == "waiting"]
        assert waiting and all(p.next_try_in_s <= 60 for p in waiting) and min(p.next_try_in_s for p in waiting) < 15
        assert any(str(status) in p.last_error for p in waiting)
        result = await asyncio.wait_for(flattening, GUARD)
        assert result.ok, result.message
        assert fake.positions == {} and filled_closes(fake) == {s: 1 for s in HELD}
        assert engine.state().rate_limited_until is None


async def test_flatten_reaches_flat_through_a_60_s_outage_and_through_429_and_418_bans_of_60_s():
    # One minute of wall time for all three: each runs against its own fake exchange.
    await asyncio.gather(flatten_through_outage(60.0, reset=False), flatten_through_ban(429),
                         flatten_through_ban(418))


async def test_a_rejected_key_stops_the_flatten_at_once_with_a_plain_message():
    async with engine_with_positions() as (engine, fake, events):
        fake.fail_next("/fapi/v1/order", status=401, code=-2015, method="POST", times=10)
        result = await asyncio.wait_for(engine.flatten_all(), GUARD)
        assert not result.ok and result.message.startswith("flatten stopped: ")
        assert "API key rejected" in result.message and "retrying cannot fix this" in result.message
        assert "Traceback" not in result.message and fake.api_secret not in result.message
        assert len(fake.requests_to("/fapi/v1/order")) <= len(HELD)  # one try each, no retries
        assert not engine.state().flattening


async def test_flatten_cancels_conditional_orders_and_one_symbol_leaves_the_rest():
    async with engine_with_positions() as (engine, fake, events):
        for symbol in HELD:
            fake.account.place_algo(symbol, {"algoType": "CONDITIONAL", "type": "STOP_MARKET", "side": "SELL",
                                             "quantity": "0.01", "triggerPrice": "1", "reduceOnly": "true"},
                                    fake.now_ms())
        result = await asyncio.wait_for(engine.flatten("ETHUSDT"), GUARD)
        assert result.ok, result.message
        assert set(fake.positions) == {"BTCUSDT", "SOLUSDT"}
        assert {o["symbol"]: o["algoStatus"] for o in fake.account.algo_orders} == {
            "BTCUSDT": "NEW", "ETHUSDT": "CANCELED", "SOLUSDT": "NEW"}
        result = await asyncio.wait_for(engine.flatten_all(), GUARD)
        assert result.ok and fake.positions == {}
        assert {o["algoStatus"] for o in fake.account.algo_orders} == {"CANCELED"}
        assert filled_closes(fake) == {s: 1 for s in HELD} and Decimal(0) == sum(
            (p.quantity for p in engine.snapshot().positions.values()), Decimal(0))


async def test_a_headless_testnet_engine_whose_breaker_trips_flattens_through_an_order_outage(tmp_path):
    """A real `trifactor run --headless --mode testnet --market binance` process: it trades the first
    bar, the next bar's loss trips the daily-loss breaker while order POSTs are out for 1 s."""
    symbols = ["BTCUSDT", "ETHUSDT"]
    async with FakeBinance(symbols, history_bars=400) as fake:
        config = {"market": "binance", "universe": {"type": "list", "symbol_list": symbols},
                  "exchange": {"base_url": fake.base_url, "timeout_ms": 2000}, "data_fetch_limit": 400,
                  "strategy_v2": dict(FAST_STRATEGY), "risk": {"daily_loss_limit": 0.0001, "max_drawdown": 0},
                  "max_position_risk_per_trade": 0.05, "max_total_risk_exposure": 0.3}
        config_file = tmp_path / "config.yaml"
        config_file.write_text(json.dumps(config))  # JSON is YAML
        env = {**os.environ, "TRIFACTOR_TESTNET_API_KEY": fake.api_key, "TRIFACTOR_TESTNET_API_SECRET": fake.api_secret}
        for var in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"):
            (tmp_path / var).mkdir(mode=0o700)
            env[var] = str(tmp_path / var)
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui", "run", "--headless", "--mode", "testnet", "--market", "binance",
            "--config", str(config_file), cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        lines: list[str] = []

        async def read_until(predicate, what: str) -> str:
            async def scan() -> str:
                while True:
                    raw = await child.stdout.readline()
                    if not raw:
                        raise AssertionError(f"the engine ended before {what}: {lines}")
                    lines.append(raw.decode().rstrip("\n"))
                    if predicate(lines[-1]):
                        return lines[-1]
            return await asyncio.wait_for(scan(), GUARD)

        try:
            for symbol in symbols:
                await fake.wait_subscribed(f"{symbol.lower()}@kline_1m", timeout=GUARD)
            for symbol in symbols:
                await fake.push_kline(symbol)
            await read_until(lambda line: " equity " in line and "positions 2" in line, "the first bar's trades")
            held = dict(fake.positions)
            assert len(held) == 2
            fake.outage("/fapi/v1/order", 1.0, method="POST")
            for symbol, qty in held.items():  # a 2 % move against every position
                last = float(fake.market(symbol).klines[-1][4])
                await fake.push_kline(symbol, close=last * (0.98 if qty > 0 else 1.02))
            answer = await read_until(lambda line: " breaker: " in line, "the breaker's answer")
            child.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(child.communicate(), GUARD)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        assert child.returncode == 0, err.decode()
        assert answer.startswith("ok breaker: daily loss") and "flattened (flat: 2 position(s) closed (after" in answer
        retries = [line for line in lines if line.startswith("flatten ") and "next try in" in line]
        assert retries and all("Binance is unavailable" in line for line in retries)
        assert fake.positions == {}
        closes = [o for o in fake.orders if o["reduceOnly"]]
        assert sorted(o["symbol"] for o in closes) == sorted(held)  # one filled close each
        assert "Traceback" not in err.decode()
