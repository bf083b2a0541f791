"""Which strategy kernel suits which universe: one FactorStream per symbol against one
FactorPanel, per live minute (the engine's StrategyRunner.update, Bars in, results out), after
a warm-up, on the simulated market. Prints both per size and where the panel starts to win;
engine/signals.py STREAMS_UP_TO is set from it.

Then the warm-up, at 8 and 500 symbols: the old path (the history as Bars, one
StrategyRunner.update per minute on the panel) against the one shipped (the history as arrays,
one StrategyRunner.warm on the kernel for the size).

    python benchmarks/kernels.py [--sizes 8 16 32 48 64 96 128] [--minutes 200] [--rounds 3]
                                 [--warm-sizes 8 500]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import signals  # noqa: E402
from engine.config import from_mapping  # noqa: E402
from engine.feeds.sim import SimFeed  # noqa: E402
from engine.signals import StrategyRunner  # noqa: E402


async def minutes_for(size: int, minutes: int):
    config = from_mapping({"universe": {"type": "all"}, "sim": {"symbols": size, "warmup_bars": 1000}})
    feed = SimFeed(config, paced=False)
    await feed.start()
    history = feed.warmup_history(10**6)
    live = []
    async for bars in feed.stream():
        live.append({b.symbol: b for b in bars})
        if len(live) == minutes:
            break
    return config, feed.symbols, history, live


def per_minute_ms(kernel: str, config, symbols, history, live) -> float:
    runner = StrategyRunner(symbols, config.strategy_params(), kernel=kernel)
    runner.warm(history.stamps, history.strategy_inputs(), history.present)
    start = time.process_time()
    for bars in live:
        runner.update(bars)
    return (time.process_time() - start) / len(live) * 1000


async def warm_figures(size: int) -> tuple[float, float]:
    """(old, new) CPU seconds to warm the strategy from the sim's history."""
    config = from_mapping({"universe": {"type": "all"}, "sim": {"symbols": size, "warmup_bars": 956}})
    feed = SimFeed(config, paced=False)
    await feed.start()
    start = time.process_time()
    histories = [await feed.warmup(s, 10**6) for s in feed.symbols]
    old = StrategyRunner(feed.symbols, config.strategy_params(), kernel="panel")
    for minute in zip(*histories):
        old.update({b.symbol: b for b in minute})
    old_cpu = time.process_time() - start
    start = time.process_time()
    history = feed.warmup_history(10**6)
    new = StrategyRunner(feed.symbols, config.strategy_params())
    new.warm(history.stamps, history.strategy_inputs(), history.present)
    return old_cpu, time.process_time() - start


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32, 48, 64, 96, 128])
    p.add_argument("--minutes", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warm-sizes", type=int, nargs="*", default=[8, 500])
    args = p.parse_args()
    crossing = None
    print(f"CPU per live minute, median of {args.rounds} rounds (ms):")
    for size in args.sizes:
        data = await minutes_for(size, args.minutes)
        streams, panel = [], []
        for _ in range(args.rounds):  # in turns, so a busy machine slows both alike
            streams.append(per_minute_ms("streams", *data))
            panel.append(per_minute_ms("panel", *data))
        s, q = statistics.median(streams), statistics.median(panel)
        if crossing is None and q < s:
            crossing = size
        print(f"  {size:>4} symbols: streams {s:6.3f}, panel {q:6.3f} (panel/streams {q / s:.2f})")
    print(f"panel cheaper from {crossing} symbols on; the engine uses streams up to {signals.STREAMS_UP_TO}"
          if crossing else f"streams cheaper at every size measured; the engine uses them up to {signals.STREAMS_UP_TO}")
    for size in args.warm_sizes:
        old, new = await warm_figures(size)
        print(f"warm-up of 956 minutes at {size} symbols, CPU: old per-minute path {old:.2f} s, "
              f"shipped {new:.2f} s (ratio {old / new:.1f}x)")


if __name__ == "__main__":
    asyncio.run(main())
