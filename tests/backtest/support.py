"""Shared pieces of the backtest tests: a small config file, sim history written as replay CSVs,
and the two runs to compare (the engine's replay through the real command line, and the backtest).
"""
from __future__ import annotations

import atexit
import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import yaml

from engine.backtest.data import MarketData, sim_data, write_replay_dir
from engine.feeds.replay import COLUMNS
from tests.engine.support import FAST_STRATEGY

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
RUN_GUARD = 240  # seconds: only a guard against a hang


def write_config(path: Path, **extra) -> Path:
    data = {"strategy_v2": dict(FAST_STRATEGY),
            "risk": {"daily_loss_limit": 0, "max_drawdown": 0.02},
            "max_position_risk_per_trade": 0.05, "max_total_risk_exposure": 0.3, **extra}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def history(bars: int = 1500, seed: int = 7) -> MarketData:
    return sim_data(SYMBOLS, seed, bars)


def write_dir(data: MarketData, directory: Path) -> Path:
    write_replay_dir(data, directory)
    return directory


def write_one_csv(data: MarketData, path: Path, drop) -> Path:
    """All symbols in one file sorted by time then symbol, without the bars `drop(minute, symbol)` names."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for i, ts in enumerate((data.times // 1_000_000).tolist()):
            for j, symbol in enumerate(data.symbols):
                if drop(i, symbol):
                    continue
                out.writerow([ts, symbol, *(repr(float(data.fields[name][i, j])) for name in
                                            ("open", "high", "low", "close", "volume", "taker_buy_volume",
                                             "funding_rate"))])
    return path


def env(tmp: Path) -> dict:
    out = dict(os.environ)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
        out[name] = str(tmp / name)
    runtime = tmp / "XDG_RUNTIME_DIR"
    if not runtime.exists():
        # A unix socket path must stay short: the runtime directory lives directly under /tmp.
        short = tempfile.mkdtemp(prefix="tfbt-", dir="/tmp")
        atexit.register(shutil.rmtree, short, True)
        runtime.symlink_to(short)
    out["XDG_RUNTIME_DIR"] = os.path.realpath(runtime)
    out["PYTHONPATH"] = str(ROOT)
    return out


def trifactor(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=tmp, env=env(tmp), capture_output=True,
                          text=True, timeout=RUN_GUARD)


Trade = tuple[str, str, Decimal, Decimal, Decimal]


def engine_replay(tmp: Path, config: Path, replay: Path) -> tuple[list[Trade], Decimal]:
    """`trifactor run --headless --market replay`; its trades and final equity, read from its store."""
    db = tmp / "engine.db"
    cfg = tmp / "engine.yaml"
    cfg.write_text(config.read_text() + f"replay_path: {replay}\n", encoding="utf-8")
    done = trifactor(tmp, "run", "--headless", "--market", "replay", "--speed", "max", "--config", str(cfg),
                     "--db", f"sqlite:///{db}")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        trades = [(s, side, Decimal(q), Decimal(p), Decimal(fee)) for s, side, q, p, fee in conn.execute(
            "SELECT symbol, side, quantity, price, commission FROM trades WHERE mode = 'paper' ORDER BY id")]
        (equity,), = conn.execute("SELECT total_equity FROM performance WHERE mode = 'paper' ORDER BY id DESC LIMIT 1")
    return trades, Decimal(equity)


def backtest(tmp: Path, config: Path, replay: Path, *extra: str) -> tuple[list[Trade], Decimal, Path]:
    out = tmp / "results"
    done = trifactor(tmp, "backtest", "--data", str(replay), "--config", str(config), "--out", str(out),
                     "--quiet", "--no-charts", *extra)
    assert done.returncode == 0, done.stderr
    with (out / "trades.csv").open(encoding="utf-8") as fh:
        trades = [(r["symbol"], r["side"], Decimal(r["quantity"]), Decimal(r["price"]), Decimal(r["fee"]))
                  for r in csv.DictReader(fh)]
    summary = yaml.safe_load((out / "summary.json").read_text(encoding="utf-8"))
    return trades, Decimal(summary["final_equity"]), out
