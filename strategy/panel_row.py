"""What a FactorPanel cycle returns per symbol: a lazy, read-only mapping."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from operator import attrgetter

import numpy as np

from .schema import FLOAT_KEYS, STREAM_KEYS


class PanelRow(Mapping):
    """One symbol's result in a panel cycle: a read-only mapping with the keys
    of a FactorStream result (``strategy.schema.STREAM_KEYS``) and equal
    values, read lazily from the cycle's arrays (most consumers read a few keys
    of many symbols). ``dict(row)`` makes a plain copy."""

    __slots__ = ("_cycle", "_i")

    def __init__(self, cycle: "CycleTable", i: int) -> None:
        self._cycle = cycle
        self._i = i

    def __getitem__(self, key: str):
        # The engine reads a few keys of every symbol each minute: after the first read of a key,
        # one look-up and an index, without a further call.
        listed = self._cycle.listed.get(key)
        if listed is not None:
            return listed[self._i]
        return self._cycle.value(key, self._i)

    def __iter__(self) -> Iterator[str]:
        return iter(STREAM_KEYS)

    def __len__(self) -> int:
        return len(STREAM_KEYS)

    def __repr__(self) -> str:
        return f"PanelRow({dict(self)!r})"

    @property
    def cycle(self) -> "CycleTable":
        return self._cycle

    @property
    def index(self) -> int:
        return self._i


class CycleTable:
    """The results of one panel cycle, one row of ``table`` per float key."""

    __slots__ = ("table", "stamps", "changed", "bars", "listed")

    _ROW = {key: i for i, key in enumerate(FLOAT_KEYS)}

    def __init__(self, table: np.ndarray, stamps: list, changed: np.ndarray, bars: np.ndarray):
        self.table = table
        self.stamps = stamps
        self.changed = changed
        self.bars = bars
        # A key read once is read for most symbols (the engine reads the targets of all): its row
        # becomes a list of Python floats in one call, and each read an index into it.
        self.listed: dict[str, list[float]] = {}

    def columns(self, keys: tuple[str, ...], indices: list[int]) -> np.ndarray:
        """(len(indices) x len(keys)) float64 of what ``value`` gives, bools as 1/0: many symbols'
        values in a few array operations rather than one call each."""
        where = np.asarray(indices, dtype=np.intp)
        floats, rows, others = _plan(keys)
        out = np.empty((len(where), len(keys)), dtype=np.float64)
        out[:, floats] = self.table[np.ix_(rows, where)].T  # every float key in one gather
        for j, key in others:
            out[:, j] = self.changed[where] if key == "target_changed" else self.bars[where]
        return out

    def value(self, key: str, i: int):
        listed = self.listed.get(key)
        if listed is not None:
            return listed[i]
        row = self._ROW.get(key)
        if row is not None:
            listed = self.listed[key] = self.table[row].tolist()
            return listed[i]
        if key == "timestamp":
            return self.stamps[i]
        if key == "target_changed":
            return bool(self.changed[i])
        if key == "bars_seen":
            return int(self.bars[i])
        raise KeyError(key)


_PLANS: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray, tuple[tuple[int, str], ...]]] = {}


def _plan(keys: tuple[str, ...]):
    """For `CycleTable.columns`: the output columns of the float keys, their table rows, and the others."""
    plan = _PLANS.get(keys)
    if plan is None:
        unknown = [k for k in keys if k not in CycleTable._ROW and k not in ("target_changed", "bars_seen")]
        if unknown:
            raise KeyError(unknown[0])
        floats = [(j, CycleTable._ROW[k]) for j, k in enumerate(keys) if k in CycleTable._ROW]
        plan = _PLANS[keys] = (np.array([j for j, _ in floats], dtype=np.intp),
                               np.array([r for _, r in floats], dtype=np.intp),
                               tuple((j, k) for j, k in enumerate(keys) if k not in CycleTable._ROW))
    return plan


_CYCLE_OF, _INDEX_OF = attrgetter("_cycle"), attrgetter("_i")


def one_cycle(rows: Sequence) -> tuple[CycleTable, list[int]] | None:
    """The cycle every one of ``rows`` comes from and their indices in it, or None unless they
    are all PanelRows of one cycle: a consumer of a whole cycle's rows (the store packing a
    minute) reads them with ``CycleTable.columns`` without touching each row in Python."""
    if not rows or set(map(type, rows)) != {PanelRow}:
        return None
    cycles = list(map(_CYCLE_OF, rows))
    if cycles.count(cycles[0]) != len(cycles):
        return None
    return cycles[0], list(map(_INDEX_OF, rows))
