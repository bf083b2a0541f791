"""Degenerate markets and bad frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _strategy_helpers import assert_close, assert_stream_equals_batch, bar_records
from _strategy_market import synthetic_bars
from _strategy_reference import RESULT_KEYS, seed_series

from strategy import FACTOR_KEYS, FactorStream, compute_factors


def _agree_everywhere(df: pd.DataFrame) -> pd.DataFrame:
    """Batch equals the seed and the stream equals the batch; returns the batch."""
    out = compute_factors(df)
    ref = seed_series(df)
    for key in RESULT_KEYS:
        expected = ref[key].to_numpy()[239:].copy()
        expected[~np.isfinite(expected)] = 0.0
        assert_close(out[key].to_numpy()[239:], expected, key)
    stream = FactorStream()
    assert_stream_equals_batch([stream.update(b) for b in bar_records(df)], out, 240)
    assert out.iloc[239:].drop(columns="target_changed").notna().all().all()
    return out


def _flat(n: int = 800) -> pd.DataFrame:
    df = synthetic_bars(n, seed=5)
    df[["open", "high", "low", "close"]] = 100.0
    df["funding_rate"] = 1e-4
    df["volume"] = 10.0
    df["taker_buy_volume"] = 5.0
    df["dollar_volume_delta"] = 0.0
    return df


def test_constant_everything():
    out = _agree_everywhere(_flat()).iloc[239:]
    assert (out["returns"] == 0).all()
    assert (out[list(FACTOR_KEYS[:6])] == 0).all().all()
    assert (out["target_factor"] == 0).all()


def test_constant_price_with_live_flow_and_funding():
    df = synthetic_bars(900, seed=9)
    df[["open", "high", "low", "close"]] = 250.0
    out = _agree_everywhere(df).iloc[239:]
    assert (out["returns"] == 0).all() and (out["mr_signal"] == 0).all()
    # the trend starts from the placeholder -0.1 and decays towards the flat truth
    assert (np.diff(out["trend_regime"].to_numpy()) >= 0).all()


def test_zero_volume_stretch():
    df = synthetic_bars(900, seed=11)
    df.iloc[300:500, df.columns.get_indexer(["volume", "taker_buy_volume", "dollar_volume_delta"])] = 0.0
    out = _agree_everywhere(df)
    quiet = out.iloc[372:500]
    assert (quiet["volume_filter"] == 0).all()
    assert (quiet["buy_ratio"] == 0).all()
    assert (quiet["mr_signal"] == 0).all()


def test_constant_funding():
    df = synthetic_bars(900, seed=13)
    df["funding_rate"] = -2.5e-4
    out = _agree_everywhere(df).iloc[239:]
    assert (out["funding_z"] == 0).all() and (out["funding_signal"] == 0).all()


def test_funding_steps_after_long_flat_stretches():
    df = synthetic_bars(1300, seed=17)
    df["funding_rate"] = np.repeat([1e-4, 3e-4, -1e-4, 2e-4, 2e-4, 5e-5], 240)[: len(df)]
    _agree_everywhere(df)


def test_short_history():
    df = synthetic_bars(100, seed=3)
    out = compute_factors(df)
    assert len(out) == 100 and out[list(FACTOR_KEYS)].isna().all().all()
    stream = FactorStream()
    assert all(stream.update(b) is None for b in bar_records(df))
    empty = compute_factors(df.iloc[:0])
    assert empty.empty and "final_factor" in empty.columns


def test_missing_columns_are_named():
    df = synthetic_bars(50, seed=3).drop(columns=["funding_rate", "taker_buy_volume"])
    with pytest.raises(ValueError, match="funding_rate, taker_buy_volume"):
        compute_factors(df)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input_names_column_and_first_timestamp(value):
    df = synthetic_bars(300, seed=3)
    df.iloc[[120, 200], df.columns.get_loc("volume")] = value
    with pytest.raises(ValueError, match=rf"'volume'.*{df.index[120]}"):
        compute_factors(df)


def test_frame_shape_problems():
    df = synthetic_bars(300, seed=3)
    with pytest.raises(ValueError, match="DatetimeIndex"):
        compute_factors(df.reset_index(drop=True))
    with pytest.raises(ValueError, match="increasing"):
        compute_factors(df.iloc[::-1])
    with pytest.raises(ValueError, match="close"):
        compute_factors(df.assign(close=0.0))
    with pytest.raises(ValueError, match="numeric"):
        compute_factors(df.assign(open="x"))
