"""Another process holding `BEGIN EXCLUSIVE` on an SQLite file: the engine can neither
write nor read it until the lock is released (or the holder is killed)."""
from __future__ import annotations

import subprocess
import sys

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
conn.execute("ROLLBACK")
"""


class SqliteLock:
    def __init__(self, url: str) -> None:
        self.path = url[len("sqlite:///"):]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "SqliteLock":
        self.process = subprocess.Popen([sys.executable, "-c", HOLDER, self.path], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if line.strip() != "locked":
            self.release()
            raise RuntimeError(f"could not lock {self.path}")
        return self

    def release(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def __exit__(self, *exc) -> None:
        self.release()
