"""Properties every reported row must have, whatever the market."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from _strategy_hypothesis import bar_frames, examples, small_params

from strategy import FACTOR_KEYS, STREAM_KEYS, compute_factors

# clip bounds of each raw weight; normalising by the sum widens them to
# lo / (lo + other highs) .. hi / (hi + other lows)
_WEIGHT_CLIPS = {"funding_weight": (0.4, 0.6), "mr_weight": (0.25, 0.4), "flow_weight": (0.15, 0.25)}


def _weight_bounds(name: str) -> tuple[float, float]:
    lo, hi = _WEIGHT_CLIPS[name]
    others = [v for k, v in _WEIGHT_CLIPS.items() if k != name]
    return lo / (lo + sum(h for _, h in others)), hi / (hi + sum(low for low, _ in others))


def check_invariants(out: pd.DataFrame) -> None:
    eps = 1e-12
    assert np.isfinite(out.drop(columns=["target_changed"]).to_numpy(dtype=float)).all()
    weights = out[list(_WEIGHT_CLIPS)]
    assert np.allclose(weights.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    for name in _WEIGHT_CLIPS:
        lo, hi = _weight_bounds(name)
        assert out[name].between(lo - eps, hi + eps).all(), name

    def within(name, lo, hi):
        assert out[name].between(lo, hi).all(), (name, out[name].min(), out[name].max())

    within("risk_scale", 0.3, 1.0)
    within("extreme_market_factor", 0.3, 1.0)
    assert set(np.round(out["extreme_market_factor"].unique(), 12)) <= {0.3, 1.0}
    within("trend_filter", 0.0, 1.0)
    within("conviction_scale", 0.0, 1.5)
    within("vol_regime", -2.0, 2.0)
    within("trend_regime", -0.1, 0.1)
    within("trend_filter_mr", 0.2, 1.0)
    within("volume_scale", 0.8, 1.3)
    within("vol_risk_scale", 0.4, 1.2)
    within("drawdown_scale", 0.5, 1.0)
    # a std still undefined (window not full) reads 0, a defined one is clipped at 1e-8
    assert ((out["factor_std"] == 0) | (out["factor_std"] >= 1e-8)).all()
    within("signal_threshold", 0.0, np.inf)
    within("change_threshold", 0.0, np.inf)
    assert set(out["volume_filter"].unique()) <= {0.0, 1.0}
    assert np.allclose(
        out["filtered_factor"],
        out["raw_factor"] * out["trend_filter"] * out["risk_scale"] * out["extreme_market_factor"],
        rtol=1e-12,
        atol=1e-15,
    )
    changed = out["target_changed"].astype(bool).to_numpy()
    assert (out["target_factor"].to_numpy()[changed] == out["final_factor"].to_numpy()[changed]).all()


def test_invariants_on_the_market(market):
    out = compute_factors(market).iloc[239:]
    check_invariants(out)
    assert set(out.columns) == set(STREAM_KEYS) - {"timestamp"}
    assert out[list(FACTOR_KEYS)].abs().max().max() < 1e3


@examples(40)
@given(df=bar_frames(), params=small_params())
def test_invariants_for_any_series(df, params):
    check_invariants(compute_factors(df, params).iloc[params["lookback_long"] - 1 :])
