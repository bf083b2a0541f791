"""FactorPanel.warm: a history in one call leaves the state that stepping through it leaves."""

from __future__ import annotations

import numpy as np
import pytest
from _strategy_helpers import bar_records
from _strategy_market import synthetic_bars

from strategy import INPUT_COLUMNS, STREAM_KEYS, FactorPanel


def _state(obj, where="panel"):
    """Every array, number and timestamp the object holds, by attribute path."""
    names = getattr(obj, "__slots__", None) or list(vars(obj))
    out = {}
    for name in names:
        value = getattr(obj, name)
        path = f"{where}.{name}"
        if isinstance(value, np.ndarray):
            out[path] = value
        elif isinstance(value, list) and value and hasattr(value[0], "__slots__"):
            for i, item in enumerate(value):
                out.update(_state(item, f"{path}[{i}]"))
        elif hasattr(value, "__slots__") and not isinstance(value, (int, float, str)):
            out.update(_state(value, path))
        elif not callable(value):
            out[path] = value
    return out


def _assert_same_state(a: FactorPanel, b: FactorPanel) -> None:
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        x, y = sa[key], sb[key]
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), key
        else:
            assert x == y, key


def _history(n_bars: int, n_symbols: int):
    frames = [synthetic_bars(n_bars, seed=20 + i) for i in range(n_symbols)]
    stamps = list(frames[0].index)
    values = np.stack([df[list(INPUT_COLUMNS)].to_numpy(dtype=float) for df in frames], axis=2)
    records = [bar_records(df) for df in frames]
    return stamps, values, records


def _stepped(symbols, records, present, upto):
    panel = FactorPanel(symbols)
    for t in range(upto):
        bars = {s: records[j][t] for j, s in enumerate(symbols) if present[t, j]}
        if bars:
            panel.update(bars)
    return panel


@pytest.mark.parametrize("ragged", [False, True])
def test_warm_equals_stepping_and_the_next_200_outputs_are_identical(ragged):
    symbols = ["A", "B", "C"]
    warm_bars, after = 1000, 200
    stamps, values, records = _history(warm_bars + after, len(symbols))
    present = np.ones((warm_bars + after, len(symbols)), dtype=bool)
    if ragged:
        present[: warm_bars] = np.random.default_rng(5).random((warm_bars, len(symbols))) < 0.85
        present[:300, 2] = False  # a late listing
    stepped = _stepped(symbols, records, present, warm_bars)
    warmed = FactorPanel(symbols)
    warmed.warm(stamps[:warm_bars], values[:warm_bars], None if not ragged else present[:warm_bars])
    _assert_same_state(warmed, stepped)
    assert warmed.bars_seen == stepped.bars_seen and warmed.ready == stepped.ready
    for t in range(warm_bars, warm_bars + after):
        bars = {s: records[j][t] for j, s in enumerate(symbols)}
        expected, actual = stepped.update(bars), warmed.update(bars)
        for s in symbols:
            assert (expected[s] is None) == (actual[s] is None)
            if expected[s] is None:
                continue
            for key in STREAM_KEYS:
                e, a = expected[s][key], actual[s][key]
                assert e == a or (e != e and a != a), f"bar {t} {s} {key}: {a!r} != {e!r}"
    _assert_same_state(warmed, stepped)


def test_warm_refuses_bad_input_and_changes_nothing():
    stamps, values, _ = _history(50, 2)
    panel = FactorPanel(["A", "B"])
    bad = values.copy()
    bad[10, 3, 1] = np.nan
    with pytest.raises(ValueError, match="B: unusable"):
        panel.warm(stamps, bad)
    assert panel.bars_seen == {"A": 0, "B": 0}
    panel.warm(stamps[:20], values[:20])
    with pytest.raises(ValueError, match="does not come after"):
        panel.warm(stamps[10:30], values[10:30])
    with pytest.raises(ValueError, match="shape"):
        panel.warm(stamps[20:30], values[20:30, :, :1])
    assert panel.bars_seen == {"A": 20, "B": 20}
