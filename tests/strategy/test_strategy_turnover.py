"""The change-threshold (turnover) filter."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from _strategy_helpers import assert_identical
from _strategy_hypothesis import examples

from strategy import compute_factors, target_factors
from strategy.turnover import ChangeThreshold, change_threshold_filter


def _by_hand(factor: list[float], window: int, mult: float) -> list[float]:
    """Straight from the description: keep the previous target unless the move
    exceeds mult x the rolling std of the factor (undefined std: keep)."""
    targets, previous = [], 0.0
    for t in range(len(factor)):
        recent = factor[max(0, t - window + 1) : t + 1]
        std = float(np.std(recent, ddof=1)) if len(recent) == window else float("nan")
        if std == std and abs(factor[t] - previous) > mult * std:
            previous = factor[t]
        targets.append(previous)
    return targets


def test_worked_example():
    factor = [0.5, 0.52, 0.9, 0.91, 0.3, 0.31, 0.305]
    filt = ChangeThreshold(window=3, mult=0.4)
    out = [filt.update(f) for f in factor]
    targets = [t for t, _, _ in out]
    # bars 1-2: std undefined, the target stays at its start value 0
    assert targets[:2] == [0.0, 0.0]
    # a small move passes once the window is calm (its std, and so the threshold, is small)
    assert targets == [0.0, 0.0, 0.9, 0.9, 0.3, 0.3, 0.305]
    assert [c for _, _, c in out] == [False, False, True, False, True, False, True]
    assert np.allclose(targets, _by_hand(factor, 3, 0.4))
    threshold = out[2][1]
    assert np.isclose(threshold, 0.4 * np.std([0.5, 0.52, 0.9], ddof=1))


@examples(100)
@given(
    factor=st.lists(st.floats(-5, 5) | st.sampled_from([0.0, 1.0, 1.0]), min_size=1, max_size=80),
    window=st.integers(2, 12),
    mult=st.sampled_from([0.0, 0.1, 0.4, 2.0]),
)
def test_bar_by_bar_equals_whole_series(factor, window, mult):
    filt = ChangeThreshold(window, mult)
    streamed = [filt.update(f) for f in factor]
    target, threshold, changed = change_threshold_filter(np.array(factor), window, mult)
    assert_identical([t for t, _, _ in streamed], target, "target")
    assert_identical([th for _, th, _ in streamed], threshold, "threshold")
    assert [c for _, _, c in streamed] == changed.tolist()
    assert np.allclose(target, _by_hand(factor, window, mult), rtol=1e-12, atol=1e-12)


def test_series_starts_at_the_first_reported_factor():
    factor = np.array([np.nan, np.nan, 1.0, 1.2, 3.0, 3.05, 3.005])
    target, threshold, changed = change_threshold_filter(factor, 3, 0.4)
    assert np.isnan(target[:2]).all() and np.isnan(threshold[:4]).all()
    assert target[2:].tolist() == [0.0, 0.0, 3.0, 3.0, 3.0]
    assert changed.tolist() == [False, False, False, False, True, False, False]


def test_batch_target_follows_final_factor(market):
    out = compute_factors(market).iloc[239:]
    final = out["final_factor"].to_numpy()
    expected = _by_hand(final.tolist(), 24, 0.4)
    assert np.allclose(out["target_factor"], expected, rtol=1e-12, atol=1e-12)
    held = ~out["target_changed"].astype(bool)
    # a held bar repeats the previous target; a changed bar takes the factor
    target = out["target_factor"].to_numpy()
    assert (target[1:][held.to_numpy()[1:]] == target[:-1][held.to_numpy()[1:]]).all()
    assert (target[~held.to_numpy()] == final[~held.to_numpy()]).all()
    assert isinstance(out["target_changed"].dtype, pd.BooleanDtype)


def test_target_factors_alone_are_the_batch_target_column(market):
    for params in (None, {"change_threshold_mult": 0.0}, {"change_threshold_mult": 3.0, "change_threshold_window": 10}):
        alone = target_factors(market, params)
        column = compute_factors(market, params)["target_factor"].to_numpy()
        assert_identical(alone, column, "target_factor")
        assert np.isnan(alone[:239]).all() and not np.isnan(alone[239:]).any()


def test_mult_and_window_come_from_params(market):
    loose = compute_factors(market, {"change_threshold_mult": 0.0})
    tight = compute_factors(market, {"change_threshold_mult": 3.0, "change_threshold_window": 10})
    rows = slice(239 + 24, None)
    # with no threshold every defined bar moves the target to the factor
    assert (loose["target_factor"].iloc[rows] == loose["final_factor"].iloc[rows]).all()
    assert tight["target_changed"].iloc[rows].sum() < loose["target_changed"].iloc[rows].sum()
