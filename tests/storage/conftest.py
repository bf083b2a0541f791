"""Fixtures: every store test runs against SQLite and the real MariaDB."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

from engine.config import StorageConfig
from storage import Store, open_store
from tests.storage.db import NO_SECRETS
from tests.storage.mariadb import Server, drop_database, find_server, fresh_database, require_server


@dataclass
class Backend:
    """One backend under test: its URL and, for MariaDB, the server and database name."""

    name: str
    url: str
    tmp: Path
    server: Server | None = None
    database: str = ""

    def open(self, url: str | None = None, *, journal: str = "journal", retention_days: float = 0.0,
             timeout_s: float = 2.0, retry_interval_s: float = 0.05) -> Store:
        config = StorageConfig(signals_retention_days=retention_days)
        return open_store(url or self.url, config, NO_SECRETS, journal_dir=self.tmp / journal,
                          timeout_s=timeout_s, retry_interval_s=retry_interval_s)


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
async def store(backend) -> AsyncIterator[Store]:
    s = backend.open()
    await s.start()
    try:
        yield s
    finally:
        await s.close()
