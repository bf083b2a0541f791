"""What the store needs from a database, and which backend a URL selects.

A backend object lives in one thread and is only used from it: SQLite connections are
per thread, and the MariaDB backend drives its aiomysql pool on a private event loop in
that thread, so no database work ever runs on the engine's loop.
"""
from __future__ import annotations

from typing import Any, Protocol

from engine.secrets import Secrets
from engine.config import StorageConfig
from storage.rows import Row
from storage.url import StoreUrl

Layout = dict[str, tuple[frozenset[str], frozenset[str]]]  # table -> (columns, index names)


class Backend(Protocol):
    dialect: str
    url: StoreUrl

    def open(self, create: bool) -> None:
        """Connect; with `create`, make the database (file) if it does not exist. Raises StoreError."""

    def close(self) -> None: ...

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """A read with `?` placeholders. Raises StoreError."""

    def execute(self, sql: str, params: tuple = ()) -> int:
        """One statement (`?` placeholders) in its own transaction; rows changed. Raises Unavailable."""

    def write(self, rows: list[Row]) -> None:
        """All rows in one transaction, or none. Raises Unavailable when the database cannot take them now."""

    def apply_migration(self, version: int, description: str, statements: list[str]) -> None:
        """Run a migration's statements and record its version."""

    def migration_lock(self) -> Any:
        """A context manager held while checking and applying migrations (one migrator at a time)."""

    def layout(self) -> Layout: ...


def group_rows(rows: list[Row], batch_size: int) -> list[tuple[str, list[dict]]]:
    """Rows of the same kind together, each kind in stream order, in chunks of `batch_size`.

    Every statement is idempotent and the "newest wins" ones are guarded by their
    timestamps, so one batched insert per chunk inside the batch's transaction commits the
    same state as writing row by row in stream order.
    """
    groups: dict[str, list[dict]] = {}
    for kind, values in rows:
        groups.setdefault(kind, []).append(values)
    return [(kind, values[i:i + batch_size]) for kind, values in groups.items()
            for i in range(0, len(values), batch_size)]


def make_backend(url: StoreUrl, config: StorageConfig, secrets: Secrets, *, read_only: bool = False,
                 timeout_s: float = 5.0) -> Backend:
    if url.dialect == "sqlite":
        from storage.sqlite_backend import SqliteBackend
        return SqliteBackend(url, read_only=read_only, timeout_s=timeout_s, batch_size=config.batch_size)
    from storage.mysql_backend import MysqlBackend
    return MysqlBackend(url, config, secrets, timeout_s=timeout_s)
