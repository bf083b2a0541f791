"""Real `trifactor run --headless` processes on replay and sim markets, read back from the SQLite store:
funding settled once per funding time with the rate that settled then (gaps and restarts included),
and every row stamped with market time, never the wall clock."""
from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import yaml

from engine.feeds.sim_market import SimMarket
from engine.feeds.sim_specs import spec_for
from tests.engine.support import FAST_STRATEGY, FAST_WARMUP
from tests.storage.db import stored_signals

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
START = datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)
END = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)  # last bar opens 11:59
FUNDING = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
GAP = (datetime(2026, 3, 2, 7, 30, tzinfo=timezone.utc), datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
RATE_BEFORE, RATE_AFTER = "0.0001", "0.00052"  # settled at 00:00 and at 08:00
MINUTE = timedelta(minutes=1)
# Every timestamp column of every table a run writes (schema bookkeeping aside).
TIME_COLUMNS = {"trades": ("timestamp", "trade_time"), "positions": ("last_update_ts",), "performance": ("timestamp",),
                "signal_minutes": ("timestamp",), "orders": ("created_at", "updated_at"), "order_history": ("timestamp",),
                "funding_payments": ("timestamp",), "audit_log": ("timestamp",), "engine_state": ("updated_at",)}


def write_replay(path: Path) -> None:
    """Four symbols of simulated minutes from 04:00 to 12:00, without 07:30-08:59; the funding column is
    the settled rate: 0.0001 until the bar opening at 08:00 (missing here), 0.00052 from then on."""
    market = SimMarket([spec_for(s) for s in SYMBOLS], seed=11)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["timestamp", "symbol", "open", "high", "low", "close", "volume", "taker_buy_volume",
                      "funding_rate"])
        ts = START
        while ts < END:
            a = market.step()
            if not GAP[0] <= ts < GAP[1]:
                rate = RATE_AFTER if ts >= FUNDING else RATE_BEFORE
                for i, symbol in enumerate(SYMBOLS):
                    out.writerow([ts.isoformat(), symbol, a.open[i], a.high[i], a.low[i], a.close[i], a.volume[i],
                                  a.taker_buy_volume[i], rate])
            ts += MINUTE


def write_config(path: Path, **extra) -> None:
    data = {"universe": {"symbol_list": SYMBOLS}, "strategy_v2": dict(FAST_STRATEGY), "sim": {"warmup_bars": FAST_WARMUP},
            "risk": {"daily_loss_limit": 0, "max_drawdown": 0},
            "max_position_risk_per_trade": 0.05, "max_total_risk_exposure": 0.3, **extra}
    path.write_text(yaml.safe_dump(data))


def trifactor(tmp: Path, *args: str, code: int = 0) -> str:
    env = {"HOME": str(tmp), "PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp / "cfg"),
           "XDG_DATA_HOME": str(tmp / "data"), "XDG_STATE_HOME": str(tmp / "state"),
           "XDG_RUNTIME_DIR": str(tmp / "run")}
    done = subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout if code == 0 else done.stderr


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def at(text: str) -> datetime:
    ts = datetime.fromisoformat(text)
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts


def all_timestamps(db: Path) -> list[tuple[str, datetime]]:
    out = []
    for table, columns in TIME_COLUMNS.items():
        for column in columns:
            out += [(f"{table}.{column}", at(v)) for (v,) in rows(db, f"SELECT {column} FROM {table}")]
    return out


def replay_bar(path: Path, ts: datetime) -> dict[str, dict]:
    with path.open() as fh:
        return {r["symbol"]: r for r in csv.DictReader(fh) if at(r["timestamp"].replace("Z", "")) == ts}


def held_at(db: Path, ts: datetime) -> dict[str, Decimal]:
    """What the paper book held at funding time `ts`: a fill stamped `ts` came of an order made on
    the close of the minute ending at `ts`, which reaches an exchange after it (engine/funding.py)."""
    held: dict[str, Decimal] = {}
    for symbol, side, qty, stamp in rows(db, "SELECT symbol, side, quantity, timestamp FROM trades WHERE mode='paper'"):
        if at(stamp) < ts:
            held[symbol] = held.get(symbol, Decimal(0)) + Decimal(str(qty)) * (1 if side == "BUY" else -1)
    return {s: q for s, q in held.items() if q}


