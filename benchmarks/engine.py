"""Engine speed figures, each with its target and PASS/FAIL.

1. What ships, in this process: the engine with the store attached (none, SQLite, MariaDB on
   127.0.0.1:3306 in a database `tf_perf_bench_<pid>` created and dropped here), unthrottled, at 8,
   100 and 500 symbols of the simulated market, with the default caps and with every symbol
   trading. Per live bar: process CPU across all threads (time.process_time), the event loop's
   thread, the ledger's and the store writer's threads each, and the strategy; sustained
   symbol-bars/s; the worst event-loop stall (a 5 ms ticker measures how late it wakes; on a
   busy machine this includes time the OS gave to other processes).
2. From outside: `trifactor run --headless` in a subprocess with the shipped SQLite store,
   sustained symbol-bars/s and CPU per bar between its 20th and last printed bar.
3. Start-up: the whole process of `trifactor run --headless --bars 1` (default config, default
   SQLite store, paced sim market), wall clock, median of several runs at 8 and 500 symbols,
   against the targets; with `--startup-baseline DIR` (an older checkout) the same runs of that
   tree interleaved with these, so both see the same machine load.
Flatten figures are in benchmarks/flatten.py.

Every run has its own XDG directories in a temporary directory, so no state file of an
earlier run (a halt, paused symbols) changes what it measures.

    python benchmarks/engine.py [--symbols 8 100 500] [--bars 120] [--stores none sqlite mysql]
                                [--headless-bars 200] [--startup-runs 7] [--startup-baseline DIR]
                                [--skip ...]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.isolated import isolated_dirs  # noqa: E402
from engine.config import StorageConfig, from_mapping  # noqa: E402
from engine.events import EventBus  # noqa: E402
from engine.secrets import Secrets  # noqa: E402
from engine.signals import StrategyRunner  # noqa: E402
from engine.wiring import build_engine  # noqa: E402

CPU_TARGET_MS = 10.0  # per bar at 500 symbols, all trading, SQLite on, all threads
THROUGHPUT_TARGETS = {100: 50_000.0, 500: 60_000.0}  # sustained symbol-bars/s
STALL_TARGET_MS = 50.0
STARTUP_TARGETS_S = {8: 0.5, 500: 1.5}  # `run --headless --bars 1`, the whole process
MYSQL_DATABASE = f"tf_perf_bench_{os.getpid()}"  # its own, so two runs side by side do not share one
ROOT = Path(__file__).resolve().parents[1]
RUN_NUMBERS = itertools.count(1)
THREAD_NAMES = {"trifactor-ledger": "ledger", "trifactor-store-write": "writer"}


def verdict(value: float, target: float, higher_is_better: bool = False) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "PASS" if ok else "FAIL"


def settings_for(n_symbols: int, all_trading: bool) -> dict:
    settings: dict = {"universe": {"type": "all"}, "sim": {"symbols": n_symbols, "speed": 1000}}
    if all_trading:
        settings.update(max_total_risk_exposure=5, max_position_risk_per_trade=0.5)
    return settings


def thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds of the store's named threads, by thread id (each thread's own clock)."""
    out: dict[int, tuple[str, float]] = {}
    for thread in threading.enumerate():
        label = THREAD_NAMES.get(thread.name)
        if label is None or thread.ident is None:
            continue
        with contextlib.suppress(OSError, ValueError):
            out[thread.ident] = (label, time.clock_gettime(time.pthread_getcpuclockid(thread.ident)))
    return out


def thread_cpu_spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """Per label, the CPU the threads alive at the end spent since `before` (from 0 if started since)."""
    spent: dict[str, float] = {}
    for ident, (label, cpu) in after.items():
        spent[label] = spent.get(label, 0.0) + cpu - before.get(ident, (label, 0.0))[1]
    return spent


