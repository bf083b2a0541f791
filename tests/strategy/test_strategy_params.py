"""StrategyParams: the seed's defaults, partial mappings and validation."""

from __future__ import annotations

import dataclasses

import pytest

from strategy import FactorPanel, FactorStream, StrategyParams, compute_factors
from _strategy_reference import DEFAULTS

from strategy.params import resolve_params

# The seed's strategy defaults, as the reference transcribes them, plus the turnover filter's.
SEED_DEFAULTS = {**DEFAULTS, "change_threshold_mult": 0.4, "change_threshold_window": 24}


def test_defaults_are_the_seeds():
    assert dataclasses.asdict(StrategyParams()) == SEED_DEFAULTS
    assert resolve_params(None) == StrategyParams()


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        StrategyParams().lookback_long = 10


def test_mapping_with_a_subset_of_keys():
    p = resolve_params({"lookback_long": 100, "mr_weight_base": 0.25})
    assert p.lookback_long == 100 and p.mr_weight_base == 0.25 and p.flow_roll == 120
    assert resolve_params(p) is p


@pytest.mark.parametrize("factory", [FactorStream, compute_factors, FactorPanel])
def test_unknown_key_is_named_everywhere(factory, market):
    arg = {"FactorPanel": ["X"], "compute_factors": market}.get(factory.__name__)
    with pytest.raises(ValueError, match="lookback_longg"):
        if arg is None:
            factory({"lookback_longg": 3})
        else:
            factory(arg, {"lookback_longg": 3})


@pytest.mark.parametrize(
    "key, value",
    [
        ("lookback_long", 0),
        ("lookback_long", 1),
        ("lookback_medium", -5),
        ("lookback_short", 2.5),
        ("funding_roll", True),
        ("mr_roll", "96"),
        ("flow_roll", None),
        ("perf_roll", 0),
        ("change_threshold_window", 1),
        ("perf_smooth_span", 0.5),
        ("perf_smooth_span", float("inf")),
        ("funding_weight_base", float("nan")),
        ("mr_weight_base", "0.3"),
        ("target_signal_volatility", 0.0),
        ("change_threshold_mult", -0.1),
    ],
)
def test_invalid_values_are_named(key, value):
    with pytest.raises(ValueError, match=key):
        StrategyParams(**{key: value})
    with pytest.raises(ValueError, match=key):
        resolve_params({key: value})


def test_windows_accept_numpy_integers():
    import numpy as np

    p = StrategyParams(lookback_long=np.int64(50))
    assert p.lookback_long == 50 and type(p.lookback_long) is int


def test_warmup_bars_follows_the_windows():
    assert StrategyParams().warmup_bars == 956
    assert StrategyParams(lookback_long=100).warmup_bars < 956
    assert StrategyParams(perf_roll=300).warmup_bars == 956 + 108
