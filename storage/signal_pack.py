"""One minute's signals for a whole universe as one compressed value (a `signal_minutes` row).

Every value is kept exactly: floats as float64 (a float32 copy would change the desk's
fourth decimal about once in 10,000 values), money as its exact decimal text. The floats
form one (symbols x columns) matrix, stored column by column with its bytes regrouped by
significance (all first bytes, then all second bytes, ...), so the sign, exponent and
leading mantissa bytes, which repeat across symbols, compress and the noisy trailing ones
cost what they must. The matrix is compressed with run-length matching only: on real
minutes that is 1 % larger than zlib level 1 for half the CPU (level 6: 2 % smaller, three
times the CPU). The header's text repeats itself (statuses, notionals) and takes zlib level 3:
at 500 symbols a third of level 6's CPU for about 1 byte more per symbol.

Layout: a 4-byte length, the compressed JSON header (format version, column names,
symbols, statuses and the two notionals as text), then the compressed float64 matrix. The
column names travel with the data, so a later change to the strategy's values still reads
older minutes.
"""
from __future__ import annotations

import json
import math
import operator
import struct
import zlib
from decimal import Decimal
from typing import Any, Mapping, Sequence

import numpy as np

from engine.events import SignalUpdate
from storage.codec import canonical
from storage.migrations.v0001_initial import DETAIL_COLUMNS, FACTOR_COLUMNS
from strategy.panel_row import PanelRow, one_cycle

FORMAT = 1
COMPONENT_FLOATS = FACTOR_COLUMNS + DETAIL_COLUMNS  # the strategy's floats, as the signals table names them
# bool and int components ride in the float matrix: 1/0 and counts far below 2**53 are exact.
COMPONENT_COLUMNS = COMPONENT_FLOATS + ("target_changed", "bars_seen")
COLUMNS = ("price", "bar_return", "progress") + COMPONENT_COLUMNS
_OWN = 3  # the update's own fields before the components
_FINAL = COLUMNS.index("final_factor")
_TARGET = COLUMNS.index("target_factor")
_HEADER = struct.Struct("<I")
_component_values = operator.itemgetter(*COMPONENT_COLUMNS)


def _components(c: Mapping[str, Any]) -> tuple:
    try:
        return _component_values(c)
    except KeyError:  # a partial mapping (a stream that does not report every value)
        return tuple(c.get(name) for name in COMPONENT_COLUMNS)


def shuffled(matrix: np.ndarray) -> bytes:
    """Column-major bytes, regrouped: byte 0 of every value, then byte 1, ..."""
    return np.ascontiguousarray(matrix.T).view(np.uint8).reshape(-1, matrix.itemsize).T.tobytes()


def compress(data: bytes) -> bytes:
    """Run-length matching only, for the byte-regrouped floats."""
    packer = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS, 8, zlib.Z_RLE)
    return packer.compress(data) + packer.flush()


def _unshuffled(data: bytes, symbols: int, columns: int) -> np.ndarray:
    planes = np.frombuffer(data, dtype=np.uint8).reshape(8, symbols * columns)
    return np.ascontiguousarray(planes.T).view(np.float64).reshape(columns, symbols).T


def pack_minute(updates: Sequence[SignalUpdate]) -> bytes:
    """The minute's updates (one per symbol, same timestamp) as one compressed value."""
    header = json.dumps({
        "format": FORMAT, "columns": COLUMNS, "symbols": [u.symbol for u in updates],
        "status": [u.status for u in updates],
        "target_notional": [None if u.target_notional is None else str(u.target_notional) for u in updates],
        "current_notional": [None if u.current_notional is None else str(u.current_notional) for u in updates],
    }, separators=(",", ":")).encode()
    packed_header = zlib.compress(header, 3)
    return _HEADER.pack(len(packed_header)) + packed_header + compress(shuffled(float_matrix(updates)))


