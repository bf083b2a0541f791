"""Input checks shared by the batch, stream and panel entry points."""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter

import numpy as np

from .errors import InvalidBarError
from .schema import INPUT_COLUMNS

_FIELDS = itemgetter("timestamp", *INPUT_COLUMNS)


def bar_values(bar: Mapping, last_timestamp: object) -> tuple:
    """(timestamp, *INPUT_COLUMNS as floats) of a bar, or InvalidBarError.

    Pure: callers mutate nothing until this returns.
    """
    try:
        ts, o, h, lo, c, v, f, tb, dd = _FIELDS(bar)
        o, h, lo, c, v, f, tb, dd = (
            float(o), float(h), float(lo), float(c), float(v), float(f), float(tb), float(dd)
        )
        total = o + h + lo + c + v + f + tb + dd
        if (
            total - total == 0.0
            and c > 0.0
            and ts is not None
            and (ts > last_timestamp if last_timestamp is not None else ts == ts)
        ):
            return ts, o, h, lo, c, v, f, tb, dd
    except (KeyError, TypeError, ValueError, OverflowError):
        pass
    # something is off: go field by field to say what
    return _checked_bar_values(bar, last_timestamp)


def _checked_bar_values(bar: Mapping, last_timestamp: object) -> tuple:
    try:
        ts = bar["timestamp"]
    except KeyError:
        raise InvalidBarError("bar is missing field 'timestamp'") from None
    except TypeError:
        raise InvalidBarError(f"bar must be a mapping, not {type(bar).__name__}") from None
    if ts is None or ts != ts:
        raise InvalidBarError(f"bar has an invalid timestamp {ts!r}")
    values = []
    for name in INPUT_COLUMNS:
        try:
            raw = bar[name]
        except KeyError:
            raise InvalidBarError(f"bar at {ts} is missing field {name!r}") from None
        try:
            x = float(raw)
        except (TypeError, ValueError, OverflowError):
            raise InvalidBarError(f"bar at {ts} has a non-numeric {name!r}: {raw!r}") from None
        if x - x != 0.0:
            raise InvalidBarError(f"bar at {ts} has a non-finite {name!r}: {x!r}")
        values.append(x)
    if values[3] <= 0.0:
        raise InvalidBarError(f"bar at {ts} has a non-positive 'close': {values[3]!r}")
    if last_timestamp is not None:
        try:
            in_order = ts > last_timestamp
        except TypeError:
            raise InvalidBarError(
                f"bar at {ts} has a timestamp not comparable with the previous {last_timestamp}"
            ) from None
        if not in_order:
            raise InvalidBarError(
                f"bar at {ts} is not after the previous bar at {last_timestamp}"
                " (duplicate or out of order)"
            )
    return (ts, *values)


def check_frame(df: "pd.DataFrame") -> None:
    """ValueError naming missing columns, or the column and first timestamp of
    a non-finite value, or a non-positive close."""
    import pandas as pd  # the batch path only: the live engine starts without pandas

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, not {type(df).__name__}")
    missing = [c for c in INPUT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"missing input column(s): {', '.join(missing)}")
    if not isinstance(df.index, pd.DatetimeIndex):
        raise ValueError("input must have a DatetimeIndex")
    if not (df.index.is_monotonic_increasing and df.index.is_unique):
        raise ValueError("input index must be strictly increasing (sorted, no duplicates)")
    for name in INPUT_COLUMNS:
        try:
            values = df[name].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise ValueError(f"column {name!r} is not numeric") from None
        bad = ~np.isfinite(values)
        if bad.any():
            first = int(np.argmax(bad))
            raise ValueError(
                f"column {name!r} has a non-finite value ({values[first]!r}) at {df.index[first]}"
            )
    closes = df["close"].to_numpy(dtype=np.float64)
    if (closes <= 0).any():
        first = int(np.argmax(closes <= 0))
        raise ValueError(f"column 'close' has a non-positive value at {df.index[first]}")
