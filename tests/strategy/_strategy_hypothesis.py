"""Hypothesis strategies: small windows and short, awkward bar series.

Values are drawn from small menus on purpose, so that series are full of ties,
constant runs, zero volume and flat funding: the cases where pandas' window
algorithms take their special branches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_RETURNS = (0.0, 0.0, 0.0, 1e-4, -1e-4, 2e-3, -2e-3, 0.01, -0.01, 0.04, -0.05)
_VOLUMES = (0.0, 1.0, 1.0, 5.0, 20.0, 250.0)
_BUY_SHARES = (0.0, 0.5, 0.5, 0.7, 1.0)
_FUNDING = (1e-4, 1e-4, 1e-4, -3e-4, 0.0, 7.5e-4)


def examples(n: int) -> settings:
    """Hypothesis settings for these tests: n examples, the same ones every run."""
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def small_params():
    return st.fixed_dictionaries(
        {
            "lookback_long": st.integers(4, 30),
            "lookback_medium": st.integers(2, 20),
            "lookback_short": st.integers(2, 10),
            "funding_roll": st.integers(2, 20),
            "mr_roll": st.integers(2, 20),
            "flow_roll": st.integers(2, 20),
            "perf_roll": st.integers(2, 20),
            "perf_smooth_span": st.integers(1, 10),
            "change_threshold_window": st.integers(2, 10),
            "change_threshold_mult": st.sampled_from([0.0, 0.4, 1.0]),
        }
    )


@st.composite
def bar_frames(draw, min_bars: int = 30, max_bars: int = 260):
    n = draw(st.integers(min_bars, max_bars))
    menu = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if menu:
        pick = lambda values: np.asarray(values)[rng.integers(0, len(values), n)]  # noqa: E731
        returns = pick(_RETURNS)
        volume = pick(_VOLUMES)
        share = pick(_BUY_SHARES)
        funding = np.repeat(pick(_FUNDING), draw(st.integers(1, 60)))[:n]
    else:
        returns = rng.normal(0.0, draw(st.sampled_from([1e-5, 1e-3, 2e-2])), n)
        volume = rng.lognormal(2.0, 1.0, n) * (rng.random(n) > 0.1)
        share = rng.random(n)
        funding = 1e-4 + np.cumsum(rng.normal(0.0, 1e-5, n))
    close = 100.0 * np.exp(np.cumsum(returns))
    open_ = np.concatenate(([close[0]], close[:-1]))
    taker_buy = volume * share
    index = pd.date_range("2024-03-01", periods=n, freq="1min")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": volume,
            "funding_rate": funding,
            "taker_buy_volume": taker_buy,
            "dollar_volume_delta": (2 * taker_buy - volume) * (open_ + close) / 2,
        },
        index=index,
    )
