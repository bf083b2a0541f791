"""The strategy's targets for a whole history at once, from the batch pipeline.

`strategy.compute_factors` equals the streaming pipeline the engine runs bit for bit (the
strategy's parity tests), so the targets here are the ones the engine would act on; its target
column alone is `strategy.target_factors`. A symbol is ready once it has seen the strategy's
warm-up bars, as the engine's StrategyRunner counts.

Symbols are computed on several threads at once: pandas' window kernels and numpy's array
operations release the GIL, so two threads come close to twice the speed on two cores. Each
symbol's series is its own, so the threads share nothing but the output array's columns.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

import strategy
from engine.backtest.data import MarketData


@dataclass
class Targets:
    target: np.ndarray  # (minutes, symbols) target_factor; NaN where the symbol has no bar or is not ready
    warmup_bars: int


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def compute_targets(data: MarketData, params: dict, progress: Callable[[int], None] | None = None,
                    threads: int | None = None) -> Targets:
    """`threads`: how many symbols at once (default: one per usable core)."""
    warmup = strategy.warmup_bars(params)
    close = data.fields["close"]
    target = np.full(close.shape, np.nan)

    def one(j: int) -> int:
        rows = np.flatnonzero(~np.isnan(close[:, j]))
        wanted = strategy.target_factors(data.frame(j), params)
        ready = np.arange(1, len(rows) + 1) >= warmup  # bars seen, as compute_factors counts them
        target[rows[ready], j] = wanted[ready]
        return len(rows)

    workers = max(1, min(threads or usable_cores(), len(data.symbols)))
    with ThreadPoolExecutor(workers, thread_name_prefix="trifactor-factors") as pool:
        # Progress is reported here, on the caller's thread, in symbol order.
        for bars in pool.map(one, range(len(data.symbols))):
            if progress is not None:
                progress(bars)
    return Targets(target, warmup)
