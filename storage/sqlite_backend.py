"""The embedded backend: one SQLite file in WAL mode, so a second process (`trifactor
status`) reads while the app writes; writers wait up to the timeout for a lock.
"""
from __future__ import annotations

import operator
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

from engine.paths import private_file
from storage.backend import Layout, group_rows
from storage import conflicts
from storage.codec import money_text, ts_text
from storage.errors import Conflict, StoreConflict, StoreError, StoreUnreachable, Unavailable
from storage.rows import Row
from storage.statements import MONEY_COLUMNS, SPECS, TS_COLUMNS
from storage.url import StoreUrl

# sqlite3.OperationalError covers both "try later" and real bugs; these mean "try later".
_TRANSIENT = ("locked", "busy", "readonly", "read-only", "disk i/o", "unable to open", "disk is full",
              "database or disk is full", "not a database")


def is_transient(error: sqlite3.Error) -> bool:
    return isinstance(error, sqlite3.OperationalError) and any(t in str(error).lower() for t in _TRANSIENT)


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, datetime):
        return ts_text(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _row_encoder(kind: str) -> Callable[[dict], list]:
    """Values in column order, with money and timestamps turned into their exact text."""
    columns = SPECS[kind].columns
    money_at = [i for i, c in enumerate(columns) if c in MONEY_COLUMNS[kind]]
    ts_at = [i for i, c in enumerate(columns) if c in TS_COLUMNS]
    get = operator.itemgetter(*columns)

    def encode(values: dict) -> list:
        try:
            row = list(get(values))
        except KeyError:  # a row written by an older version may lack newer columns
            row = [values.get(c) for c in columns]
        for i in money_at:
            if row[i] is not None:
                row[i] = money_text(row[i])
        for i in ts_at:
            if row[i] is not None:
                row[i] = ts_text(row[i])
        return row
    return encode


_WRITERS = {kind: (spec.sqlite_sql(), _row_encoder(kind)) for kind, spec in SPECS.items()}


class SqliteBackend:
    dialect = "sqlite"

    def __init__(self, url: StoreUrl, *, read_only: bool = False, timeout_s: float = 5.0,
                 batch_size: int = 500) -> None:
        self.url = url
        self.batch_size = batch_size
        self.read_only = read_only
        self.timeout_s = timeout_s
        self._conn: sqlite3.Connection | None = None

    def open(self, create: bool) -> None:
        path = self.url.path
        assert path is not None
        if not path.exists() and (self.read_only or not create):
            raise StoreError(f"no store at {self.url}: it is created when trifactor first runs "
                             f"(or by `trifactor db upgrade`)")
        try:
            if self.read_only:
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=self.timeout_s,
                                       isolation_level=None)
            else:
                private_file(path)  # SQLite gives its -wal and -shm files the database file's mode
                conn = sqlite3.connect(path, timeout=self.timeout_s, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                # FULL: a committed batch survives a power cut too; commits come once per batch.
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
        except (sqlite3.Error, OSError) as e:
            kind = StoreUnreachable if isinstance(e, sqlite3.Error) and is_transient(e) else StoreError
            raise kind(f"cannot open {self.url}: {e}") from None
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.open(create=not self.read_only)
        assert self._conn is not None
        return self._conn

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            return self.conn.execute(sql, tuple(_encode(p) for p in params)).fetchall()
        except sqlite3.Error as e:
            kind = StoreUnreachable if is_transient(e) else StoreError
            raise kind(f"reading {self.url} failed: {e}") from None

    def execute(self, sql: str, params: tuple = ()) -> int:
        """One statement in its own transaction; the number of rows it changed."""
        try:
            return self.conn.execute(sql, tuple(_encode(p) for p in params)).rowcount
        except sqlite3.Error as e:
            if is_transient(e):
                raise Unavailable(f"{self.url}: {e}") from None
            raise

    def write(self, rows: list[Row]) -> None:
        """All rows in one transaction; then StoreConflict names any row whose key was already
        stored with other content (not stored; everything else is committed)."""
        try:
            conn = self.conn
        except StoreError as e:
            raise Unavailable(str(e)) from None
        found: list[Conflict] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for kind, values in group_rows(rows, self.batch_size):
                    sql, encode = _WRITERS[kind]
                    inserted = conn.executemany(sql, map(encode, values)).rowcount
                    if inserted < len(values) and conflicts.needs_check(kind):
                        found += self._conflicts(kind, values)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            if is_transient(e):
                if "disk i/o" in str(e).lower() or "unable to open" in str(e).lower():
                    self.close()  # a fresh connection next time
                raise Unavailable(f"{self.url}: {e}") from None
            raise
        if found:
            raise StoreConflict(found)

    def _conflicts(self, kind: str, values: list[dict]) -> list[Conflict]:
        found = []
        for chunk in conflicts.chunks(values):
            stored = self.conn.execute(conflicts.stored_rows_sql(kind, len(chunk)),
                                       tuple(_encode(p) for p in conflicts.key_params(kind, chunk))).fetchall()
            found += conflicts.find_conflicts(kind, chunk, stored)
        return found

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        # One transaction around check-and-apply: SQLite's DDL is transactional, so a
        # migration is applied completely or not at all, and a second migrator waits.
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            if is_transient(e):
                raise StoreUnreachable(f"cannot open {self.url}: {e}") from None
            raise
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def apply_migration(self, version: int, description: str, statements: list[str]) -> None:
        for statement in statements:
            self.conn.execute(statement)
        self.conn.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                          (version, description, ts_text(datetime.now(timezone.utc))))

    def layout(self) -> Layout:
        return sqlite_layout(self.conn)


def sqlite_layout(conn: sqlite3.Connection) -> Layout:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    out: Layout = {}
    for table in tables:
        columns = frozenset(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))
        indexes = frozenset(r[1] for r in conn.execute(f"PRAGMA index_list({table})")
                            if not r[1].startswith("sqlite_autoindex"))
        out[table] = (columns, indexes)
    return out
