"""FactorStream against compute_factors, its state properties and its input checks."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from _strategy_helpers import assert_stream_equals_batch, bar_records
from _strategy_hypothesis import bar_frames, examples, small_params
from _strategy_market import synthetic_bars

from strategy import (
    FACTOR_KEYS,
    STREAM_KEYS,
    FactorStream,
    InvalidBarError,
    StrategyParams,
    compute_factors,
)

EXTRA_KEYS = (
    "returns funding_rate funding_z funding_threshold funding_signal_raw returns_z "
    "mr_threshold trend_filter_mr volume_ratio volume_filter buy_ratio buy_ratio_z "
    "dollar_delta_z flow_combined flow_threshold volume_scale vol_risk_scale "
    "drawdown_scale trend_filter signal_threshold conviction_scale conviction_factor "
    "smoothed_factor factor_std change_threshold target_changed bars_seen"
).split()


def run(stream: FactorStream, df: pd.DataFrame) -> list:
    return [stream.update(bar) for bar in bar_records(df)]


def test_stream_equals_batch_bit_for_bit_on_the_long_market(market):
    results = run(FactorStream(), market)
    assert_stream_equals_batch(results, compute_factors(market), 240)


@examples(60)
@given(df=bar_frames(), params=small_params())
def test_stream_equals_batch_for_any_series_and_windows(df, params):
    results = run(FactorStream(params), df)
    assert_stream_equals_batch(results, compute_factors(df, params), params["lookback_long"])


def test_result_keys(market):
    result = run(FactorStream(), market.iloc[:240])[-1]
    assert set(FACTOR_KEYS) | {"target_factor", "timestamp"} | set(EXTRA_KEYS) == set(result)
    assert tuple(result) == STREAM_KEYS
    assert result["timestamp"] == market.index[239]
    assert isinstance(result["target_changed"], bool)
    assert result["bars_seen"] == 240
    assert all(type(result[k]) is float for k in FACTOR_KEYS)


def test_state_properties(market):
    stream = FactorStream()
    assert (stream.bars_seen, stream.ready, stream.progress) == (0, False, 0.0)
    assert stream.warmup_bars == 956 == StrategyParams().warmup_bars
    for i, bar in enumerate(bar_records(market.iloc[:1000]), start=1):
        out = stream.update(bar)
        assert stream.bars_seen == i
        assert stream.ready == (i >= 240) == (out is not None)
        assert stream.progress == min(1.0, i / 956)
        assert stream.last is out
    assert stream.progress == 1.0


def test_from_history_then_continue(market):
    head, tail = market.iloc[:700], market.iloc[700:900]
    warm = FactorStream.from_history(head)
    cold = FactorStream()
    cold_results = run(cold, head)
    assert warm.bars_seen == 700
    assert dict(warm.last) == dict(cold_results[-1])
    assert run(warm, tail) == run(cold, tail)
    with pytest.raises(InvalidBarError):
        warm.update(bar_records(market.iloc[899:900])[0])  # already seen


def test_memory_stays_bounded():
    df = synthetic_bars(6000, seed=7)
    bars = bar_records(df)
    stream = FactorStream()
    for bar in bars[:2000]:
        stream.update(bar)
    tracemalloc.start()
    for bar in bars[2000:3000]:
        stream.update(bar)
    after_short, _ = tracemalloc.get_traced_memory()
    for bar in bars[3000:]:
        stream.update(bar)
    after_long, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert after_long - after_short < 16_000


# -- bad input -------------------------------------------------------------


def _fed(n: int, df: pd.DataFrame) -> FactorStream:
    stream = FactorStream()
    for bar in bar_records(df.iloc[:n]):
        stream.update(bar)
    return stream


@pytest.mark.parametrize(
    "field, value",
    [
        ("close", math.nan),
        ("volume", math.inf),
        ("funding_rate", -math.inf),
        ("open", math.nan),
        ("dollar_volume_delta", "abc"),
        ("taker_buy_volume", None),
        ("close", 0.0),
    ],
)
def test_bad_value_names_field_and_timestamp_and_changes_nothing(market, field, value):
    stream, clean = _fed(300, market), _fed(300, market)
    bar = bar_records(market.iloc[300:301])[0]
    bar[field] = value
    with pytest.raises(InvalidBarError) as err:
        stream.update(bar)
    assert field in str(err.value) and str(market.index[300]) in str(err.value)
    assert isinstance(err.value, ValueError)
    assert stream.bars_seen == 300
    rest = market.iloc[300:420]
    assert run(stream, rest) == run(clean, rest)


@pytest.mark.parametrize("field", ["funding_rate", "timestamp", "high"])
def test_missing_field_is_named(market, field):
    stream = _fed(10, market)
    bar = bar_records(market.iloc[10:11])[0]
    del bar[field]
    with pytest.raises(InvalidBarError, match=field):
        stream.update(bar)
    assert stream.bars_seen == 10


@pytest.mark.parametrize("offset", [0, -1, -50])
def test_duplicate_or_out_of_order_bar_is_rejected(market, offset):
    stream, clean = _fed(300, market), _fed(300, market)
    bar = bar_records(market.iloc[300 + offset - 1 : 300 + offset])[0]
    with pytest.raises(InvalidBarError, match="not after"):
        stream.update(bar)
    assert stream.bars_seen == 300
    rest = market.iloc[300:360]
    assert run(stream, rest) == run(clean, rest)


def test_timestamps_of_other_types_are_compared_as_given(market):
    stream = FactorStream({"lookback_long": 5})
    out = None
    for i, bar in enumerate(bar_records(market.iloc[:10])):
        bar["timestamp"] = 1_700_000_000_000 + i * 60_000
        out = stream.update(bar)
    assert out["timestamp"] == 1_700_000_000_000 + 9 * 60_000
    bar["timestamp"] = pd.Timestamp("2030-01-01")
    with pytest.raises(InvalidBarError, match="comparable"):
        stream.update(bar)


def test_never_a_nan_in_a_result(market):
    for out in run(FactorStream(), market):
        if out is not None:
            values = np.array([v for k, v in out.items() if k != "timestamp"], dtype=float)
            assert np.isfinite(values).all()


def test_a_pickled_stream_carries_on_identically(market):
    import pickle

    stream = FactorStream()
    run(stream, market.iloc[:500])
    copy = pickle.loads(pickle.dumps(stream))
    rest = market.iloc[500:700]
    assert run(copy, rest) == run(stream, rest)
