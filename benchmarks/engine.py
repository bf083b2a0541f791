"""Engine speed figures, each with its target and PASS/FAIL.

1. The engine's own CPU per bar for 500 simulated symbols, beyond the strategy: total process
   CPU over the live bars minus the CPU spent inside the strategy panel in the same run.
2. The worst event-loop stall during those live bars (a 5 ms ticker measures how late it wakes;
   on a busy machine this includes time the OS gave to other processes).

Flatten figures are in benchmarks/flatten.py.

    python benchmarks/engine.py [--symbols 500] [--bars 120] [--speed 20] [--gross 5]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import strategy  # noqa: E402
from engine.config import from_mapping  # noqa: E402
from engine.events import EventBus  # noqa: E402
from engine.secrets import Secrets  # noqa: E402
from engine.wiring import build_engine  # noqa: E402

CPU_TARGET_MS = 10.0
STALL_TARGET_MS = 50.0


def verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "FAIL"


class StrategyMeter:
    """Times the strategy panel's updates (process CPU) so they can be taken out."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.calls = 0
        original = strategy.FactorPanel.update
        meter = self

        def timed(panel, bars):
            start = time.process_time()
            try:
                return original(panel, bars)
            finally:
                meter.cpu += time.process_time() - start
                meter.calls += 1

        strategy.FactorPanel.update = timed

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


class Consumers:
    """A coalescing desk and a lossless store writer, draining at 10 Hz; their CPU is theirs."""

    def __init__(self, bus: EventBus) -> None:
        self.desk = bus.subscribe("desk", coalesce=True)
        self.store = bus.subscribe("storage", coalesce=False)
        self.cpu = 0.0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            start = time.process_time()
            self.desk.drain()
            self.store.drain()
            self.cpu += time.process_time() - start


async def cycle_figures(n_symbols: int, bars: int, speed: float, gross: float | None) -> None:
    symbols = [f"S{i:03d}USDT" for i in range(n_symbols)]
    settings = {"universe": {"symbol_list": symbols}, "sim": {"speed": speed}}
    if gross is not None:
        settings["max_total_risk_exposure"] = gross
    config = from_mapping(settings)
    meter = StrategyMeter()
    stalls = StallMeter()
    bus = EventBus()
    engine = build_engine(config, Secrets.load(environ={}), bus)
    consumers = Consumers(bus)
    live = {}
    original_loop = engine._live_loop

    async def measured_loop(max_bars):
        meter.reset()
        consumers.cpu = 0.0
        stalls.counting = True
        live["cpu0"], live["wall0"] = time.process_time(), time.perf_counter()
        try:
            await original_loop(max_bars)
        finally:
            live["cpu1"], live["wall1"] = time.process_time(), time.perf_counter()
            stalls.counting = False

    engine._live_loop = measured_loop
    helpers = [asyncio.ensure_future(consumers.run()), asyncio.ensure_future(stalls.run())]
    started = time.perf_counter()
    await engine.run(max_bars=bars)
    for task in helpers:
        task.cancel()
    total_cpu = live["cpu1"] - live["cpu0"] - consumers.cpu
    per_bar = (total_cpu - meter.cpu) / bars * 1000
    strategy_per_bar = meter.cpu / bars * 1000
    warmup = live["wall0"] - started
    trades = engine.snapshot().equity.trade_count
    print(f"cycle: {n_symbols} symbols, {bars} live bars at {speed:g} bars/s, {trades} trades; "
          f"start-up with warm-up {warmup:.2f} s")
    print(f"  process CPU per bar {total_cpu / bars * 1000:.2f} ms = strategy {strategy_per_bar:.2f} ms "
          f"+ engine {per_bar:.2f} ms (the consumers' own {consumers.cpu / bars * 1000:.2f} ms left out)")
    print(f"  engine CPU per bar beyond the strategy: {per_bar:.2f} ms (target <= {CPU_TARGET_MS:g} ms, "
          f"ratio {per_bar / CPU_TARGET_MS:.2f}) {verdict(per_bar, CPU_TARGET_MS)}")
    worst = stalls.worst * 1000
    print(f"  worst event-loop stall: {worst:.1f} ms (target < {STALL_TARGET_MS:g} ms, "
          f"ratio {worst / STALL_TARGET_MS:.2f}) {verdict(worst, STALL_TARGET_MS)}")


async def main() -> None:
    logging.getLogger().addHandler(logging.NullHandler())  # the engine's warnings are not figures
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--bars", type=int, default=120)
    parser.add_argument("--speed", type=float, default=20.0, help="simulated bars per second")
    parser.add_argument("--gross", type=float, default=None,
                        help="max_total_risk_exposure (default: the config's; raise it to make 500 symbols trade)")
    args = parser.parse_args()
    await cycle_figures(args.symbols, args.bars, args.speed, args.gross)


if __name__ == "__main__":
    asyncio.run(main())
