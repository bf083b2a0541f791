"""FactorPanel.warm: a history in one call leaves the state that stepping through it leaves."""

from __future__ import annotations

import numpy as np
import pytest
from _strategy_helpers import bar_records
from _strategy_market import synthetic_bars

from strategy import INPUT_COLUMNS, STREAM_KEYS, FactorPanel, FactorStream


def _same(x, y, where: str) -> None:
    """Equal to the bit, recursing into arrays, sequences and window objects (NaN equals NaN)."""
    x, y = getattr(x, "__self__", x), getattr(y, "__self__", y)  # a stream keeps bound update methods
    if isinstance(x, np.ndarray):
        assert isinstance(y, np.ndarray) and x.dtype == y.dtype, where
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), where
    elif isinstance(x, (list, tuple)) or type(x).__name__ == "deque":
        assert type(x) is type(y) and len(x) == len(y), where
        for i, (p, q) in enumerate(zip(x, y)):
            _same(p, q, f"{where}[{i}]")
    elif _slots(x) and not isinstance(x, (int, float, str)):
        assert type(x) is type(y), where
        for name in _slots(x):
            _same(getattr(x, name), getattr(y, name), f"{where}.{name}")
    elif isinstance(x, float):
        assert x == y or (x != x and y != y), where
    else:
        assert x == y, where


def _slots(obj) -> list[str]:
    """The object's attribute names (slots or instance dict), for the strategy's own classes."""
    if not type(obj).__module__.startswith("strategy."):
        return []
    names = [n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())]
    return names + list(getattr(obj, "__dict__", {}))


def _assert_same_state(a, b) -> None:
    assert len(_slots(a)) > 20
    _same(a, b, type(a).__name__)


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


def test_stream_warm_equals_stepping_and_the_next_200_outputs_are_identical():
    stamps, values, records = _history(1200, 1)
    stepped = FactorStream()
    for bar in records[0][:1000]:
        stepped.update(bar)
    warmed = FactorStream()
    warmed.warm(stamps[:1000], values[:1000, :, 0])
    _assert_same_state(warmed, stepped)
    assert warmed.last == stepped.last
    for bar in records[0][1000:]:
        expected, actual = stepped.update(bar), warmed.update(bar)
        for key in STREAM_KEYS:
            e, a = expected[key], actual[key]
            assert e == a or (e != e and a != a), f"{bar['timestamp']} {key}: {a!r} != {e!r}"
    with pytest.raises(ValueError, match="does not come after"):
        warmed.warm(stamps[:10], values[:10, :, 0])
