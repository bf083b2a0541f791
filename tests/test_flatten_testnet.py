"""`trifactor flatten --all` in testnet with no engine running: a real process and the real
ccxt against the fake Binance, which holds positions and drops the first close."""
from __future__ import annotations

import asyncio
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

from tests.fake_binance.server import API_KEY, API_SECRET, FakeBinance
from tests.test_kill_switch import GUARD_S, ROOT, environment


async def run_cli(home: Path, *args: str) -> tuple[int, str, str]:
    env = {**environment(home), "TRIFACTOR_TESTNET_API_KEY": API_KEY, "TRIFACTOR_TESTNET_API_SECRET": API_SECRET}
    child = await asyncio.create_subprocess_exec(sys.executable, "-m", "tui.cli", *args, cwd=ROOT, env=env,
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(child.communicate(), GUARD_S)
    return child.returncode, out.decode(), err.decode()


async def test_flatten_all_with_no_engine_closes_every_exchange_position_through_an_outage(tmp_path):
    config = tmp_path / "config.yaml"
    db_file = tmp_path / "t.db"
    async with FakeBinance(symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"]) as fake:
        config.write_text(f"exchange:\n  base_url: {fake.base_url}\n  timeout_ms: 2000\n")
        fake.set_position("BTCUSDT", "0.050")
        fake.set_position("ETHUSDT", "-1.20")
        fake.set_position("SOLUSDT", "3")
        fake.fail_next("/fapi/v1/order", status=503, times=3, method="POST")  # the first closes get no answer

        code, out, err = await run_cli(tmp_path, "flatten", "--all", "--mode", "testnet", "--config", str(config),
                                       "--db", f"sqlite:///{db_file}")

        assert code == 0, out + err
        assert fake.positions == {}
        assert "flattening testnet directly" in err
        assert "\nok flatten_all: flat: 3 position(s) closed (after " in out
        assert " attempts) (no engine was running: flattened directly); entries halted until resumed\n" in out
        for line in ("  BTCUSDT: closed 0.05", "  ETHUSDT: closed 1.2", "  SOLUSDT: closed 3"):
            assert line in out
        assert "next try in" in out  # the outage was waited out, not given up on
        for line in ("  ... flatten BTCUSDT: attempt ", " did not finish; next try in ",
                     "  ... flatten ETHUSDT: flat after "):
            assert line in out  # the engine's own progress lines
        placed = [o for o in fake.orders]
        assert len(placed) == 3 and all(o["reduceOnly"] for o in placed)
        assert {(o["symbol"], o["side"]) for o in placed} == {("BTCUSDT", "SELL"), ("ETHUSDT", "BUY"),
                                                              ("SOLUSDT", "SELL")}
        assert all(r.signed for r in fake.requests if r.path == "/fapi/v1/order")

    # The closes are in the store as the engine would book them, with their intents first.
    with sqlite3.connect(db_file) as conn:
        trades = conn.execute("SELECT symbol, side, quantity FROM trades WHERE mode = 'testnet'").fetchall()
        orders = conn.execute("SELECT symbol, reduce_only, reason, status FROM orders WHERE mode = 'testnet' "
                              "AND status = 'filled'").fetchall()
    assert sorted((s, side, Decimal(str(q))) for s, side, q in trades) == [
        ("BTCUSDT", "SELL", Decimal("0.05")), ("ETHUSDT", "BUY", Decimal("1.2")), ("SOLUSDT", "SELL", Decimal("3"))]
    assert sorted(orders) == [("BTCUSDT", 1, "flatten", "filled"), ("ETHUSDT", 1, "flatten", "filled"),
                              ("SOLUSDT", 1, "flatten", "filled")]


async def test_a_rejected_key_stops_the_direct_flatten_at_once(tmp_path):
    config = tmp_path / "config.yaml"
    async with FakeBinance(symbols=["BTCUSDT"], api_key="another-key") as fake:
        config.write_text(f"exchange:\n  base_url: {fake.base_url}\n  timeout_ms: 2000\n")
        fake.set_position("BTCUSDT", "0.050")
        code, out, err = await run_cli(tmp_path, "flatten", "--all", "--mode", "testnet", "--config", str(config),
                                       "--db", f"sqlite:///{tmp_path / 't.db'}")
        assert fake.orders == [] and fake.positions == {"BTCUSDT": Decimal("0.050")}
    assert code == 1
    refused = next(line for line in out.splitlines() if line.startswith("REFUSED flatten_all: "))
    assert refused.startswith("REFUSED flatten_all: flatten stopped: Binance: listing open orders failed: API key "
                              "rejected") and "retrying cannot fix this; no position could be read" in refused
    assert API_SECRET not in out + err and API_KEY not in out + err
