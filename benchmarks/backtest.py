"""Speed and memory of `trifactor backtest`, against the engine's replay and the seed's recompute.

Run from the repository root:  python benchmarks/backtest.py  [--quick]

(a) 1 symbol x 1,000,000 bars and (b) 100 symbols x 100,000 bars, end to end: the batch
    factors, the engine's decisions minute by minute, the results and their files (with the
    HTML report); default settings without breakers, so the strategy trades all the way. Data generation is not timed. Each runs in its own process, so its peak
    memory (maxrss) is its own. Targets: >= 200k symbol-bars/s, < 2 GB.
(c) the engine's own replay (`--market replay`, unpaced, no store) against the backtest on the
    same files, a smaller slice (8 symbols x 3,000 bars); their trades must be identical.
    Target: >= 100x.
(c2) what a user had before: `trifactor run --headless --market replay --speed max` (the live
    path with the shipped SQLite store) against `trifactor backtest`, each a whole process, on
    4 symbols x 14 days (the size the issue timed). Target: >= 100x.
(d) the seed's way: the whole formula recomputed over the last 260 bars for every bar (the
    strategy alone, no sizing), per symbol-bar.

A progress bar with the time left runs on stderr during the long runs. Figures, not asserts:
the machine may be busy with other work, which slows every figure alike.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests" / "strategy"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.isolated import isolated_dirs  # noqa: E402
from engine.backtest import job  # noqa: E402
from engine.backtest.data import MINUTE_NS, MarketData, sim_data, write_replay_dir  # noqa: E402
from engine.config import Config, from_mapping  # noqa: E402
from engine.feeds.sim_specs import spec_for  # noqa: E402
from tui.backtest_command import ProgressBar  # noqa: E402

SCENARIOS = {"1x1000000": (1, 1_000_000), "100x100000": (100, 100_000)}
QUICK = {"1x1000000": (1, 100_000), "100x100000": (20, 20_000)}
TARGET_RATE, TARGET_MEMORY_GB, TARGET_REPLAY_RATIO = 200_000, 2.0, 100
REPLAY_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LINKUSDT"]
REPLAY_BARS = 3_000
SHIPPED_SYMBOLS, SHIPPED_BARS = REPLAY_SYMBOLS[:4], 14 * 1440
SEED_WINDOW, SEED_CYCLES = 260, 30
# The defaults, but no breakers: a tripped breaker leaves the book flat and halted for the rest of
# the run, and minutes that cannot trade are skipped, which would flatter the figures.
THROUGHPUT_CONFIG = from_mapping({"risk": {"daily_loss_limit": 0, "max_drawdown": 0}}, "<benchmark>")


def synthetic(symbols: int, bars: int, seed: int = 3) -> MarketData:
    """Minute bars with volatility regimes, jumps, funding that drifts and taker flow that leans with
    returns, generated at once (the embedded sim steps minute by minute: too slow for a million)."""
    rng = np.random.default_rng(seed)
    shape = (bars, symbols)
    regime = np.repeat(rng.choice([0.6, 1.0, 2.0], size=(bars // 720 + 1, symbols)), 720, axis=0)[:bars]
    vol = 0.0008 * regime
    ret = vol * rng.standard_normal(shape) + (rng.random(shape) < 1 / 1500) * rng.normal(0, 0.01, shape)
    walk = np.cumsum(ret, axis=0)
    anchor = pd.DataFrame(walk).ewm(span=20_000, adjust=False).mean().to_numpy()
    names = [f"BENCH{j:03d}USDT" for j in range(symbols)]
    specs = [spec_for(s) for s in names]  # the trading rules the backtest will use for these names
    start = np.array([spec.price for spec in specs])
    tick = np.array([float(spec.instrument.tick_size) for spec in specs])
    close = np.maximum(np.round(start * np.exp(walk - anchor) / tick) * tick, tick)
    open_ = np.vstack([close[:1], close[:-1]])
    wick = np.abs(rng.normal(0, 0.0005, shape))
    high = np.maximum(open_, close) * (1 + wick)
    low = np.minimum(open_, close) * (1 - wick)
    volume = np.round(rng.lognormal(3, 0.5, shape) * regime, 3)
    share = np.clip(0.5 + 0.2 * np.tanh(ret / vol) + 0.05 * rng.standard_normal(shape), 0.02, 0.98)
    funding = np.clip(1e-4 + pd.DataFrame(rng.normal(0, 2e-5, shape)).cumsum().to_numpy() * 0.05, -0.003, 0.003)
    times = pd.Timestamp("2024-01-01", tz="UTC").value + np.arange(bars, dtype="int64") * MINUTE_NS
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume,
              "taker_buy_volume": np.round(volume * share, 3), "funding_rate": np.round(funding, 8)}
    return MarketData(names, times, fields, "synthetic")


def one(name: str, quick: bool) -> dict:
    symbols, bars = (QUICK if quick else SCENARIOS)[name]
    clock = time.perf_counter()
    data = synthetic(symbols, bars)
    generated = time.perf_counter() - clock
    request = job.Request(THROUGHPUT_CONFIG, "replay")
    bar = ProgressBar()
    clock = time.perf_counter()
    result = job.run(request, bar, data=data)
    with tempfile.TemporaryDirectory() as tmp:
        job.write(result, Path(tmp) / "out")
        seconds = time.perf_counter() - clock
    bar.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    return {"name": name, "symbol_bars": data.bars, "seconds": seconds, "generated_s": generated,
            "stages": result.seconds, "peak_gb": peak, "trades": result.summary["trades"],
            "stepped": result.outcome.stepped, "minutes": len(data.times)}


async def _engine_replay(config: Config, directory: Path) -> tuple[list, float]:
    from engine.engine import Engine
    from engine.events import EventBus, FillEvent
    from engine.feeds.replay import ReplayFeed
    from engine.secrets import Secrets
    from engine.wiring import venue_factory_for

    bus = EventBus()
    fills = bus.subscribe("bench", maxsize=10_000_000, coalesce=False)
    feed = ReplayFeed(directory, speed=None)  # unpaced: as fast as the engine takes the bars
    secrets = Secrets.load(environ={})
    engine: Engine | None = None
    engine = Engine(config, feed=feed, venue_factory=venue_factory_for(config, secrets, feed, lambda: engine.market_time()),
                    bus=bus, secrets=secrets)
    clock = time.perf_counter()
    await engine.run()
    seconds = time.perf_counter() - clock
    trades = [(e.fill.symbol, e.fill.side.value, e.fill.quantity, e.fill.price, e.fill.fee)
              for e in fills.drain() if isinstance(e, FillEvent)]
    return trades, seconds


def replay_comparison() -> dict:
    data = sim_data(REPLAY_SYMBOLS, 5, REPLAY_BARS)
    config = Config()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "replay"
        write_replay_dir(data, directory)
        engine_trades, engine_s = asyncio.run(_engine_replay(config, directory))
        clock = time.perf_counter()
        result = job.run(job.Request(config, "replay", data_path=str(directory)))
        backtest_s = time.perf_counter() - clock
    trades = [(f.symbol, f.side.value, f.quantity, f.price, f.fee) for _, f in result.outcome.recorded.fills]
    return {"symbol_bars": data.bars, "engine_s": engine_s, "backtest_s": backtest_s,
            "same": trades == engine_trades, "trades": len(trades)}


def shipped_comparison() -> dict:
    """Both commands as a user runs them, in their own processes with their own XDG directories."""
    data = sim_data(SHIPPED_SYMBOLS, 5, SHIPPED_BARS)
    with isolated_dirs() as home:
        directory = home / "replay"
        write_replay_dir(data, directory)
        (home / "config.json").write_text(json.dumps({"market": "replay", "replay_path": str(directory)}))
        commands = {
            "replay": ["run", "--headless", "--config", str(home / "config.json"), "--speed", "max"],
            "backtest": ["backtest", "--data", str(directory), "--out", str(home / "out"), "--quiet"],
        }
        seconds = {}
        for name, args in commands.items():
            clock = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds[name] = time.perf_counter() - clock
    return {"symbol_bars": data.bars, **seconds}


def seed_rate() -> float:
    from _strategy_market import synthetic_bars
    from _strategy_reference import seed_signals

    history = synthetic_bars(SEED_WINDOW + SEED_CYCLES + 10, seed=1)
    clock = time.perf_counter()
    for end in range(SEED_WINDOW, SEED_WINDOW + SEED_CYCLES):
        seed_signals(history.iloc[end - SEED_WINDOW:end])
    return SEED_CYCLES / (time.perf_counter() - clock)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller runs (a tenth or less)")
    parser.add_argument("--one", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.quick)))
        return 0
    runs = []
    for name in SCENARIOS:
        done = subprocess.run([sys.executable, __file__, "--one", name, *(["--quick"] if args.quick else [])],
                              stdout=subprocess.PIPE, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    replay = replay_comparison()
    shipped = shipped_comparison()
    seed = seed_rate()
    failed = False
    print()
    for run in runs:
        rate = run["symbol_bars"] / run["seconds"]
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in run["stages"].items() if k != "load")
        print(f"({'a' if run['name'].startswith('1x') else 'b'}) {run['name']:>11}: {run['symbol_bars']:>11,} "
              f"symbol-bars in {run['seconds']:6.1f} s = {rate:>9,.0f}/s  [{_verdict(rate >= TARGET_RATE)} >= "
              f"{TARGET_RATE:,}]  peak {run['peak_gb']:.2f} GB [{_verdict(run['peak_gb'] < TARGET_MEMORY_GB)} < "
              f"{TARGET_MEMORY_GB} GB]")
        print(f"     {stages}; {run['trades']:,} trades; engine step run on {run['stepped']:,} of "
              f"{run['minutes']:,} minutes (data generation {run['generated_s']:.1f} s, not counted)")
        failed |= rate < TARGET_RATE or run["peak_gb"] >= TARGET_MEMORY_GB
    engine_rate = replay["symbol_bars"] / replay["engine_s"]
    backtest_rate = replay["symbol_bars"] / replay["backtest_s"]
    ratio = backtest_rate / engine_rate
    print(f"(c) replay slice {replay['symbol_bars']:,} symbol-bars: engine replay {engine_rate:,.0f}/s, backtest "
          f"{backtest_rate:,.0f}/s (from the same files) = {ratio:.1f}x  [{_verdict(ratio >= TARGET_REPLAY_RATIO)} "
          f">= {TARGET_REPLAY_RATIO}x]; identical trades: {'yes' if replay['same'] else 'NO'} ({replay['trades']:,})")
    shipped_ratio = shipped["replay"] / shipped["backtest"]
    bars = shipped["symbol_bars"]
    print(f"(c2) {bars:,} symbol-bars (4 symbols x 14 days), whole processes: `run --headless "
          f"--market replay --speed max` {shipped['replay']:.1f} s ({bars / shipped['replay']:,.0f}/s), "
          f"`backtest` {shipped['backtest']:.1f} s ({bars / shipped['backtest']:,.0f}/s) = "
          f"{shipped_ratio:.1f}x  [{_verdict(shipped_ratio >= TARGET_REPLAY_RATIO)} >= {TARGET_REPLAY_RATIO}x]")
    best = max(run["symbol_bars"] / run["seconds"] for run in runs)
    print(f"(d) seed-style recompute: {seed:,.0f} symbol-bars/s (strategy only); backtest (a)/(b) best "
          f"{best:,.0f}/s = {best / seed:,.0f}x")
    failed |= ratio < TARGET_REPLAY_RATIO or shipped_ratio < TARGET_REPLAY_RATIO or not replay["same"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
