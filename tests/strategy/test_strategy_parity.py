"""compute_factors against the seed's calculate_signals (the reference)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from _strategy_hypothesis import bar_frames, examples, small_params
from _strategy_reference import RESULT_KEYS, seed_series
from _strategy_helpers import assert_close

from strategy import FACTOR_KEYS, StrategyParams, compute_factors, warmup_bars


def test_batch_equals_seed_on_every_growing_prefix(market, reference):
    out = compute_factors(market)
    assert out.index.equals(market.index)
    first = 239
    assert list(reference.index) == list(market.index[first:])
    for key in RESULT_KEYS:
        assert_close(out[key].to_numpy()[first:], reference[key].to_numpy(), key)


def test_rows_before_lookback_long_are_nan(market):
    out = compute_factors(market)
    assert out[list(FACTOR_KEYS) + ["target_factor"]].iloc[:239].isna().all().all()
    assert out["target_changed"].iloc[:239].isna().all()
    assert out[list(FACTOR_KEYS)].iloc[239:].notna().all().all()


def test_market_exercises_every_branch(market):
    out = compute_factors(market).iloc[warmup_bars() :]
    assert (out["extreme_market_factor"] < 0.5).any() and (out["extreme_market_factor"] == 1).any()
    assert (out["trend_filter"] < 1).any()
    assert ((out["funding_signal_raw"].abs() > out["funding_threshold"]).sum()) > 10
    assert ((out["funding_signal_raw"].abs() <= out["funding_threshold"]).sum()) > 10
    assert (out["mr_signal"] != 0).sum() > 10
    assert ((out["flow_combined"].abs() > out["flow_threshold"]).sum()) > 10
    assert set(out["volume_filter"].unique()) == {0.0, 1.0}
    assert (out["drawdown_scale"] < 1).any()
    assert (out["conviction_scale"] == 1.5).any() and (out["conviction_scale"] < 1).any()
    changed = out["target_changed"].astype(bool)
    assert changed.any() and (~changed).any()


def test_warmup_bars_is_where_the_formula_stops_using_placeholders(market):
    for params in (None, {"lookback_long": 100, "perf_roll": 50, "lookback_medium": 30}):
        p = StrategyParams(**(params or {}))
        strict = seed_series(market, params, strict=True)
        first_defined = max(int(np.argmax(s.notna().to_numpy())) for s in strict.values())
        final = strict["final_factor"].copy()
        final.iloc[: p.lookback_long - 1] = np.nan
        threshold = final.rolling(p.change_threshold_window).std()
        last_component = int(np.argmax(threshold.notna().to_numpy()))
        assert first_defined < last_component
        assert warmup_bars(params) == last_component + 1
    assert warmup_bars() == 956


@examples(40)
@given(df=bar_frames(), params=small_params())
def test_batch_equals_seed_for_any_series_and_windows(df, params):
    out = compute_factors(df, params)
    first = params["lookback_long"] - 1
    ref = seed_series(df, params)
    for key in RESULT_KEYS:
        expected = ref[key].to_numpy()[first:].copy()
        expected[~np.isfinite(expected)] = 0.0
        assert_close(out[key].to_numpy()[first:], expected, key)


def test_params_change_the_result(market):
    base = compute_factors(market)
    other = compute_factors(market, {"target_signal_volatility": 0.4})
    assert_close(other["final_factor"].iloc[239:], 2 * base["final_factor"].iloc[239:], "scaled")
    assert isinstance(base, pd.DataFrame)