def float_matrix(updates: Sequence[SignalUpdate]) -> np.ndarray:
    """(symbols x COLUMNS) float64: the updates' own floats, then their components, NaN where missing.
    Laid out column by column in memory (a transposed view), the order `shuffled` reads it in."""
    n = len(updates)
    by_column = np.empty((len(COLUMNS), n))
    by_column[0] = [u.price for u in updates]
    by_column[1] = [u.ret for u in updates]
    by_column[2] = [u.progress for u in updates]
    by_column[_OWN:] = component_matrix(updates).T
    matrix = by_column.T
    # While a stream warms up its mapping is empty: the update's own factors stand in, as before.
    warming = np.fromiter((not u.components for u in updates), bool, n)
    if warming.any():
        matrix[warming, _FINAL] = np.fromiter((u.final_factor for u in updates), np.float64, n)[warming]
        matrix[warming, _TARGET] = np.fromiter((u.target_factor for u in updates), np.float64, n)[warming]
    matrix[~np.isfinite(matrix)] = np.nan  # stored as missing, as MariaDB's DOUBLE columns require
    return matrix


def component_matrix(updates: Sequence[SignalUpdate]) -> np.ndarray:
    """(symbols x COMPONENT_COLUMNS) float64, NaN where a symbol has no components yet. A panel's
    rows are read from its cycle's arrays in one go: value by value they were most of the
    store writer's time at 500 symbols."""
    whole = one_cycle([u.components for u in updates])
    if whole is not None:  # the usual minute: every symbol from the one panel cycle
        cycle, indices = whole
        return cycle.columns(COMPONENT_COLUMNS, indices)
    out = np.full((len(updates), len(COMPONENT_COLUMNS)), math.nan)
    cycles: dict[int, tuple[Any, list[int], list[int]]] = {}
    for k, u in enumerate(updates):
        c = u.components
        if type(c) is PanelRow:
            _, at, rows = cycles.setdefault(id(c.cycle), (c.cycle, [], []))
            at.append(k)
            rows.append(c.index)
        elif c:
            out[k] = _components(c)
    for cycle, at, rows in cycles.values():
        out[at] = cycle.columns(COMPONENT_COLUMNS, rows)
    return out


class Minute:
    """A stored minute, unpacked: `symbols`, and each symbol's values on demand."""

    def __init__(self, blob: bytes) -> None:
        (size,) = _HEADER.unpack_from(blob)
        header = json.loads(zlib.decompress(blob[_HEADER.size:_HEADER.size + size]))
        if header.get("format") != FORMAT:
            raise ValueError(f"signal minute in format {header.get('format')!r}, not {FORMAT}")
        self.columns: list[str] = header["columns"]
        self.symbols: list[str] = header["symbols"]
        self.status: list[str | None] = header["status"]
        self._target: list[str | None] = header["target_notional"]
        self._current: list[str | None] = header["current_notional"]
        self.matrix = _unshuffled(zlib.decompress(blob[_HEADER.size + size:]), len(self.symbols), len(self.columns))
        self.index = {s: i for i, s in enumerate(self.symbols)}

    def column(self, name: str) -> list[float | None]:
        """One value of every symbol, in `symbols` order."""
        j = self.columns.index(name)
        return [None if math.isnan(v) else v for v in self.matrix[:, j].tolist()]

    def values(self, i: int) -> dict[str, Any]:
        """Symbol i's stored values by column name, as the signals table's columns hold them."""
        out: dict[str, Any] = {name: (None if math.isnan(v) else v)
                               for name, v in zip(self.columns, self.matrix[i].tolist())}
        if out.get("target_changed") is not None:
            out["target_changed"] = bool(out["target_changed"])
        if out.get("bars_seen") is not None:
            out["bars_seen"] = int(out["bars_seen"])
        out["status"] = self.status[i]
        out["target_position_usd"] = _money(self._target[i])
        out["current_position_usd"] = _money(self._current[i])
        return out


def _money(text: str | None) -> Decimal | None:
    return None if text is None else canonical(Decimal(text))
