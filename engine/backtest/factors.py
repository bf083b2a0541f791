"""The strategy's targets for a whole history at once, from the batch pipeline.

`strategy.compute_factors` equals the streaming pipeline the engine runs bit for bit (the
strategy's parity tests), so the targets here are the ones the engine would act on; its target
column alone is `strategy.target_factors`. A symbol is ready once it has seen the strategy's
warm-up bars, as the engine's StrategyRunner counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import strategy
from engine.backtest.data import MarketData


@dataclass
class Targets:
    target: np.ndarray  # (minutes, symbols) target_factor; NaN where the symbol has no bar or is not ready
    warmup_bars: int


def compute_targets(data: MarketData, params: dict, progress: Callable[[int], None] | None = None) -> Targets:
    warmup = strategy.warmup_bars(params)
    shape = data.fields["close"].shape
    target = np.full(shape, np.nan)
    for j in range(len(data.symbols)):
        frame = data.frame(j)
        rows = np.flatnonzero(~np.isnan(data.fields["close"][:, j]))
        wanted = strategy.target_factors(frame, params)
        ready = np.arange(1, len(rows) + 1) >= warmup  # bars seen, as compute_factors counts them
        target[rows[ready], j] = wanted[ready]
        del wanted, frame
        if progress is not None:
            progress(len(rows))
    return Targets(target, warmup)
