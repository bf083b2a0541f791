"""Ways to take a store away from a running engine and give it back."""
from __future__ import annotations

from tests.e2e.private_mariadb import PrivateMariaDB
from tests.e2e.sqlite_lock import SqliteLock


class SqliteLocked:
    name = "sqlite exclusive lock"

    def __init__(self, url: str) -> None:
        self.lock = SqliteLock(url)

    def begin(self) -> None:
        self.lock.__enter__()

    def end(self) -> None:
        self.lock.release()


class MariaDBStopped:
    name = "mariadbd SIGSTOP"

    def __init__(self, server: PrivateMariaDB) -> None:
        self.server = server

    def begin(self) -> None:
        self.server.pause()

    def end(self) -> None:
        self.server.resume()


class MariaDBKilled:
    name = "mariadbd SIGKILL"

    def __init__(self, server: PrivateMariaDB) -> None:
        self.server = server

    def begin(self) -> None:
        self.server.kill()

    def end(self) -> None:
        self.server.start()


def outages_for(url: str, server: PrivateMariaDB | None) -> list:
    if url.startswith("sqlite:///"):
        return [SqliteLocked(url)]
    assert server is not None and f":{server.port}/" in url, "outages need the private MariaDB"
    return [MariaDBStopped(server), MariaDBKilled(server)]
