"""Applying migrations and checking a database against what they should have produced."""
from __future__ import annotations

import sqlite3
from functools import lru_cache

from storage.backend import Backend, Layout
from storage.errors import StoreError
from storage.migrations import MIGRATIONS, Migration
from storage.sqlite_backend import sqlite_layout


def current_version(backend: Backend) -> int | None:
    """The highest applied migration, or None for a database without trifactor's schema."""
    if "schema_version" not in backend.layout():
        return None
    rows = backend.query("SELECT MAX(version) FROM schema_version")
    return rows[0][0] if rows and rows[0][0] is not None else 0


def migrate(backend: Backend, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[Migration]:
    """Apply the pending migrations in order; return what was applied (nothing if up to date)."""
    latest = migrations[-1].version
    with backend.migration_lock():
        current = current_version(backend) or 0
        if current > latest:
            raise StoreError(f"{backend.url} has schema version {current}, newer than this trifactor "
                             f"knows ({latest}): upgrade trifactor")
        pending = [m for m in migrations if m.version > current]
        for m in pending:
            backend.apply_migration(m.version, m.description, m.statements(backend.dialect))
    return pending


@lru_cache(maxsize=4)
def expected_layout(migrations: tuple[Migration, ...] = MIGRATIONS) -> Layout:
    """Tables, columns and indexes the migrations produce, found by applying them to an
    in-memory SQLite database (the same description renders both dialects)."""
    conn = sqlite3.connect(":memory:")
    try:
        for m in migrations:
            for statement in m.statements("sqlite"):
                conn.execute(statement)
        return sqlite_layout(conn)
    finally:
        conn.close()


def problems(backend: Backend, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """What is missing from the database compared to its schema: one sentence per problem."""
    actual = backend.layout()
    found: list[str] = []
    for table, (columns, indexes) in sorted(expected_layout(migrations).items()):
        if table not in actual:
            found.append(f"table {table} is missing")
            continue
        have_columns, have_indexes = actual[table]
        missing = sorted(columns - have_columns)
        if missing:
            found.append(f"table {table} lacks column(s) {', '.join(missing)}")
        missing = sorted(indexes - have_indexes)
        if missing:
            found.append(f"table {table} lacks index(es) {', '.join(missing)}")
    return found
