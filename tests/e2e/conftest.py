"""Fixtures of the end-to-end ledger tests: sandboxes for real engine processes, a fresh
database on the shared MariaDB, and a private MariaDB server the outage tests may stop or kill.
None of these tests is ever skipped: a missing server is a failure.
"""
from __future__ import annotations

import shutil
import uuid
from typing import Iterator

import pytest

from tests.e2e.engine_process import Sandbox
from tests.e2e.private_mariadb import PrivateMariaDB, free_port
from tests.storage.mariadb import Server, drop_database, find_server


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "e2e: starts real trifactor processes")


def database_name() -> str:
    return f"tf_e2e_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sandbox(tmp_path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path / "sandbox")
    try:
        yield box
    finally:
        box.close()


@pytest.fixture(scope="session")
def shared_mariadb() -> Server:
    found = find_server()
    if not isinstance(found, Server):
        pytest.fail(found)
    return found


@pytest.fixture
def shared_mariadb_url(shared_mariadb) -> Iterator[str]:
    name = database_name()
    try:
        yield shared_mariadb.url(name)
    finally:
        drop_database(shared_mariadb, name)


@pytest.fixture(params=["sqlite", "mysql"])
def store_url(request, tmp_path) -> Iterator[str]:
    """A fresh store: an SQLite file, or a new database on the shared MariaDB."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield request.getfixturevalue("shared_mariadb_url")


@pytest.fixture(scope="session")
def private_mariadbs(tmp_path_factory) -> Iterator[list[PrivateMariaDB]]:
    """Two private servers on free ports, so two kill -9 lanes never share an outage."""
    servers = [PrivateMariaDB(tmp_path_factory.mktemp("mariadb"), free_port()) for _ in range(2)]
    try:
        for server in servers:
            server.install()
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def private_mariadb(private_mariadbs) -> PrivateMariaDB:
    return private_mariadbs[0]


@pytest.fixture
def private_mariadb_url(private_mariadb) -> Iterator[str]:
    """A fresh database on the private server, which is up again when the test ends."""
    name = database_name()
    try:
        yield private_mariadb.url(name)
    finally:
        private_mariadb.resume()
        if private_mariadb.process is None or private_mariadb.process.poll() is not None:
            private_mariadb.start()
        private_mariadb.drop(name)
