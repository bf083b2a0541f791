"""The MariaDB/MySQL backend: an aiomysql pool driven on a private event loop owned by
the backend's thread (the engine's loop never runs database code).

A connection that broke ("server has gone away", "lost connection", killed) is dropped
and the statement retried once on a fresh one, so the routine drop of an idle
connection costs nothing; if the retry fails too the caller gets Unavailable.
"""
from __future__ import annotations

import asyncio
import ssl
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Iterator

import aiomysql
import pymysql

from engine.config import StorageConfig
from engine.secrets import Secrets
from storage.backend import Layout, group_rows
from storage.codec import utc_naive
from storage import conflicts
from storage.errors import Conflict, StoreConflict, StoreError, StoreUnreachable, Unavailable
from storage.mysql_errors import broken_connection, error_code, is_transient, reason, unreachable
from storage.mysql_literals import insert_statements
from storage.rows import Row
from storage.url import StoreUrl


def _params(params: tuple) -> tuple | None:
    # None, not (), when there are none: pymysql applies %-formatting whenever args are given.
    return tuple(utc_naive(p) if isinstance(p, datetime) else p for p in params) or None


class MysqlBackend:
    dialect = "mysql"

    def __init__(self, url: StoreUrl, config: StorageConfig, secrets: Secrets, *, timeout_s: float = 5.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.batch_size = config.batch_size
        self._tls = config.mysql_tls
        self._ca_file = config.mysql_ca_file
        self._password = url.password or secrets.db_password.reveal()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: aiomysql.Pool | None = None
        self._held: aiomysql.Connection | None = None

    # -- plumbing ---------------------------------------------------------------------------
    def _run(self, coro: Any) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    def _connect_args(self, with_db: bool) -> dict:
        args: dict[str, Any] = dict(
            host=self.url.host, port=self.url.port, user=self.url.user, password=self._password,
            unix_socket=self.url.unix_socket, connect_timeout=self.timeout_s, charset="utf8mb4",
            autocommit=False, init_command="SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES'",
        )
        if with_db:
            args["db"] = self.url.database
        if self._tls:
            try:
                args["ssl"] = ssl.create_default_context(cafile=self._ca_file)
            except (OSError, ssl.SSLError) as e:
                raise StoreError(f"cannot connect to {self.url}: the CA file {self._ca_file} "
                                 f"(storage.mysql_ca_file) cannot be used: {e}") from None
        return args

    def dedicated_connection(self) -> pymysql.Connection:
        """A plain connection of its own to the database (for a lock held for the store's life)."""
        args = self._connect_args(with_db=False)
        return pymysql.connect(**args, database=self.url.database, read_timeout=self.timeout_s,
                               write_timeout=self.timeout_s)

    def open(self, create: bool) -> None:
        try:
            self._run(self._open(create))
        except StoreError:
            raise
        except Exception as e:  # every connect failure becomes one clear sentence
            kind = StoreUnreachable if unreachable(e) else StoreError
            raise kind(f"cannot connect to {self.url}: {reason(e, self.url)}") from None

    async def _open(self, create: bool) -> None:
        if self._tls and not self.url.unix_socket:
            await self._require_tls()
        if create:
            await self._create_database()
        self._pool = await aiomysql.create_pool(minsize=1, maxsize=1, pool_recycle=3600,
                                                **self._connect_args(with_db=True))

    async def _require_tls(self) -> None:
        # aiomysql quietly goes on without TLS when the server does not offer it: check on a
        # first connection, before anything is sent to the database, and refuse.
        conn = await aiomysql.connect(**self._connect_args(with_db=False))
        try:
            async with conn.cursor() as cur:
                await cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                row = await cur.fetchone()
        finally:
            conn.close()
        if not row or not row[1]:
            raise StoreError(f"cannot connect to {self.url}: TLS was asked for (storage.mysql_tls) "
                             f"but the server does not offer it")

    async def _create_database(self) -> None:
        try:
            conn = await aiomysql.connect(**self._connect_args(with_db=False))
        except pymysql.err.OperationalError as e:
            if error_code(e) in (1044, 1045):
                return  # may not connect without a database; the database may still exist
            raise
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                                  (self.url.database,))
                if not await cur.fetchone():
                    await cur.execute(f"CREATE DATABASE IF NOT EXISTS `{self.url.database}` CHARACTER SET utf8mb4")
        except pymysql.err.OperationalError as e:
            if error_code(e) not in (1044, 1227):  # not allowed to create: use it if it exists
                raise
        finally:
            conn.close()

    def close(self) -> None:
        if self._loop is None:
            return
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close()
            self._run(pool.wait_closed())
        self._run(asyncio.sleep(0))  # let the pool's last wake-up callbacks finish
        self._loop.close()
        self._loop = None

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[aiomysql.Connection]:
        if self._held is not None:
            yield self._held
            return
        if self._pool is None:
            await self._open(create=False)
        assert self._pool is not None
        async with self._pool.acquire() as conn:
            try:
                yield conn
            except BaseException:
                conn.close()  # its state is unknown: never hand it out again
                raise

    def _with_retry(self, make_coro: Any) -> Any:
        """Run make_coro() with the timeout; once more on a fresh connection if the first broke."""
        for attempt in (1, 2):
            try:
                return self._run(asyncio.wait_for(make_coro(), self.timeout_s))
            except Exception as e:
                if attempt == 1 and broken_connection(e) and self._held is None:
                    continue
                raise

    # -- reads and writes ---------------------------------------------------------------------
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        async def go() -> list[tuple]:
            async with self._connection() as conn:
                async with conn.cursor() as cur:
                    await cur.execute(sql.replace("?", "%s"), _params(params))
                    rows = await cur.fetchall()
                if self._held is None:
                    await conn.rollback()  # end the read's snapshot so the next read sees new rows
                return list(rows)
        try:
            return self._with_retry(go)
        except Exception as e:
            raise StoreError(f"reading {self.url} failed: {reason(e, self.url)}") from None

    def execute(self, sql: str, params: tuple = ()) -> int:
        """One statement in its own transaction; the number of rows it changed."""
        async def go() -> int:
            async with self._connection() as conn:
                async with conn.cursor() as cur:
                    count = await cur.execute(sql.replace("?", "%s"), _params(params))
                await conn.commit()
                return count
        try:
            return self._with_retry(go)
        except Exception as e:
            if is_transient(e):
                raise Unavailable(f"writing to {self.url}: {reason(e, self.url)}") from None
            raise

    def write(self, rows: list[Row]) -> None:
        """All rows in one transaction; then StoreConflict names any row whose key was already
        stored with other content (not stored; everything else is committed)."""
        statements = [(kind, sql, sent) for kind, values in group_rows(rows, self.batch_size)
                      for sql, sent in insert_statements(kind, values)]

        async def go() -> list[Conflict]:
            found: list[Conflict] = []
            async with self._connection() as conn:
                await conn.begin()
                async with conn.cursor() as cur:
                    for kind, statement, sent in statements:
                        inserted = await cur.execute(statement)
                        if inserted < len(sent) and conflicts.needs_check(kind):
                            found += await self._conflicts(cur, kind, sent)
                await conn.commit()
            return found
        try:
            found = self._with_retry(go)
        except Exception as e:
            if is_transient(e):
                raise Unavailable(f"writing to {self.url}: {reason(e, self.url)}") from None
            raise
        if found:
            raise StoreConflict(found)

    @staticmethod
    async def _conflicts(cur: Any, kind: str, values: list[dict]) -> list[Conflict]:
        found = []
        for chunk in conflicts.chunks(values):
            await cur.execute(conflicts.stored_rows_sql(kind, len(chunk)).replace("?", "%s"),
                              _params(conflicts.key_params(kind, chunk)))
            found += conflicts.find_conflicts(kind, chunk, list(await cur.fetchall()))
        return found

    # -- schema ------------------------------------------------------------------------------
    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        # MariaDB's DDL is not transactional: a named lock keeps a second migrator out, and
        # each statement is written to be re-runnable after a half-applied migration.
        lock_name = f"trifactor_migrate_{self.url.database}"

        async def take() -> None:
            assert self._pool is not None
            self._held = await self._pool.acquire()
            async with self._held.cursor() as cur:
                await cur.execute("SELECT GET_LOCK(%s, %s)", (lock_name, int(self.timeout_s * 6)))
                (got,) = await cur.fetchone()
            if got != 1:
                raise StoreError(f"{self.url}: another process is migrating the schema; try again")

        async def give() -> None:
            conn, self._held = self._held, None
            assert conn is not None and self._pool is not None
            try:
                async with conn.cursor() as cur:
                    await cur.execute("SELECT RELEASE_LOCK(%s)", (lock_name,))
            finally:
                self._pool.release(conn)

        self._run(take())
        try:
            yield
        finally:
            self._run(give())

    def apply_migration(self, version: int, description: str, statements: list[str]) -> None:
        async def go() -> None:
            async with self._connection() as conn:
                async with conn.cursor() as cur:
                    for statement in statements:
                        await cur.execute(statement)
                    await cur.execute("INSERT INTO schema_version (version, description, applied_at) "
                                      "VALUES (%s, %s, %s)", (version, description, utc_naive(datetime.now(timezone.utc))))
                await conn.commit()
        try:
            self._run(go())
        except pymysql.err.MySQLError as e:
            raise StoreError(f"{self.url}: migration {version} ({description}) failed: {e.args[-1]}") from None

    def layout(self) -> Layout:
        db = self.url.database
        columns = self.query("SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
                             "WHERE TABLE_SCHEMA = ?", (db,))
        indexes = self.query("SELECT DISTINCT TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS "
                             "WHERE TABLE_SCHEMA = ? AND INDEX_NAME <> 'PRIMARY'", (db,))
        out: dict[str, tuple[set[str], set[str]]] = {}
        for table, column in columns:
            out.setdefault(table, (set(), set()))[0].add(column)
        for table, index in indexes:
            out.setdefault(table, (set(), set()))[1].add(index)
        return {t: (frozenset(c), frozenset(i)) for t, (c, i) in out.items()}
