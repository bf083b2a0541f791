"""Fixtures: every store test runs against SQLite and the real MariaDB."""
from __future__ import annotations

from typing import AsyncIterator, Iterator

import pytest

from storage import Store
from tests.storage.backends import Backend
from tests.storage.mariadb import Server, drop_database, find_server, fresh_database, require_server
from tests.storage.outages import end_outage, outage_for


@pytest.fixture(scope="session")
def mariadb_found() -> Server | str:
    return find_server()


@pytest.fixture
def mariadb(mariadb_found) -> Server:
    return require_server(mariadb_found)


@pytest.fixture(params=["sqlite", "mysql"])
def backend(request, tmp_path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
        return
    server = require_server(request.getfixturevalue("mariadb_found"))
    name = fresh_database(server)
    try:
        yield Backend("mysql", server.url(name), tmp_path, server, name)
    finally:
        drop_database(server, name)


@pytest.fixture
def mariadb_backend(mariadb, tmp_path) -> Iterator[Backend]:
    """A fresh database on the real MariaDB only (for what only a server does)."""
    name = fresh_database(mariadb)
    yield Backend("mysql", mariadb.url(name), tmp_path, mariadb, name)
    drop_database(mariadb, name)


@pytest.fixture
async def store(backend) -> AsyncIterator[Store]:
    s = backend.open()
    await s.start()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def outage(backend):
    """A way to cut `backend` off and bring it back (the store must use `outage.url`)."""
    cut = await outage_for(backend)
    try:
        yield cut
    finally:
        await end_outage(cut)
