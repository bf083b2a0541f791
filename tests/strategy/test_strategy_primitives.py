"""Each streaming window function, scalar and vectorised, against pandas, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from _strategy_helpers import assert_identical
from _strategy_hypothesis import examples

from strategy.panel_rolling import VCount, VEwm, VMax, VMean, VQuantile, VStd
from strategy.rolling import Ewm, RollingCount, RollingMax, RollingMean, RollingQuantile, RollingStd

# (scalar class, vector class, pandas call) per window function
KINDS = {
    "mean": (RollingMean, VMean, lambda s, w: s.rolling(w).mean()),
    "std": (RollingStd, VStd, lambda s, w: s.rolling(w).std()),
    "q70": (
        lambda w: RollingQuantile(w, 0.70),
        lambda n, w: VQuantile(n, w, 0.70),
        lambda s, w: s.rolling(w).quantile(0.70),
    ),
    "q75": (
        lambda w: RollingQuantile(w, 0.75),
        lambda n, w: VQuantile(n, w, 0.75),
        lambda s, w: s.rolling(w).quantile(0.75),
    ),
    "max": (RollingMax, VMax, lambda s, w: s.rolling(w).max()),
    "ewm": (Ewm, VEwm, lambda s, span: s.ewm(span=span, adjust=False).mean()),
}
GAP_FREE_ONLY = {"max"}


def _nasty_series() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 1500
    steps = np.full(n, 1e-4)
    steps[400:] = 3e-4
    steps[900:905] = rng.normal(0, 1e-3, 5)
    gaps = rng.normal(size=n)
    gaps[rng.random(n) < 0.05] = np.nan
    gaps[::97] = np.inf
    tiny = rng.normal(size=n) * 1e-9
    tiny[::7] = -0.0
    return {
        "normal": rng.normal(size=n),
        "offset": 1e6 + rng.normal(size=n) * 1e-3,
        "jumps": np.where(rng.random(n) < 0.01, 1e8, 1.0) * rng.normal(size=n),
        "steps": steps,
        "leading_nan": np.concatenate([np.full(24, np.nan), rng.normal(size=n)]),
        "gaps": gaps,
        "ties": rng.integers(-3, 3, n).astype(float),
        "tiny": tiny,
        "walk": np.exp(np.cumsum(rng.normal(size=n) * 0.3)),
    }


def _scalar(kind: str, values: np.ndarray, w: int) -> np.ndarray:
    f = KINDS[kind][0](w)
    return np.array([f.update(float(v)) for v in values])


def _vector(kind: str, columns: list[np.ndarray], w: int, presence: np.ndarray) -> list[np.ndarray]:
    """Feed several series through one vector object; series i takes its next
    value only in the steps where presence[:, i] holds."""
    n = len(columns)
    obj = KINDS[kind][1](n, w)
    seen = np.zeros(n, dtype=np.int64)
    outs: list[list[float]] = [[] for _ in range(n)]
    with np.errstate(all="ignore"):
        for mask in presence:
            rows = np.flatnonzero(mask & (seen < [len(c) for c in columns]))
            if not len(rows):
                continue
            sel = slice(None) if len(rows) == n else rows
            x = np.array([columns[r][seen[r]] for r in rows])
            res = obj.update(sel, rows, seen[rows], x)
            for r, value in zip(rows, res):
                outs[r].append(value)
            seen[rows] += 1
    return [np.array(o) for o in outs]


def _served_pairs() -> list[tuple[str, str]]:
    """Every (kind, series) pair a primitive serves: the running max only sees gap-free prices."""
    series = _nasty_series()
    return [(kind, name) for kind in sorted(KINDS) for name in sorted(series)
            if kind not in GAP_FREE_ONLY or np.isfinite(series[name]).all()]


@pytest.mark.parametrize("kind, name", _served_pairs())
def test_scalar_equals_pandas_on_nasty_series(kind, name):
    values = _nasty_series()[name]
    for w in (2, 3, 24, 72, 240):
        expected = KINDS[kind][2](pd.Series(values), w).to_numpy()
        assert_identical(_scalar(kind, values, w), expected, f"{kind} w={w}")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_vector_equals_pandas_with_ragged_updates(kind):
    series = _nasty_series()
    names = [n for n in sorted(series) if kind not in GAP_FREE_ONLY or np.isfinite(series[n]).all()]
    columns = [series[n][:600] for n in names]
    presence = np.random.default_rng(1).random((900, len(columns))) < 0.75
    presence[:100] = True
    for w in (2, 24, 120):
        got = _vector(kind, columns, w, presence)
        for name, col, out in zip(names, columns, got):
            expected = KINDS[kind][2](pd.Series(col[: len(out)]), w).to_numpy()
            assert_identical(out, expected, f"{kind} {name} w={w}")


_values = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1.0, 1.0, 1e-4, np.nan, np.inf]),
)


@examples(150)
@given(
    values=st.lists(_values, min_size=1, max_size=120),
    kind=st.sampled_from(sorted(KINDS)),
    window=st.integers(2, 30),
)
def test_scalar_and_vector_equal_pandas_on_any_values(values, kind, window):
    arr = np.array(values, dtype=float)
    if kind in GAP_FREE_ONLY:
        arr = np.where(np.isfinite(arr), arr, 0.5)
    expected = KINDS[kind][2](pd.Series(arr), window).to_numpy()
    assert_identical(_scalar(kind, arr, window), expected, kind)
    presence = np.ones((len(arr), 1), dtype=bool)
    assert_identical(_vector(kind, [arr], window, presence)[0], expected, f"vector {kind}")


@examples(100)
@given(flags=st.lists(st.booleans(), min_size=1, max_size=150), window=st.integers(2, 60))
def test_count_equals_pandas_sum(flags, window):
    arr = np.array(flags, dtype=float)
    expected = pd.Series(arr).rolling(window).sum().to_numpy()
    scalar = RollingCount(window)
    assert_identical([scalar.update(f) for f in flags], expected, "scalar count")
    vector = VCount(1, window)
    got = [
        vector.update(slice(None), np.array([0]), np.array([i]), np.array([f]))[0]
        for i, f in enumerate(flags)
    ]
    assert_identical(got, expected, "vector count")


def test_ill_conditioned_variance_recomputes_like_pandas():
    # a huge outlier leaving the window wipes out the sum of squares: pandas
    # recomputes the window from scratch at that point, and so must we
    values = np.r_[np.full(50, 1.0), 1e12, np.full(200, 1.0) + np.arange(200) * 1e-9]
    expected = pd.Series(values).rolling(24).std().to_numpy()
    assert_identical(_scalar("std", values, 24), expected, "scalar")
    got = _vector("std", [values], 24, np.ones((len(values), 1), dtype=bool))[0]
    assert_identical(got, expected, "vector")
