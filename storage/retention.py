"""Deleting signals older than `storage.signals_retention_days`, a chunk at a time so a
large first clean-up never holds a long lock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.config import DEFAULT_INSTANCE
from storage.backend import Backend
from storage.codec import to_utc

CHUNK = 5000


def cutoff(days: float, now: datetime | None = None) -> datetime | None:
    """Signals before this go; None keeps them all (days == 0)."""
    if days <= 0:
        return None
    return (now or datetime.now(timezone.utc)) - timedelta(days=days)


def newest_signal_time(backend: Backend, instance: str = DEFAULT_INSTANCE) -> datetime | None:
    """The market time of the instance's newest signal. Retention counts back from it rather than
    from the wall clock, so a simulated or replayed market on its own clock keeps its recent history."""
    rows = backend.query("SELECT MAX(timestamp) FROM signals WHERE instance = ?", (instance,))
    value = rows[0][0] if rows else None
    return to_utc(value) if value is not None else None


def delete_old_signals(backend: Backend, before: datetime, instance: str = DEFAULT_INSTANCE,
                       chunk: int = CHUNK) -> int:
    """Delete the instance's signals older than `before` (other instances keep theirs)."""
    if backend.dialect == "sqlite":
        sql = ("DELETE FROM signals WHERE id IN (SELECT id FROM signals WHERE instance = ? AND timestamp < ? "
               "ORDER BY timestamp LIMIT ?)")
    else:
        sql = "DELETE FROM signals WHERE instance = ? AND timestamp < ? ORDER BY timestamp LIMIT ?"
    total = 0
    while True:
        deleted = backend.execute(sql, (instance, before, chunk))
        total += deleted
        if deleted < chunk:
            return total
