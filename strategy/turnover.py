"""The change-threshold (turnover) filter on the standardised factor.

The target moves to the new factor only when it differs from the current
target by more than ``mult`` times the rolling ``window``-bar standard
deviation (ddof=1) of the factor itself; small wiggles keep the previous
target, which saves trading costs. The target starts at 0 and holds while that
standard deviation is still undefined. The factor series starts at the first
bar the pipeline reports (bar ``lookback_long``).
"""

from __future__ import annotations

import numpy as np

from .rolling import RollingStd


class ChangeThreshold:
    """Bar-by-bar filter: ``update(factor) -> (target, threshold, changed)``."""

    __slots__ = ("mult", "target", "_std")

    def __init__(self, window: int, mult: float) -> None:
        self.mult = mult
        self.target = 0.0
        self._std = RollingStd(window)

    def update(self, factor: float) -> tuple[float, float, bool]:
        threshold = self._std.update(factor) * self.mult
        # a NaN threshold (std not defined yet) compares False: the target holds
        if abs(factor - self.target) > threshold:
            self.target = factor
            return factor, threshold, True
        return self.target, threshold, False


def change_threshold_filter(
    factor: np.ndarray, window: int, mult: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same filter over a whole factor series (NaN rows are not reported
    yet and stay NaN). Returns (target, threshold, changed)."""
    import pandas as pd  # the batch path only: the live engine starts without pandas

    threshold = pd.Series(factor).rolling(window).std().to_numpy() * mult
    reported = np.flatnonzero(~np.isnan(factor))
    factors = factor[reported]
    # The target only moves at a flip, so the loop just finds the flips; a
    # NaN threshold compares False and holds the target, as it should.
    flips = []
    current = 0.0
    for i, f, th in zip(range(len(factors)), factors.tolist(), threshold[reported].tolist()):
        if abs(f - current) > th:
            current = f
            flips.append(i)
    moved = np.zeros(len(factors), dtype=bool)
    moved[flips] = True
    last_flip = np.maximum.accumulate(np.where(moved, np.arange(len(factors)), -1))
    target = np.full(len(factor), np.nan)
    target[reported] = np.where(last_flip >= 0, factors[last_flip], 0.0)
    changed = np.zeros(len(factor), dtype=bool)
    changed[reported] = moved
    return target, threshold, changed
