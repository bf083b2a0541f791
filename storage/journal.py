"""An append-only, fsync'ed file of records, one JSON line each behind its CRC.

A line is only trusted whole: a torn last line (the process died mid-write) fails its
check, is reported and cut off when the file is opened, so appends never follow garbage.
Records are written and read in order; the file is emptied once its records are safe
elsewhere.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import zlib
from pathlib import Path
from typing import Any, Iterator

from engine.paths import private_file

log = logging.getLogger(__name__)


def _encode(record: Any) -> bytes:
    body = json.dumps(record, default=str, separators=(",", ":")).encode()
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def _decode(line: bytes) -> Any:
    """The record on a whole line, or raise ValueError."""
    if len(line) < 10 or not line.endswith(b"\n") or line[8:9] != b" ":
        raise ValueError("incomplete line")
    body = line[9:-1]
    if int(line[:8], 16) != zlib.crc32(body):
        raise ValueError("checksum mismatch")
    return json.loads(body)


def fsync_dir(path: Path) -> None:
    """Make a newly created file's directory entry durable too."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def peek(path: Path) -> Iterator[Any]:
    """The whole records of a journal another process may be writing, read without opening it
    for writing or repairing it: reading stops at the first line that is not whole yet."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        for line in fh:
            try:
                yield _decode(line)
            except ValueError:
                return


class Journal:
    """Thread-safe: appends may come from the event loop while the writer thread reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        created = not path.exists()
        private_file(path)
        self._file = open(path, "ab")
        if created:
            fsync_dir(path.parent)
        self.records = 0
        self._repair()

    def _repair(self) -> None:
        good_end = 0
        with open(self.path, "rb") as fh:
            for line in fh:
                try:
                    _decode(line)
                except ValueError as e:
                    log.warning("journal %s: dropping a damaged tail at byte %d (%s)", self.path, good_end, e)
                    break
                good_end += len(line)
                self.records += 1
        if good_end != self.path.stat().st_size:
            self._file.truncate(good_end)
            self._file.seek(good_end)
            os.fsync(self._file.fileno())

    def append(self, records: list[Any], durable: bool = True) -> None:
        """Write the records; with `durable`, return only once they are on disk."""
        data = b"".join(_encode(r) for r in records)
        with self._lock:
            self._file.write(data)
            self._file.flush()
            if durable:
                os.fdatasync(self._file.fileno())
            self.records += len(records)

    def read(self, start: int = 0) -> Iterator[tuple[int, Any]]:
        """(offset after the record, record) from byte `start` to the current end."""
        with self._lock:
            end = self._file.tell()
        offset = start
        with open(self.path, "rb") as fh:
            fh.seek(start)
            while offset < end:
                line = fh.readline()
                offset += len(line)
                yield offset, _decode(line)

    @property
    def size(self) -> int:
        with self._lock:
            return self._file.tell()

    def clear_if_unchanged(self, size: int) -> bool:
        """Empty the file if nothing was appended since it had `size` bytes."""
        with self._lock:
            if self._file.tell() != size:
                return False
            self._file.truncate(0)
            self._file.seek(0)
            os.fsync(self._file.fileno())
            self.records = 0
            return True

    def close(self) -> None:
        with self._lock:
            self._file.close()
