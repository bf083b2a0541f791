"""Cutting a test's database off and bringing it back."""
from __future__ import annotations

import sqlite3

from tests.storage.proxy import TcpProxy


class SqliteLock:
    """Another process holding SQLite's write lock (the store's writes time out)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = url[len("sqlite:///"):]
        self.conn: sqlite3.Connection | None = None

    async def cut(self) -> None:
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("BEGIN EXCLUSIVE")

    async def restore(self) -> None:
        assert self.conn is not None
        self.conn.execute("ROLLBACK")
        self.conn.close()


class WritesBlocked:
    """Another MariaDB connection holds the write locks on `trades`: the server answers and reads
    as usual, but the store's writes wait out their timeout (a slow, contended server)."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.conn = None

    async def cut(self) -> None:
        self.conn = self.backend.server.admin(self.backend.database)
        with self.conn.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT * FROM trades FOR UPDATE")  # every record and gap: no insert gets in

    async def restore(self) -> None:
        assert self.conn is not None
        self.conn.rollback()
        self.conn.close()
        self.conn = None


class ProxyCut:
    """MariaDB reached through a proxy that the test stops (connections drop) and restarts."""

    def __init__(self, backend) -> None:
        server = backend.server
        self.proxy = TcpProxy(server.host, server.port, server.unix_socket)
        self.url = server.url(backend.database, port=self.proxy.port)

    async def cut(self) -> None:
        await self.proxy.stop()

    async def restore(self) -> None:
        await self.proxy.start()


async def outage_for(backend):
    """The way to cut this backend off; for MariaDB the store must use `outage.url`."""
    if backend.name == "sqlite":
        return SqliteLock(backend.url)
    cut = ProxyCut(backend)
    await cut.proxy.start()
    return cut


async def end_outage(outage) -> None:
    if isinstance(outage, ProxyCut):
        await outage.proxy.stop()
