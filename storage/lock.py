"""One writer per book: an exclusive advisory lock per (store, instance), held by the
engine's store from start to close.

- SQLite: `flock` on `<dbfile>.<instance>.lock` (0600); the holder writes `pid host
  started_at` into it, so a refused engine can say who holds it.
- MariaDB/MySQL: `GET_LOCK('trifactor:<database>:<instance>', 0)` on a connection kept open
  for the store's lifetime; the server frees it when that connection ends, whatever
  happens to the process. The refused engine names the holder from the `instances` row it
  wrote (process, host, since) or, failing that, the server's process list.

Read-only tools (`trifactor status`, `db check`) never take it. The server lock is in
storage/mysql_lock.py, so that an SQLite store never loads pymysql.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from engine.paths import private_dir
from storage.codec import to_utc
from storage.errors import InstanceBusy, StoreError
from storage.url import StoreUrl

MAX_LOCK_NAME = 64  # MySQL refuses longer user-lock names


@dataclass(frozen=True)
class Holder:
    """Who runs an instance: this process when it takes the lock, or the one found holding it."""

    pid: int | None
    host: str
    started_at: datetime | None

    @staticmethod
    def me() -> Holder:
        return Holder(os.getpid(), socket.gethostname(), datetime.now(timezone.utc))

    def describe(self) -> str:
        who = f"pid {self.pid}" if self.pid is not None else "pid unknown"
        since = f", since {self.started_at:%Y-%m-%d %H:%M:%S} UTC" if self.started_at else ""
        return f"{who} on host {self.host or 'unknown'}{since}"


def refusal(holder: Holder, instance: str, url: StoreUrl) -> InstanceBusy:
    return InstanceBusy(f"another trifactor engine ({holder.describe()}) already runs instance '{instance}' "
                      f"on store {url}; stop it or pick another `instance`")


class InstanceLock(Protocol):
    holder: Holder

    def acquire(self) -> None:
        """Take the lock now or raise StoreError naming the engine that holds it."""

    def check(self) -> None:
        """Make sure the lock is still held (take it again after a lost connection); raise StoreError if not."""

    def release(self) -> None: ...


def lock_file(url: StoreUrl, instance: str) -> Path:
    assert url.path is not None
    return url.path.with_name(f"{url.path.name}.{instance}.lock")


class FileLock:
    def __init__(self, url: StoreUrl, instance: str) -> None:
        self.url = url
        self.instance = instance
        self.path = lock_file(url, instance)
        self.holder = Holder.me()
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # never truncated before it is ours
        except OSError as e:
            raise StoreError(f"cannot create the lock file {self.path}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder(fd)
            os.close(fd)
            raise refusal(holder, self.instance, self.url) from None
        except OSError as e:
            os.close(fd)
            raise StoreError(f"cannot lock {self.path}: {e.strerror or e}") from None
        h = self.holder
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{h.pid} {h.host} {h.started_at.isoformat(timespec='seconds')}\n".encode(), 0)
        self._fd = fd

    @staticmethod
    def _read_holder(fd: int) -> Holder:
        try:
            pid, host, started = os.pread(fd, 512, 0).decode().split()
            return Holder(int(pid), host, to_utc(started))
        except (OSError, ValueError):  # the holder has not written it yet
            return Holder(None, "", None)

    def check(self) -> None:
        if self._fd is None:
            raise StoreError(f"the lock {self.path} is not held")

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def server_lock_name(database: str, instance: str) -> str:
    name = f"trifactor:{database}:{instance}"
    if len(name) <= MAX_LOCK_NAME:
        return name
    return "trifactor:" + hashlib.sha256(name.encode()).hexdigest()[:40]


def instance_lock(url: StoreUrl, instance: str, backend: Any) -> InstanceLock:
    if url.dialect == "sqlite":
        return FileLock(url, instance)
    from storage.mysql_lock import ServerLock  # pymysql (and what it loads) only for a server store

    return ServerLock(url, instance, backend.dedicated_connection)


def is_running(url: StoreUrl, instance: str, backend: Any) -> bool | None:
    """Whether an engine holds the instance's lock now, found without taking it (None: cannot tell).

    SQLite: the lock file names its holder until it is released; a holder on this host is
    checked for being alive (a killed engine leaves its line behind). MariaDB: IS_USED_LOCK.
    """
    if url.dialect != "sqlite":
        [(holder,)] = backend.query("SELECT IS_USED_LOCK(?)", (server_lock_name(url.database, instance),))
        return holder is not None
    try:
        text = lock_file(url, instance).read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return None
    if not text.strip():
        return False
    try:
        pid, host, _ = text.split()
        if host != socket.gethostname():
            return None
        os.kill(int(pid), 0)
    except ValueError:
        return None
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True
