"""The write-ahead ledger: every durable event's rows, fsync'ed before anyone sees the event.

The bus appends each durable event (orders, fills, funding, commands, positions, equity,
engine state) here as it is published and calls `sync` before delivering them; `sync`
writes and fdatasyncs in the ledger's own thread, so it never waits on the database. The
rows then go to the database through the store's writer, and once they are there (or in
its spool, which is durable too) `release_through` lets the ledger forget them.

On disk: segment files `ledger-<first seq>.jsonl` (CRC-checked lines, see journal.py), each
line `[seq, rows]`. What is still on disk at start is exactly what the database may lack; it
is replayed (idempotently) before the engine reads its state back.
"""
from __future__ import annotations

import fcntl
import logging
import os
from collections import deque
from datetime import datetime
from pathlib import Path

from engine.config import DEFAULT_INSTANCE
from engine.events import Event
from engine.paths import private_dir
from storage.errors import StoreError
from storage.journal import Journal
from storage.rows import Row, rows_for
from storage.threads import DaemonWorker
from storage.writer import decode_rows, encode_rows

log = logging.getLogger(__name__)
SEGMENT_BYTES = 8 << 20
WATERMARK = "market-time"  # the newest market time the ledger handed on: lets a sim resume after it
Record = tuple[int, list[Row]]


class _Unwritten(Exception):
    def __init__(self, records: list[Record], cause: OSError) -> None:
        super().__init__(str(cause))
        self.records, self.cause = records, cause


def _lock_directory(directory: Path) -> int:
    """One process per ledger: a second one must not read, let alone repair, a live ledger."""
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(f"the ledger {directory} is in use by another trifactor process (same store and "
                         f"instance); stop it or pick another `instance`") from None
    return fd


def _segment_name(first_seq: int) -> str:
    return f"ledger-{first_seq:012d}.jsonl"


def _newest_time(rows: list[Row]) -> datetime | None:
    times = [v.get("timestamp") for _, v in rows if isinstance(v.get("timestamp"), datetime)]
    return max(times) if times else None


