"""Assertions and conversions shared by the strategy tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def bar_records(df: pd.DataFrame) -> list[dict]:
    """The rows of a bar frame as the mappings a stream takes."""
    return [dict(timestamp=ts, **row) for ts, row in zip(df.index, df.to_dict("records"))]


def assert_close(actual, expected, what: str, rel: float = 1e-9, floor: float = 1e-12) -> None:
    """Equal to ``rel`` relative, with an absolute floor for values near 0."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, what
    both_nan = np.isnan(actual) & np.isnan(expected)
    ok = both_nan | (np.abs(actual - expected) <= np.maximum(rel * np.abs(expected), floor))
    if not ok.all():
        i = int(np.argmin(ok))
        raise AssertionError(
            f"{what}: {int((~ok).sum())} mismatches, first at position {i}: "
            f"{actual[i]!r} != {expected[i]!r}"
        )


def assert_identical(actual, expected, what: str) -> None:
    """Bit for bit (NaN equals NaN; 0.0 equals -0.0)."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, what
    ok = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    if not ok.all():
        i = int(np.argmin(ok))
        raise AssertionError(
            f"{what}: {int((~ok).sum())} differences, first at position {i}: "
            f"{actual[i]!r} != {expected[i]!r}"
        )


def stream_frame(results: list, index: pd.Index) -> pd.DataFrame:
    """Non-None stream results as a frame indexed by timestamp."""
    rows = [dict(r) for r in results if r is not None]
    frame = pd.DataFrame(rows)
    if rows:
        frame = frame.set_index("timestamp")
        assert list(frame.index) == list(index[len(index) - len(rows) :])
    return frame


def assert_stream_equals_batch(results: list, batch: pd.DataFrame, lookback_long: int) -> None:
    """Stream results (one per bar, None while warming up) equal the batch rows, bit for bit."""
    first = lookback_long - 1
    assert len(results) == len(batch)
    assert all(r is None for r in results[:first])
    assert all(r is not None for r in results[first:])
    frame = stream_frame(results, batch.index)
    if frame.empty:
        return
    expected = batch.iloc[first:]
    for key in frame.columns:
        if key == "target_changed":
            assert frame[key].tolist() == expected[key].astype(bool).tolist(), key
        elif key == "bars_seen":
            assert frame[key].tolist() == expected[key].tolist(), key
        else:
            assert_identical(frame[key].to_numpy(), expected[key].to_numpy(), key)
