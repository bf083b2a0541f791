"""The instance lock of a MariaDB/MySQL store (see storage/lock.py): GET_LOCK on a connection
of its own. A module of its own so that an SQLite store never imports pymysql."""
from __future__ import annotations

import logging
from typing import Any

import pymysql

from storage.codec import to_utc
from storage.errors import StoreError
from storage.lock import Holder, refusal, server_lock_name
from storage.url import StoreUrl

log = logging.getLogger("storage.lock")  # the instance lock's one logger, whichever store
IDLE_FOREVER_S = 31536000  # the server's maximum wait_timeout: an idle lock connection is never dropped


class ServerLock:
    """GET_LOCK on a dedicated connection. Only used from the store's writer thread."""

    def __init__(self, url: StoreUrl, instance: str, connect: Any) -> None:
        self.url = url
        self.instance = instance
        self.name = server_lock_name(url.database, instance)
        self.holder = Holder.me()
        self._connect = connect  # () -> a new pymysql connection to the store's database
        self._conn: pymysql.Connection | None = None

    def _query(self, conn: pymysql.Connection, sql: str, params: tuple = ()) -> Any:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def acquire(self) -> None:
        try:
            conn = self._connect()
        except pymysql.MySQLError as e:
            raise StoreError(f"cannot connect to {self.url} to lock instance '{self.instance}': {e.args[-1]}") from None
        self._take(conn)

    def _take(self, conn: pymysql.Connection) -> None:
        self._conn = conn
        try:
            self._query(conn, f"SET SESSION wait_timeout = {IDLE_FOREVER_S}")
            (got,) = self._query(conn, "SELECT GET_LOCK(%s, 0)", (self.name,))
            if got != 1:
                raise refusal(self._find_holder(conn), self.instance, self.url)
        except pymysql.MySQLError as e:
            self._drop_connection()
            raise StoreError(f"cannot lock instance '{self.instance}' at {self.url}: {e.args[-1]}") from None
        except BaseException:
            self._drop_connection()
            raise

    def _find_holder(self, conn: pymysql.Connection) -> Holder:
        (holder_id,) = self._query(conn, "SELECT IS_USED_LOCK(%s)", (self.name,))
        client = ""
        if holder_id is not None:
            row = self._query(conn, "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = %s", (holder_id,))
            client = row[0] if row else ""
        try:
            row = self._query(conn, "SELECT pid, host, started_at FROM instances WHERE instance = %s",
                              (self.instance,))
        except pymysql.MySQLError:  # the holder has not created the table yet
            row = None
        conn.rollback()
        if row:
            pid, host, started = row
            return Holder(pid, f"{host} ({client})" if client else host, to_utc(started))
        return Holder(None, client, None)

    def check(self) -> None:
        if self._conn is not None:
            try:
                (mine,) = self._query(self._conn, "SELECT IS_USED_LOCK(%s) = CONNECTION_ID()", (self.name,))
                if mine == 1:
                    return
            except pymysql.MySQLError:  # the connection ended, and the server freed the lock with it
                pass
        self._drop_connection()
        try:
            conn = self._connect()
        except pymysql.MySQLError as e:  # the server is away: try again at the next check
            log.warning("store: cannot take the lock on instance '%s' at %s again yet: %s", self.instance,
                        self.url, e.args[-1])
            return
        self._take(conn)  # or say who has it now
        log.warning("store: took the lock on instance '%s' at %s again after its connection ended",
                    self.instance, self.url)

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except pymysql.MySQLError:  # already closed by the server or the network
                pass

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._query(self._conn, "SELECT RELEASE_LOCK(%s)", (self.name,))
        except pymysql.MySQLError:
            pass  # closing the connection frees it too
        finally:
            self._drop_connection()
