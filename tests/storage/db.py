"""Reading what a test's store committed, straight from the database (not through the store).

Each read runs in a short-lived thread: the MariaDB backend drives its own event loop,
which cannot run inside an async test's loop.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from engine.config import StorageConfig
from engine.secrets import Secrets
from storage.url import parse_url
from storage.backend import Backend, make_backend
from storage.signal_pack import Minute

T = TypeVar("T")
NO_SECRETS = Secrets.load(environ={})


def with_backend(url: str, fn: Callable[[Backend], T]) -> T:
    """fn(backend) on a fresh connection to `url`, in a thread of its own."""
    def go() -> T:
        backend = make_backend(parse_url(url), StorageConfig(), NO_SECRETS)
        backend.open(create=False)
        try:
            return fn(backend)
        finally:
            backend.close()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(go).result()


def rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    return with_backend(url, lambda b: b.query(sql, params))


def execute(url: str, sql: str, params: tuple = ()) -> int:
    return with_backend(url, lambda b: b.execute(sql, params))


def stored_signals(url: str) -> list[tuple[str, object, dict]]:
    """Every stored (symbol, timestamp, values) of the packed signal minutes, in stored order."""
    out = []
    for ts, data in rows(url, "SELECT timestamp, data FROM signal_minutes ORDER BY timestamp, first_symbol"):
        minute = Minute(bytes(data))
        out += [(symbol, ts, minute.values(i)) for i, symbol in enumerate(minute.symbols)]
    return out


def count(url: str, table: str) -> int:
    return rows(url, f"SELECT COUNT(*) FROM {table}")[0][0]


def create_at_version(url: str, version: int) -> None:
    """A new database with the schema as migrations 1..version left it (an older trifactor's store)."""
    from storage.migrations import MIGRATIONS
    from storage.schema import migrate

    def go() -> None:
        backend = make_backend(parse_url(url), StorageConfig(), NO_SECRETS)
        backend.open(create=True)
        try:
            migrate(backend, tuple(m for m in MIGRATIONS if m.version <= version))
        finally:
            backend.close()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(go).result()
