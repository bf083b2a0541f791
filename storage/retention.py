"""Deleting signals older than `storage.signals_retention_days`, a chunk at a time so a
large first clean-up never holds a long lock. Signals are packed a minute to a row
(signal_minutes); bars from before that are rows of the signals table, aged out alike."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.config import DEFAULT_INSTANCE
from storage.backend import Backend
from storage.codec import to_utc

CHUNK = 5000
MINUTES_CHUNK = 100  # packed minutes are large rows (every symbol of a minute)
TABLES = (("signal_minutes", MINUTES_CHUNK), ("signals", CHUNK))


def cutoff(days: float, now: datetime | None = None) -> datetime | None:
    """Signals before this go; None keeps them all (days == 0)."""
    if days <= 0:
        return None
    return (now or datetime.now(timezone.utc)) - timedelta(days=days)


def newest_signal_time(backend: Backend, instance: str = DEFAULT_INSTANCE) -> datetime | None:
    """The market time of the instance's newest signal. Retention counts back from it rather than
    from the wall clock, so a simulated or replayed market on its own clock keeps its recent history."""
    for table, _ in TABLES:
        rows = backend.query(f"SELECT MAX(timestamp) FROM {table} WHERE instance = ?", (instance,))
        if rows and rows[0][0] is not None:
            return to_utc(rows[0][0])
    return None


def delete_old_signals(backend: Backend, before: datetime, instance: str = DEFAULT_INSTANCE,
                       chunk: int | None = None) -> int:
    """Delete the instance's signals older than `before` (other instances keep theirs); the
    number of rows deleted."""
    total = 0
    for table, table_chunk in TABLES:
        total += _delete_before(backend, table, before, instance, chunk or table_chunk)
    return total


def _delete_before(backend: Backend, table: str, before: datetime, instance: str, chunk: int) -> int:
    if backend.dialect == "sqlite":
        sql = (f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE instance = ? AND timestamp < ? "
               "ORDER BY timestamp LIMIT ?)")
    else:
        sql = f"DELETE FROM {table} WHERE instance = ? AND timestamp < ? ORDER BY timestamp LIMIT ?"
    total = 0
    while True:
        deleted = backend.execute(sql, (instance, before, chunk))
        total += deleted
        if deleted < chunk:
            return total
