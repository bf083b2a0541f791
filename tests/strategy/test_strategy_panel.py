"""FactorPanel against one FactorStream per symbol."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from _strategy_helpers import bar_records
from _strategy_hypothesis import bar_frames, examples, small_params
from _strategy_market import synthetic_bars

from strategy import INPUT_COLUMNS, STREAM_KEYS, FactorPanel, FactorStream, InvalidBarError


def _same(expected, actual, where: str) -> None:
    if expected is None or actual is None:
        assert expected is None and actual is None, where
        return
    assert isinstance(actual, Mapping)
    assert list(actual) == list(STREAM_KEYS)
    for key in STREAM_KEYS:
        e, a = expected[key], actual[key]
        assert e == a or (e != e and a != a), f"{where} {key}: {a!r} != {e!r}"


def _replay(frames: dict, params, presence: np.ndarray) -> None:
    """Feed the panel and per-symbol streams the same cycles; a symbol takes
    its next bar in a cycle where ``presence`` says so."""
    panel = FactorPanel(list(frames), params)
    streams = {s: FactorStream(params) for s in frames}
    records = {s: bar_records(df) for s, df in frames.items()}
    cursor = dict.fromkeys(frames, 0)
    for cycle, mask in enumerate(presence):
        bars = {}
        for s, present in zip(frames, mask):
            if present and cursor[s] < len(records[s]):
                bars[s] = records[s][cursor[s]]
                cursor[s] += 1
        out = panel.update(bars)
        assert set(out) == set(bars)
        for s, bar in bars.items():
            _same(streams[s].update(bar), out[s], f"cycle {cycle} {s}")
        assert panel.bars_seen == {s: streams[s].bars_seen for s in frames}
        assert panel.progress == {s: streams[s].progress for s in frames}
        assert panel.ready == {s: streams[s].ready for s in frames}


def test_panel_equals_streams_with_symbols_missing_cycles():
    frames = {f"SYM{i}": synthetic_bars(1100, seed=10 + i) for i in range(4)}
    rng = np.random.default_rng(3)
    presence = rng.random((1400, 4)) < 0.8
    presence[:300] = True  # everyone in step first, then ragged
    _replay(frames, None, presence)


@examples(15)
@given(
    frames=st.lists(bar_frames(min_bars=30, max_bars=120), min_size=1, max_size=3),
    params=small_params(),
    seed=st.integers(0, 2**16),
)
def test_panel_equals_streams_for_any_series(frames, params, seed):
    named = {f"S{i}": df for i, df in enumerate(frames)}
    presence = np.random.default_rng(seed).random((200, len(named))) < 0.7
    _replay(named, params, presence)


def test_panel_state_and_warmup():
    panel = FactorPanel(["A", "B"], {"lookback_long": 10})
    assert panel.warmup_bars == FactorStream({"lookback_long": 10}).warmup_bars
    bars = bar_records(synthetic_bars(20, seed=1))
    for bar in bars[:10]:
        out = panel.update({"A": bar})
    assert out["A"] is not None and "B" not in out
    assert panel.bars_seen == {"A": 10, "B": 0}
    assert panel.ready == {"A": True, "B": False}
    assert panel.progress["B"] == 0.0
    assert panel.update({}) == {}


def test_bad_bar_names_symbol_and_changes_no_state():
    frames = {s: bar_records(synthetic_bars(300, seed=i)) for i, s in enumerate("ABC")}
    panel = FactorPanel(list("ABC"))
    clean = FactorPanel(list("ABC"))
    for i in range(260):
        cycle = {s: frames[s][i] for s in "ABC"}
        panel.update(cycle)
        clean.update(cycle)
    bad = {s: frames[s][260] for s in "ABC"}
    bad["B"] = dict(bad["B"], volume=float("nan"))
    with pytest.raises(InvalidBarError, match="B.*volume"):
        panel.update(bad)
    stale = {s: frames[s][259] for s in "ABC"}
    with pytest.raises(InvalidBarError, match="not after"):
        panel.update(stale)
    missing = {s: frames[s][260] for s in "ABC"}
    missing["C"] = {k: v for k, v in missing["C"].items() if k != "close"}
    with pytest.raises(InvalidBarError, match="close"):
        panel.update(missing)
    assert panel.bars_seen == clean.bars_seen == dict.fromkeys("ABC", 260)
    for i in range(260, 300):
        cycle = {s: frames[s][i] for s in "ABC"}
        got, want = panel.update(cycle), clean.update(cycle)
        for s in "ABC":
            _same(want[s], got[s], f"bar {i} {s}")


def test_unknown_and_duplicate_symbols():
    panel = FactorPanel(["A"])
    bar = bar_records(synthetic_bars(2, seed=0))[0]
    with pytest.raises(ValueError, match="ZZZ"):
        panel.update({"ZZZ": bar})
    with pytest.raises(ValueError, match="duplicate"):
        FactorPanel(["A", "A"])
    with pytest.raises(TypeError):
        FactorPanel("BTCUSDT")



def _as_columns(bars: dict):
    names = list(bars)
    values = np.array([[bars[s][c] for s in names] for c in INPUT_COLUMNS], dtype=np.float64)
    return names, values, [bars[s]["timestamp"] for s in names]


def test_update_columns_equals_update_and_checks_the_same():
    frames = {s: bar_records(synthetic_bars(400, seed=20 + i)) for i, s in enumerate("ABC")}
    by_mapping, by_columns = FactorPanel(list("ABC")), FactorPanel(list("ABC"))
    presence = np.random.default_rng(5).random((400, 3)) < 0.8
    cursor = dict.fromkeys("ABC", 0)
    for cycle, mask in enumerate(presence):
        bars = {}
        for s, present in zip("ABC", mask):
            if present:
                bars[s] = frames[s][cursor[s]]
                cursor[s] += 1
        want, got = by_mapping.update(bars), by_columns.update_columns(*_as_columns(bars))
        assert list(got) == list(want)
        for s in bars:
            _same(want[s], got[s], f"cycle {cycle} {s}")
    bad = {s: frames[s][cursor[s]] for s in "ABC"}
    bad["B"] = dict(bad["B"], volume=float("nan"))
    with pytest.raises(InvalidBarError, match="B.*volume"):
        by_columns.update_columns(*_as_columns(bad))
    stale = {s: frames[s][cursor[s] - 1] for s in "ABC"}
    with pytest.raises(InvalidBarError, match="not after"):
        by_columns.update_columns(*_as_columns(stale))
    with pytest.raises(ValueError, match="shape"):
        by_columns.update_columns(["A", "B"], np.zeros((len(INPUT_COLUMNS), 3)), [None] * 2)
    assert by_columns.bars_seen == by_mapping.bars_seen
