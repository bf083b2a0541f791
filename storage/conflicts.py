"""Finding the rows an insert-once ("ignore") statement did not insert because their key
was already stored with other content.

The backends count what each batched insert inserted; only when that is fewer than the
rows sent (a replay, a repeat, or a conflict) do they read the stored rows for those keys,
in the same transaction, and compare. The common case costs no extra round trip.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from storage.codec import to_decimal, to_utc, utc_naive
from storage.errors import Conflict
from storage.statements import SPECS, TS_COLUMNS, WriteSpec

KEYS_PER_SELECT = 200


def stored_rows_sql(kind: str, n: int) -> str:
    """A select of the stored rows with the keys of `n` rows (`?` placeholders, key order)."""
    spec = SPECS[kind]
    one = "(" + " AND ".join(f"{k} = ?" for k in spec.keys) + ")"
    return f"SELECT {', '.join(spec.columns)} FROM {spec.table} WHERE " + " OR ".join([one] * n)


def key_params(kind: str, rows: list[dict]) -> tuple:
    keys = SPECS[kind].keys
    return tuple(values[k] for values in rows for k in keys)


def chunks(rows: list[dict]) -> list[list[dict]]:
    return [rows[i:i + KEYS_PER_SELECT] for i in range(0, len(rows), KEYS_PER_SELECT)]


def _key_value(column: str, value: Any) -> Any:
    if column in TS_COLUMNS and value is not None:
        return utc_naive(to_utc(value))
    if isinstance(value, str):  # MariaDB's default collation matches keys regardless of case and trailing blanks
        return value.casefold().rstrip(" ")
    return value


def _key(spec: WriteSpec, values: dict) -> tuple:
    return tuple(_key_value(k, values.get(k)) for k in spec.keys)


def same(sent: Any, stored: Any) -> bool:
    """Whether a stored value is what was sent, in the sent value's own type (backends hand
    back money as text or Decimal, times as text or datetime, booleans as integers)."""
    if sent is None or stored is None:
        return sent is None and stored is None
    if isinstance(sent, bool):
        return bool(stored) == sent
    if isinstance(sent, Decimal):
        return to_decimal(stored) == sent
    if isinstance(sent, datetime):
        return utc_naive(to_utc(stored)) == utc_naive(sent)
    if isinstance(sent, float):
        return float(stored) == sent
    return type(sent)(stored) == sent


def find_conflicts(kind: str, sent: list[dict], stored: list[tuple]) -> list[Conflict]:
    """The sent rows whose stored row (`stored`: columns in the spec's order) differs."""
    spec = SPECS[kind]
    by_key = {}
    for row in stored:
        values = dict(zip(spec.columns, row))
        by_key[_key(spec, values)] = values
    out = []
    for values in sent:
        have = by_key.get(_key(spec, values))
        if have is None:  # not inserted, yet no stored key equals it here: the database's collation matched it
            out.append(Conflict(spec.table, {k: values.get(k) for k in spec.keys}, spec.keys, (kind, values)))
            continue
        differ = tuple(c for c in spec.columns
                       if not (values.get(c) is None and c in spec.keep_if_null)
                       and not same(values.get(c), have[c]))
        if differ:
            out.append(Conflict(spec.table, {k: values.get(k) for k in spec.keys}, differ, (kind, values)))
    return out


def needs_check(kind: str) -> bool:
    return SPECS[kind].policy == "ignore"