class StrategyMeter:
    """Times the strategy's updates, whichever kernel runs them (CPU of the calling thread), so
    they can be told apart."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.calls = 0
        original = StrategyRunner.update
        meter = self

        def timed(runner, bars):
            start = time.thread_time()
            try:
                return original(runner, bars)
            finally:
                meter.cpu += time.thread_time() - start
                meter.calls += 1

        StrategyRunner.update = timed

    def reset(self) -> None:
        self.cpu, self.calls = 0.0, 0


class StallMeter:
    def __init__(self, tick: float = 0.005) -> None:
        self.tick = tick
        self.worst = 0.0
        self.counting = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.tick)
            late = loop.time() - before - self.tick
            if self.counting and late > self.worst:
                self.worst = late


@dataclass
class RunFigures:
    symbols: int
    all_trading: bool
    store: str
    bars: int
    trades: int
    start_s: float
    process_ms: float  # per bar, all threads
    loop_ms: float  # the event loop's thread
    strategy_ms: float
    threads_ms: dict[str, float]
    wall_ms: float
    stall_ms: float

    @property
    def symbol_bars_per_s(self) -> float:
        return self.symbols * 1000.0 / self.wall_ms

    @property
    def cpu_bound_per_s(self) -> float:
        """What one core's worth of this run's CPU would sustain: the figure a shared, busy machine
        (where the wall clock includes other processes' turns) does not show."""
        return self.symbols * 1000.0 / self.process_ms


def mysql_admin(statement: str) -> None:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
        conn.commit()
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def store_for(kind: str, tmp: Path):
    if kind == "none":
        yield None
        return
    from storage import open_store

    if kind == "sqlite":
        url = f"sqlite:///{tmp}/bench.db"
    else:
        mysql_admin(f"DROP DATABASE IF EXISTS {MYSQL_DATABASE}")
        mysql_admin(f"CREATE DATABASE {MYSQL_DATABASE}")
        url = f"mysql://root@127.0.0.1:3306/{MYSQL_DATABASE}"
    # A fresh instance name per run: a server's instance lock is the database's and the instance's.
    store = open_store(url, StorageConfig(), Secrets.load(environ={}), instance=f"bench{next(RUN_NUMBERS)}")
    await store.start()
    try:
        yield store
    finally:
        await store.close()
        if kind == "mysql":
            mysql_admin(f"DROP DATABASE IF EXISTS {MYSQL_DATABASE}")


async def live_run(n_symbols: int, bars: int, all_trading: bool, store_kind: str, meter: StrategyMeter,
                   settings_extra: dict | None = None) -> RunFigures:
    settings = settings_for(n_symbols, all_trading)
    settings.update(settings_extra or {})
    config = from_mapping(settings)
    secrets = Secrets.load(environ={})
    with isolated_dirs() as tmp:
        async with store_for(store_kind, tmp) as store:
            bus = EventBus()
            if store is not None:
                store.attach(bus)
            engine = build_engine(config, secrets, bus, store=store)
            engine.feed.paced = False
            desk = bus.subscribe("desk", coalesce=True)
            stalls = StallMeter()
            live: dict = {}
            original_loop = engine._live_loop

            async def measured_loop(max_bars):
                if store is not None:
                    await store.flush()  # the warm-up's rows are not the live bars' cost
                # The ticker's sleep in flight spans the warm-up's long turns: let it wake before counting.
                await asyncio.sleep(2 * stalls.tick)
                meter.reset()
                stalls.counting = True
                live["t0"] = (time.process_time(), time.thread_time(), thread_cpu(), time.perf_counter())
                try:
                    await original_loop(max_bars)
                    if store is not None:
                        await store.flush()  # sustained: what the live bars queued is written too
                finally:
                    live["t1"] = (time.process_time(), time.thread_time(), thread_cpu(), time.perf_counter())
                    stalls.counting = False

            async def drain():
                while True:
                    await asyncio.sleep(0.1)
                    desk.drain()

            engine._live_loop = measured_loop
            helpers = [asyncio.ensure_future(drain()), asyncio.ensure_future(stalls.run())]
            started = time.perf_counter()
            await engine.run(max_bars=bars)
            for task in helpers:
                task.cancel()
            trades = engine.snapshot().equity.trade_count
    (p0, l0, th0, w0), (p1, l1, th1, w1) = live["t0"], live["t1"]
    per = 1000.0 / bars
    threads = {k: v * per for k, v in thread_cpu_spent(th0, th1).items()}
    return RunFigures(n_symbols, all_trading, store_kind, bars, trades, w0 - started, (p1 - p0) * per,
                      (l1 - l0) * per, meter.cpu * per, threads, (w1 - w0) * per, stalls.worst * 1000)


def print_run(f: RunFigures) -> None:
    threads = ", ".join(f"{k} {v:.2f}" for k, v in sorted(f.threads_ms.items())) or "none"
    caps = "all trading" if f.all_trading else "default caps"
    print(f"  {f.symbols:>3} symbols, {caps:<12}, store {f.store:<6}: CPU/bar all threads {f.process_ms:6.2f} ms "
          f"(loop {f.loop_ms:.2f} = strategy {f.strategy_ms:.2f} + engine {f.loop_ms - f.strategy_ms:.2f}; "
          f"{threads}); {f.symbol_bars_per_s / 1000:6.1f}k symbol-bars/s by the wall clock, "
          f"{f.cpu_bound_per_s / 1000:.1f}k by CPU; stall {f.stall_ms:.0f} ms; "
          f"{f.trades} trades; start {f.start_s:.2f} s")


def print_targets(runs: list[RunFigures]) -> None:
    for f in runs:
        if f.store != "sqlite" or not f.all_trading:
            continue
        if f.symbols == 500:
            print(f"  CPU per bar at 500 symbols, all trading, SQLite: {f.process_ms:.2f} ms "
                  f"(target <= {CPU_TARGET_MS:g} ms, ratio {f.process_ms / CPU_TARGET_MS:.2f}) "
                  f"{verdict(f.process_ms, CPU_TARGET_MS)}")
            print(f"  worst event-loop stall there: {f.stall_ms:.1f} ms (target < {STALL_TARGET_MS:g} ms) "
                  f"{verdict(f.stall_ms, STALL_TARGET_MS)}")
        target = THROUGHPUT_TARGETS.get(f.symbols)
        if target:
            rate = f.symbol_bars_per_s
            print(f"  sustained at {f.symbols} symbols, all trading, SQLite: {rate / 1000:.1f}k symbol-bars/s "
                  f"(target >= {target / 1000:g}k, ratio {rate / target:.2f}) {verdict(rate, target, True)}; "
                  f"by CPU {f.cpu_bound_per_s / 1000:.1f}k (ratio {f.cpu_bound_per_s / target:.2f})")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def headless_run(n_symbols: int, bars: int, all_trading: bool, skip: int = 20) -> tuple[float, float, float]:
    """(seconds to the first printed bar, sustained symbol-bars/s, CPU ms per bar) of a real
    `trifactor run --headless` with the shipped SQLite store."""
    import json

    with isolated_dirs() as tmp:
        config_path = tmp / "config.json"
        config_path.write_text(json.dumps(settings_for(n_symbols, all_trading)))
        cmd = [sys.executable, "-m", "tui.cli", "run", "--headless", "--bars", str(bars), "--speed", "1000",
               "--config", str(config_path), "--db", f"sqlite:///{tmp}/headless.db"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env=dict(os.environ))
        marks: list[tuple[float, float]] = []
        for line in proc.stdout:
            if line[:4].isdigit() and "equity" in line:  # one line per bar
                marks.append((time.perf_counter(), proc_cpu(proc.pid)))
        proc.wait()
    if len(marks) <= skip + 1:
        return float("nan"), float("nan"), float("nan")
    (t0, c0), (t1, c1) = marks[skip], marks[-1]
    n = len(marks) - 1 - skip
    return marks[0][0] - started, n * n_symbols / (t1 - t0), (c1 - c0) / n * 1000


def startup_run(n_symbols: int, root: Path = ROOT) -> float:
    """Wall seconds of a whole `trifactor run --headless --bars 1` process of the tree at `root`:
    the default config at 8 symbols, else `universe: {type: all}` with `sim.symbols`."""
    import json

    with isolated_dirs() as tmp:
        cmd = [sys.executable, "-m", "tui.cli", "run", "--headless", "--bars", "1"]
        if n_symbols != 8:
            config_path = tmp / "config.json"
            config_path.write_text(json.dumps({"universe": {"type": "all"}, "sim": {"symbols": n_symbols}}))
            cmd += ["--config", str(config_path)]
        started = time.perf_counter()
        # cwd=root: its packages come first on sys.path, ahead of the editable install's.
        subprocess.run(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=dict(os.environ))
        return time.perf_counter() - started


def print_startup(runs: int, baseline: Path | None) -> None:
    trees = [("this tree", ROOT)] + ([("baseline", baseline)] if baseline else [])
    print(f"start-up, `trifactor run --headless --bars 1`, whole process, median of {runs} runs"
          + (", interleaved with the baseline's:" if baseline else ":"))
    for n, target in STARTUP_TARGETS_S.items():
        times: dict[str, list[float]] = {label: [] for label, _ in trees}
        for _ in range(runs):
            for label, root in trees:
                times[label].append(startup_run(n, root))
        for label, _ in trees:
            median = statistics.median(times[label])
            print(f"  {n:>3} symbols, {label:<9}: {median:.2f} s (min {min(times[label]):.2f}, "
                  f"max {max(times[label]):.2f}; target <= {target:g} s, ratio {median / target:.2f}) "
                  f"{verdict(median, target)}")


async def main() -> None:
    logging.getLogger().addHandler(logging.NullHandler())  # the engine's warnings are not figures
    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, nargs="+", default=[8, 100, 500])
    parser.add_argument("--bars", type=int, default=120)
    parser.add_argument("--stores", nargs="+", default=["none", "sqlite", "mysql"],
                        choices=["none", "sqlite", "mysql"])
    parser.add_argument("--headless-bars", type=int, default=200)
    parser.add_argument("--startup-runs", type=int, default=7)
    parser.add_argument("--startup-baseline", type=Path, metavar="DIR",
                        help="an older checkout whose start-up is timed interleaved with this tree's")
    parser.add_argument("--skip", nargs="*", default=[], choices=["live", "headless", "startup"])
    args = parser.parse_args()
    if "live" not in args.skip:
        meter = StrategyMeter()
        runs = []
        print(f"live bars in this process, unthrottled, {args.bars} bars a run (CPU per bar in ms):")
        for n in args.symbols:
            for all_trading in (False, True):
                for kind in args.stores:
                    runs.append(await live_run(n, args.bars, all_trading, kind, meter))
                    print_run(runs[-1])
        print_targets(runs)
    if "headless" not in args.skip:
        print(f"trifactor run --headless, SQLite, --speed 1000, {args.headless_bars} bars, all trading:")
        for n in args.symbols:
            first, rate, cpu = headless_run(n, args.headless_bars, True)
            print(f"  {n:>3} symbols: first bar after {first:.2f} s; sustained {rate / 1000:.1f}k symbol-bars/s, "
                  f"CPU {cpu:.2f} ms a bar (all threads)")
    if "startup" not in args.skip:
        print_startup(args.startup_runs, args.startup_baseline)


if __name__ == "__main__":
    asyncio.run(main())
