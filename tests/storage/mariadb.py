"""The real MariaDB server the store tests run against, and per-test databases on it.

Tests connect as root with no password over TCP, or through the server's socket where
root has no TCP login. In CI (CI=true) a missing server fails the run; elsewhere the
MariaDB half of the suite is skipped with the reason.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

SOCKET = "/run/mysqld/mysqld.sock"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    unix_socket: str | None

    def admin(self, database: str | None = None) -> pymysql.Connection:
        return pymysql.connect(host=self.host, port=self.port, user="root", password="",
                               unix_socket=self.unix_socket, database=database, autocommit=True)

    def url(self, database: str, port: int | None = None) -> str:
        if self.unix_socket and port is None:
            return f"mysql://root@localhost/{database}?unix_socket={self.unix_socket}"
        return f"mysql://root@127.0.0.1:{port or self.port}/{database}"


def find_server() -> Server | str:
    """A reachable server, or why there is none."""
    problems = []
    for server in (Server("127.0.0.1", 3306, None), Server("localhost", 3306, SOCKET)):
        if server.unix_socket and not Path(server.unix_socket).exists():
            problems.append(f"no socket at {server.unix_socket}")
            continue
        try:
            server.admin().close()
            return server
        except pymysql.MySQLError as e:
            problems.append(f"{server.host}:{server.port} {server.unix_socket or ''}: {e}")
    return "MariaDB is not reachable as root: " + "; ".join(problems)


def require_server(found: Server | str) -> Server:
    if isinstance(found, Server):
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(found + " (CI=true: MariaDB must be running)")
    pytest.skip(found)


def fresh_database(server: Server) -> str:
    # TRIFACTOR_TEST_DB_PREFIX keeps the databases of parallel test runs on one server apart.
    name = f"{os.environ.get('TRIFACTOR_TEST_DB_PREFIX', 'tf_test_')}{uuid.uuid4().hex[:12]}"
    with server.admin() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    return name


def drop_database(server: Server, name: str) -> None:
    with server.admin() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
