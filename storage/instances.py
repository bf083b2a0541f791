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


def runner(backend: Backend, instance: str, running: bool | None) -> str:
    """Whether an engine runs the instance now (`running`, from `storage.lock.is_running`), and who
    last ran it (process, host, since, last heartbeat); "" when nothing is known."""
    state = {True: "running", False: "not running", None: "running unknown"}[running]
    rows = backend.query("SELECT pid, host, started_at, heartbeat FROM instances WHERE instance = ?", (instance,))
    if not rows:
        return state if running else ""
    pid, host, started, heartbeat = rows[0]
    return (f"{state}; {'' if running else 'last '}pid {pid} on host {host}, started {to_utc(started):%Y-%m-%d %H:%M:%S} "
            f"UTC, last heartbeat {to_utc(heartbeat):%Y-%m-%d %H:%M:%S} UTC")