class LedgerJournal:
    def __init__(self, directory: Path, instance: str = DEFAULT_INSTANCE) -> None:
        self.directory = directory
        self.instance = instance
        private_dir(directory)
        self._lock_fd = _lock_directory(directory)
        self._thread = DaemonWorker("trifactor-ledger")
        self._buffer: list[Event] = []  # appended, not yet on disk
        self._handed: deque[Record] = deque()  # on disk, not yet taken by the writer
        self._segments: list[tuple[int, int, Path]] = []  # closed segments: (first, last seq, path)
        self._active: Journal | None = None
        self._active_first = 0
        self._active_last = 0
        self._problem = ""
        self._recovered = self._read_segments()
        self._forgotten_newest: datetime | None = None
        self._seq = self._segments[-1][1] if self._segments else 0
        self._synced = self._seq

    # -- start: what an earlier run left ---------------------------------------------------------
    def _read_segments(self) -> list[Record]:
        records: list[Record] = []
        for path in sorted(self.directory.glob("ledger-*.jsonl")):
            journal = Journal(path)  # cuts a torn last line
            segment = [(int(seq), decode_rows(rows)) for _, (seq, rows) in journal.read()]
            journal.close()
            if not segment:
                path.unlink(missing_ok=True)
                continue
            records += segment
            self._segments.append((segment[0][0], segment[-1][0], path))
        return records

    def recovered(self) -> list[Record]:
        """Records an earlier run made durable that may not be in the database yet."""
        return list(self._recovered)

    def forget_recovered(self) -> None:
        """The recovered records are in the database (or its spool): drop their segments."""
        records = self._recovered
        if records:
            # The watermark file takes their time in the ledger's thread, a moment later; until then
            # `watermark()` has it from here (a spooled record is in no database read either).
            self._forgotten_newest = _newest_time([row for _, rows in records for row in rows])
        self._recovered = []
        if records:
            self._thread.submit(self._forget, records)

    def _forget(self, records: list[Record]) -> None:
        self._note_watermark(records)
        last = records[-1][0]
        keep = []
        for first, seg_last, path in self._segments:
            if seg_last <= last:
                path.unlink(missing_ok=True)
            else:
                keep.append((first, seg_last, path))
        self._segments = keep

    def watermark(self) -> datetime | None:
        """The newest market time of any record this ledger holds or has handed on."""
        newest = None
        try:
            text = (self.directory / WATERMARK).read_text(encoding="utf-8").strip()
            newest = datetime.fromisoformat(text) if text else None
        except (OSError, ValueError):
            pass
        for t in [self._forgotten_newest] + [_newest_time(rows) for _, rows in self._recovered]:
            if t is not None and (newest is None or t > newest):
                newest = t
        return newest

    # -- the bus's side --------------------------------------------------------------------------
    @property
    def problem(self) -> str:
        return self._problem

    @property
    def waiting(self) -> int:
        """Records on disk that the database does not have yet (this run's and an earlier one's)."""
        return len(self._handed) + len(self._recovered) + len(self._buffer)

    def append(self, event: Event) -> None:
        self._buffer.append(event)  # turned into rows in the ledger's thread, off the engine's loop

    async def sync(self) -> int:
        if not self._buffer:
            return self._synced
        events, self._buffer = self._buffer, []
        try:
            records = await self._thread.run(self._write, events)
            if self._problem:
                log.warning("ledger %s: writing again", self.directory)
            self._problem = ""
        except _Unwritten as e:
            # The rows still go on to the database; what is lost is only the guarantee, and
            # the operator is told (and the engine stops adding risk while it lasts).
            records = e.records
            cause = e.cause
            why = cause.strerror if isinstance(cause, OSError) and cause.strerror else f"{type(cause).__name__}: {cause}"
            self._problem = f"cannot write the ledger in {self.directory}: {why}"
            log.error("%s", self._problem)
        except Exception as e:
            # Not even the rows are known (a dead thread, a bug): the guarantee is gone all the
            # same, and that must stop new risk rather than only reach the log.
            self._problem = f"the ledger in {self.directory} failed: {type(e).__name__}: {e}"
            log.exception("%s", self._problem)
            raise
        if records:
            self._synced = records[-1][0]
            self._handed.extend(records)
        return self._synced

    def _records(self, events: list[Event]) -> list[Record]:
        records = []
        for event in events:
            try:
                rows = rows_for(event, self.instance)
            except Exception as e:  # noqa: BLE001 - one malformed event must not cost the others
                log.error("ledger: a %s event cannot be recorded: %s", getattr(event, "kind", type(event).__name__),
                          e)
                continue
            if rows:
                self._seq += 1
                records.append((self._seq, rows))
        return records

    def _write(self, events: list[Event]) -> list[Record]:
        batch = self._records(events)
        if not batch:
            return batch
        try:
            if self._active is None:
                self._active_first = batch[0][0]
                path = self.directory / _segment_name(self._active_first)
                self._active = Journal(path)
                os.chmod(path, 0o600)
            self._active.append([[seq, encode_rows(rows)] for seq, rows in batch])
        except Exception as e:  # a full disk, or a row the file cannot take: the rows go on regardless
            raise _Unwritten(batch, e) from None
        self._active_last = batch[-1][0]
        if self._active.size >= SEGMENT_BYTES:
            self._segments.append((self._active_first, self._active_last, self._active.path))
            self._active.close()
            self._active = None
        return batch

    # -- the writer's side -------------------------------------------------------------------------
    def take_through(self, seq: int) -> list[Row]:
        """The rows of every synced record up to `seq`, in order, for the database."""
        rows: list[Row] = []
        handed = self._handed
        while handed and handed[0][0] <= seq:
            rows += handed.popleft()[1]
        return rows

    async def release_through(self, seq: int, newest: datetime | None) -> None:
        """Records up to `seq` are in the database or its spool: their segments may go."""
        await self._thread.run(self._release, seq, newest)

    def _release(self, seq: int, newest: datetime | None) -> None:
        if newest is not None:
            self._write_watermark(newest)
        keep = []
        for first, last, path in self._segments:
            if last <= seq and not self._recovered:
                path.unlink(missing_ok=True)
            else:
                keep.append((first, last, path))
        self._segments = keep
        if self._active is not None and self._active_last <= seq and not self._segments and not self._recovered:
            path = self._active.path
            self._active.close()
            self._active = None
            path.unlink(missing_ok=True)

    def _note_watermark(self, records: list[Record]) -> None:
        times = [t for t in (_newest_time(rows) for _, rows in records) if t is not None]
        if times:
            self._write_watermark(max(times))

    def _write_watermark(self, newest: datetime) -> None:
        try:
            current = self.watermark_file_time()
            if current is not None and current >= newest:
                return
            tmp = self.directory / (WATERMARK + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(newest.isoformat())
            os.replace(tmp, self.directory / WATERMARK)
        except OSError as e:
            log.warning("ledger %s: could not note the market time: %s", self.directory, e)

    def watermark_file_time(self) -> datetime | None:
        try:
            return datetime.fromisoformat((self.directory / WATERMARK).read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    def close(self, wait_s: float = 2.0) -> None:
        """Write what is buffered (a last sync) and stop the ledger's thread."""
        batch, self._buffer = self._buffer, []

        def finish() -> None:
            if batch:
                self._write(batch)
            if self._active is not None:
                self._active.close()
                self._active = None
        self._thread.submit(finish)
        self._thread.shutdown(wait_s)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # frees the flock
            self._lock_fd = None


def newest_time(rows: list[Row]) -> datetime | None:
    return _newest_time(rows)
