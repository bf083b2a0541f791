"""Deleting signals older than `storage.signals_retention_days`, a chunk at a time so a
large first clean-up never holds a long lock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from storage.backend import Backend

CHUNK = 5000


def cutoff(days: float, now: datetime | None = None) -> datetime | None:
    """Signals before this go; None keeps them all (days == 0)."""
    if days <= 0:
        return None
    return (now or datetime.now(timezone.utc)) - timedelta(days=days)


def delete_old_signals(backend: Backend, before: datetime, chunk: int = CHUNK) -> int:
    if backend.dialect == "sqlite":
        sql = ("DELETE FROM signals WHERE id IN "
               "(SELECT id FROM signals WHERE timestamp < ? ORDER BY timestamp LIMIT ?)")
    else:
        sql = "DELETE FROM signals WHERE timestamp < ? ORDER BY timestamp LIMIT ?"
    total = 0
    while True:
        deleted = backend.execute(sql, (before, chunk))
        total += deleted
        if deleted < chunk:
            return total