def check_funding_settled_once(db: Path, replay: Path) -> None:
    payments = rows(db, "SELECT symbol, timestamp, rate, quantity, mark_price, amount FROM funding_payments")
    assert payments, "positions were held across 08:00, so funding was paid"
    assert {at(p[1]) for p in payments} == {FUNDING}  # the only funding time inside 04:00-12:00, gap or not
    assert len({p[0] for p in payments}) == len(payments)  # once per symbol
    first_after = replay_bar(replay, GAP[1])  # the first bar opening at or after 08:00
    assert {p[0]: Decimal(str(p[3])) for p in payments} == held_at(db, FUNDING)
    for symbol, _, rate, quantity, mark, amount in payments:
        assert Decimal(str(rate)) == Decimal(RATE_AFTER) == Decimal(first_after[symbol]["funding_rate"])
        assert Decimal(str(mark)) == Decimal(first_after[symbol]["close"])
        assert Decimal(str(amount)) == -Decimal(str(quantity)) * Decimal(str(mark)) * Decimal(str(rate))
    # The book paid each of them once too: its cumulative funding is their sum.
    ((booked,),) = rows(db, "SELECT funding_cumulative FROM performance WHERE mode='paper' "
                            "ORDER BY timestamp DESC LIMIT 1")
    assert Decimal(str(booked)) == sum(Decimal(str(p[5])) for p in payments)


def check_market_time_only(db: Path, first: datetime, last: datetime) -> None:
    stamps = all_timestamps(db)
    assert stamps
    outside = [(where, ts) for where, ts in stamps if not first <= ts <= last]
    assert outside == []


def test_a_replay_gap_across_a_funding_time_settles_it_once_with_the_settled_rate(tmp_path):
    replay, config, db = tmp_path / "bars.csv", tmp_path / "cfg.yaml", tmp_path / "t.db"
    write_replay(replay)
    write_config(config, replay_path=str(replay))
    out = trifactor(tmp_path, "run", "--headless", "--market", "replay", "--speed", "1000", "--config",
                    str(config), "--db", f"sqlite:///{db}")
    assert out.strip().splitlines()[-1].startswith("done: ")
    check_funding_settled_once(db, replay)
    check_market_time_only(db, START, END)
    # The newest equity row is the run's last bar, and `status` shows it with the run's trade count.
    ((equity, trades, stamp),) = rows(db, "SELECT total_equity, trade_count_cumulative, timestamp FROM performance "
                                          "WHERE mode='paper' ORDER BY timestamp DESC LIMIT 1")
    assert at(stamp) == END and trades == len(rows(db, "SELECT id FROM trades")) > 0
    status = trifactor(tmp_path, "status", "--db", f"sqlite:///{db}")
    assert f"equity (paper) at {END:%Y-%m-%d %H:%M:%S} UTC" in status and f"trades {trades}\n" in status


def test_restarts_of_a_replay_settle_the_funding_time_once(tmp_path):
    replay, config, db = tmp_path / "bars.csv", tmp_path / "cfg.yaml", tmp_path / "t.db"
    write_replay(replay)
    write_config(config, replay_path=str(replay))
    run = ["run", "--headless", "--market", "replay", "--speed", "1000", "--config", str(config),
           "--db", f"sqlite:///{db}"]
    trifactor(tmp_path, *run, "--bars", "200")  # stops at 07:20, before the gap: down across 08:00
    ((last,),) = rows(db, "SELECT MAX(timestamp) FROM performance")
    assert at(last) == START + 200 * MINUTE
    assert rows(db, "SELECT * FROM funding_payments") == []
    trifactor(tmp_path, *run, "--bars", "30")  # carries on from 07:20, across the gap: 08:00 is settled
    ((paid,),) = rows(db, "SELECT COUNT(*) FROM funding_payments")
    assert paid > 0
    trifactor(tmp_path, *run)  # and on to the end: nothing more to settle
    assert rows(db, "SELECT COUNT(*) FROM funding_payments") == [(paid,)]
    check_funding_settled_once(db, replay)
    check_market_time_only(db, START, END)
    assert at(rows(db, "SELECT MAX(timestamp) FROM performance")[0][0]) == END
    trades = rows(db, "SELECT COUNT(*) FROM trades")
    error = trifactor(tmp_path, *run, code=1)  # all of it is stored: nothing is played twice
    assert "already holds every bar of it (up to 2026-03-02 12:00 UTC)" in error
    assert rows(db, "SELECT COUNT(*) FROM trades") == trades


