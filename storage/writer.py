"""The write-behind core, run in the store's writer thread: each batch goes to the
database in one transaction, or, while the database cannot take it, to the spool journal.

Once anything is spooled, later batches are spooled behind it (never written around it)
until the spool has been replayed in order, so what the database holds is always a prefix
of the event stream. Replaying is idempotent (natural keys, guarded upserts): a batch
replayed twice, or replayed after its commit was lost in transit, changes nothing.

A row whose key is already stored with other content is never dropped quietly: it is set
aside in the rejected journal, logged as an error, and the writer's state says so for the
rest of the run.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from storage.backend import Backend
from storage.errors import StoreConflict, Unavailable
from storage.journal import Journal
from storage.rows import Row, journal_values, revive

log = logging.getLogger(__name__)
REPLAY_CHUNK_ROWS = 5000  # counting a packed minute of signals as the signals it holds (a few MB a chunk)


@dataclass(frozen=True)
class WriterState:
    status: str  # up, degraded, down
    spooled: int
    message: str


def encode_rows(rows: list[Row]) -> list[list]:
    return [[kind, journal_values(kind, values)] for kind, values in rows]


def decode_rows(record: list) -> list[Row]:
    return [(kind, revive(kind, values)) for kind, values in record]


class Writer:
    def __init__(self, backend: Backend, journal_dir: Path, retry_interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self.spool = Journal(journal_dir / "spool.jsonl")
        self.rejected = Journal(journal_dir / "rejected.jsonl")
        self.retry_interval_s = retry_interval_s
        self.clock = clock
        self.spooled = sum(len(record) for _, record in self.spool.read())
        self._replayed_to = 0  # bytes of the spool already replayed in this process
        self._held: list[Row] = []  # rows neither written nor spooled (the spool itself failed)
        self._next_retry = 0.0
        self.message = "" if not self.spooled else f"{self.spooled} rows spooled by an earlier run"
        self.down = False
        self.conflicts = 0  # rows set aside in this run because their key holds other content
        self.last_conflict = ""

    @property
    def state(self) -> WriterState:
        if self.down:
            return WriterState("down", self.spooled + len(self._held), self.message)
        if self.spooled:
            return WriterState("degraded", self.spooled, self.message)
        return WriterState("up", 0, self._conflict_message())

    def _conflict_message(self) -> str:
        if not self.conflicts:
            return ""
        rows = "1 conflicting row" if self.conflicts == 1 else f"{self.conflicts} conflicting rows"
        return f"{rows} set aside in {self.rejected.path}; last: {self.last_conflict}"

    def write(self, rows: list[Row], force_replay: bool = False) -> WriterState:
        """Make `rows` durable: in the database if it is writable and nothing waits before them."""
        rows = self._held + rows
        self._held = []
        if self.spooled:
            self._to_spool(rows)
            self.replay(force=force_replay)
        elif rows:
            done = self._commit(rows)
            if done == len(rows):
                self.down = False
            self._to_spool(rows[done:])
        return self.state

    def hold(self, rows: list[Row], message: str) -> WriterState:
        """The database has not been reached yet: keep `rows`, in order, in the spool."""
        rows, self._held = self._held + rows, []  # as write() does: what the spool refused before comes first
        self._to_spool(rows)
        self.message = message
        return WriterState("down", self.spooled + len(self._held), message)

    def replay(self, force: bool = False) -> None:
        """Move spooled batches into the database, oldest first, until done or it fails again."""
        if not self.spooled or (not force and self.clock() < self._next_retry):
            return
        chunk: list[Row] = []
        weight = 0
        chunk_end = self._replayed_to
        for end, record in self.spool.read(self._replayed_to):
            rows = decode_rows(record)
            chunk += rows
            weight += sum(values.get("symbols", 1) if kind == "signal_minute" else 1 for kind, values in rows)
            chunk_end = end
            if weight >= REPLAY_CHUNK_ROWS:
                if self._commit(chunk) < len(chunk):
                    return  # the committed part is replayed again later: harmless
                self._advance(chunk_end, len(chunk))
                chunk, weight = [], 0
        if chunk:
            if self._commit(chunk) < len(chunk):
                return
            self._advance(chunk_end, len(chunk))
        if self.spool.clear_if_unchanged(self._replayed_to):
            self._replayed_to = 0
            self.spooled = 0
            self.message = ""
            log.info("store: spool replayed; writing directly again")

    def _advance(self, offset: int, rows: int) -> None:
        self._replayed_to = offset
        self.spooled = max(0, self.spooled - rows)

    def _commit(self, rows: list[Row]) -> int:
        """How many leading rows are now in the database (or set aside as refused)."""
        try:
            self.backend.write(rows)
            return len(rows)
        except StoreConflict as e:  # the batch is in, except the conflicting rows
            self._set_aside(e)
            return len(rows)
        except Unavailable as e:
            self._unavailable(str(e))
            return 0
        except Exception as e:  # a row the database refuses: find it, keep the others
            log.error("store: a batch of %d rows was refused (%s); writing them one by one", len(rows), e)
        for i, row in enumerate(rows):
            try:
                self.backend.write([row])
            except StoreConflict as e:
                self._set_aside(e)
            except Unavailable as e:
                self._unavailable(str(e))
                return i
            except Exception as e:
                log.error("store: a %s row was refused and set aside in %s: %s", row[0], self.rejected.path, e)
                self.rejected.append([{"error": str(e), "rows": encode_rows([row])}])
        return len(rows)

    def _set_aside(self, error: StoreConflict) -> None:
        self.rejected.append([{"error": f"conflict: {c}", "rows": encode_rows([c.row])} for c in error.conflicts])
        for c in error.conflicts:
            log.error("store: %s; the row is set aside in %s", c, self.rejected.path)
        self.conflicts += len(error.conflicts)
        self.last_conflict = str(error.conflicts[-1])

    def _unavailable(self, message: str) -> None:
        if not self.spooled:
            log.warning("store: database unavailable (%s); spooling to %s", message, self.spool.path)
        self.message = message
        self._next_retry = self.clock() + self.retry_interval_s

    def _to_spool(self, rows: list[Row]) -> None:
        if not rows:
            return
        try:
            self.spool.append([encode_rows(rows)])
        except OSError as e:
            self._held = rows  # kept in memory, in order, until the spool or the database takes them
            self.down = True
            self.message = f"cannot write the spool {self.spool.path}: {e.strerror or e}"
            log.error("store: %s", self.message)
            return
        self.down = False
        self.spooled += len(rows)

    def close(self) -> None:
        self.spool.close()
        self.rejected.close()
