"""A MariaDB server of the tests' own, in a temporary data directory, that they may stop,
kill and restart to cut the engine off its database (the shared server is never touched).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pymysql

MARIADBD = "/usr/sbin/mariadbd"


def free_port() -> int:
    """A port nothing listens on now: two test runs on one machine never share a private server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


START_TIMEOUT_S = 60.0


class PrivateMariaDB:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.datadir = root / "data"
        self.process: subprocess.Popen | None = None
        self.paused = False

    # -- lifecycle ---------------------------------------------------------------------------
    def install(self) -> None:
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if installer is None or not Path(MARIADBD).exists():
            raise RuntimeError(f"the private MariaDB needs {MARIADBD} and mariadb-install-db")
        self.root.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [installer, "--no-defaults", "--user=root", f"--datadir={self.datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {done.stderr[-2000:]}")

    def start(self) -> None:
        """Start (or restart after a kill) the server on the same data directory."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.root / 'sock'}",
             f"--pid-file={self.root / 'pid'}", "--user=root", "--skip-name-resolve",
             "--innodb-buffer-pool-size=64M", f"--log-error={self.root / 'error.log'}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.paused = False
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self.admin().close()
                return
            except pymysql.MySQLError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the private MariaDB did not start; see {self.root / 'error.log'}")
                time.sleep(0.1)

    def stop(self) -> None:
        """Shut the server down for good (the end of the session, even after a failure)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    # -- outages -----------------------------------------------------------------------------
    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused and self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        """SIGKILL: connections are refused until `start()`."""
        assert self.process is not None
        self.resume()
        self.process.kill()
        self.process.wait(timeout=30)

    # -- databases ---------------------------------------------------------------------------
    def admin(self) -> pymysql.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="",
                               autocommit=True, connect_timeout=5)

    def url(self, database: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def drop(self, database: str) -> None:
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
