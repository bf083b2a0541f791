"""Which engine instances a store holds, and who last ran each, for `trifactor status`."""
from __future__ import annotations

from storage.backend import Backend
from storage.codec import to_utc

# Tables whose rows name an instance, each with an index that starts with `instance`.
BOOK_TABLES = ("performance", "trades")


def _distinct(backend: Backend, table: str) -> set[str]:
    """The distinct instances of a large table by skipping along its index: one seek per
    instance instead of a scan."""
    found: set[str] = set()
    sql = f"SELECT MIN(instance) FROM {table} WHERE instance > ?"
    last = ""
    while True:
        [(name,)] = backend.query(sql, (last,))
        if name is None:
            return found
        found.add(name)
        last = name


def names(backend: Backend) -> list[str]:
    """Every instance that ran on the store or has a book in it, sorted."""
    found = {r[0] for r in backend.query("SELECT instance FROM instances")}
    found |= {r[0] for r in backend.query("SELECT instance FROM engine_state")}
    for table in BOOK_TABLES:
        found |= _distinct(backend, table)
    return sorted(found)


def runner(backend: Backend, instance: str) -> str:
    """Who last ran the instance (process, host, since, last heartbeat), or "" if unknown."""
    rows = backend.query("SELECT pid, host, started_at, heartbeat FROM instances WHERE instance = ?", (instance,))
    if not rows:
        return ""
    pid, host, started, heartbeat = rows[0]
    return (f"pid {pid} on host {host}, started {to_utc(started):%Y-%m-%d %H:%M:%S} UTC, "
            f"last heartbeat {to_utc(heartbeat):%Y-%m-%d %H:%M:%S} UTC")