def test_a_sim_run_stamps_every_row_with_the_simulated_clock(tmp_path):
    config, db = tmp_path / "cfg.yaml", tmp_path / "t.db"
    write_config(config)
    trifactor(tmp_path, "run", "--headless", "--bars", "40", "--speed", "1000", "--seed", "5", "--config",
              str(config), "--db", f"sqlite:///{db}")
    first_live = datetime(2026, 1, 1, 5, tzinfo=timezone.utc)  # seed 5: five hours after the sim's epoch
    check_market_time_only(db, first_live - FAST_WARMUP * MINUTE, first_live + 40 * MINUTE)
    ((start_row,),) = rows(db, "SELECT MIN(timestamp) FROM performance")
    assert at(start_row) == first_live  # the row at start: the close of the last warm-up bar


def test_sim_restarts_settle_each_funding_time_once_with_the_rate_of_the_bar_opening_then(tmp_path):
    config, db = tmp_path / "cfg.yaml", tmp_path / "t.db"
    write_config(config)
    run = ["run", "--headless", "--speed", "1000", "--seed", "7", "--config", str(config), "--db", f"sqlite:///{db}"]
    # Seed 7: live bars from 07:00. Each restart carries on a minute after the last run's last bar: the
    # first run stops at 08:00, so the second settles 08:00 in its warm-up, across that minute's gap;
    # 16:00 settles in the middle of the second run, whose last bar the third run carries on after.
    for bars in (60, 480, 30):
        trifactor(tmp_path, *run, "--bars", str(bars))
    day = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert at(rows(db, "SELECT MAX(timestamp) FROM performance")[0][0]) == day + timedelta(hours=16, minutes=32)
    payments = rows(db, "SELECT symbol, timestamp, rate, quantity FROM funding_payments")
    times = {at(p[1]) for p in payments}
    assert times == {day + timedelta(hours=8), day + timedelta(hours=16)}
    assert len({(p[0], p[1]) for p in payments}) == len(payments)
    ((booked,),) = rows(db, "SELECT funding_cumulative FROM performance ORDER BY timestamp DESC LIMIT 1")
    assert Decimal(str(booked)) == sum(Decimal(str(a)) for (a,) in rows(db, "SELECT amount FROM funding_payments"))
    # Each time is paid for what was held then, at the rate of the bar opening at it (its signal row, stamped
    # with the bar's close), which is not the rate the bar closing at it carried.
    stored = stored_signals(f"sqlite:///{db}")
    carried = {(s, at(ts)): values["funding_rate"] for s, ts, values in stored}
    # The third run starts where the second stopped: its first row (the close of its warm-up) has the
    # last recorded prices and rates, a minute on.
    price = {(s, at(ts)): values["price"] for s, ts, values in stored}
    stop = day + timedelta(hours=16, minutes=1)
    for symbol in SYMBOLS:
        assert price[(symbol, stop + MINUTE)] == price[(symbol, stop)]
        assert carried[(symbol, stop + MINUTE)] == carried[(symbol, stop)]
    for symbol, stamp, rate, quantity in payments:
        assert Decimal(str(quantity)) == held_at(db, at(stamp))[symbol]
        assert float(rate) == carried[(symbol, at(stamp) + MINUTE)] != carried[(symbol, at(stamp))]
    check_market_time_only(db, day + timedelta(hours=7) - FAST_WARMUP * MINUTE, day + timedelta(hours=16, minutes=32))
