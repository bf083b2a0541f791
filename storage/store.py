"""The store the app runs: a write-behind writer fed by the event bus, the engine's
state at start, and the reads the desk needs.

All database work happens in two threads the store owns (one writes, one reads), each
with its own connection; the engine's loop only hands over event lists and never waits
on the database. An order intent is in the intents journal, on disk, before
`record_order_intent` returns, so a real order never leaves without a durable trace.

One engine per (store, instance): `start()` takes an advisory lock (storage/lock.py) and
`close()` releases it; every row written carries the instance and every read filters by it.

Lifecycle: `open_store(...)`, `await start()` (lock, migrations, replay of anything journaled),
`attach(bus)` (the writer task runs from then on), `await flush()` when everything so far
must be durable, `await close()` at the end.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, TypeVar

from engine.config import DEFAULT_INSTANCE, INSTANCE_NAME, StorageConfig
from engine.events import Event, EventBus, OrderUpdate, StoreStatus, Subscription
from engine.paths import state_dir
from engine.secrets import Secrets
from engine.store import RestoredControls, RestoredState
from storage import reads, recovery, retention
from storage.backend import make_backend
from storage.errors import StoreError
from storage.journal import Journal
from storage.heartbeat import Heartbeat
from storage.lock import InstanceLock, instance_lock
from storage.records import AuditRecord, EquityPoint, PositionRecord, SignalRecord, TradeRecord
from storage.rows import Row, order_rows, rows_for
from storage.schema import migrate, problems
from storage.url import StoreUrl, parse_url
from storage.writer import Writer, WriterState, decode_rows, encode_rows

log = logging.getLogger(__name__)
T = TypeVar("T")
RETENTION_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class JournaledIntent(Event):
    """An order intent already in the intents journal, queued behind earlier events."""

    kind: ClassVar[str] = "order_intent"
    update: OrderUpdate
    journal_end: int  # the journal's size right after this intent was appended


def default_journal_dir(url: StoreUrl, instance: str = DEFAULT_INSTANCE) -> Path:
    """Per store and instance (the default instance keeps the name it had before instances)."""
    suffix = "" if instance == DEFAULT_INSTANCE else f".{instance}"
    if url.dialect == "sqlite":
        assert url.path is not None
        return url.path.with_name(url.path.name + suffix + ".spool")
    return state_dir() / "spool" / f"{url.host}_{url.port}_{url.database}{suffix}"


class Store:
    def __init__(self, url: StoreUrl, config: StorageConfig, secrets: Secrets, journal_dir: Path, *,
                 timeout_s: float = 5.0, retry_interval_s: float = 2.0, instance: str = DEFAULT_INSTANCE) -> None:
        if not INSTANCE_NAME.match(instance):
            raise StoreError(f"instance {instance!r} must be 1-32 letters, digits, _, . or - (config key `instance`)")
        self.url = url
        self.instance = instance
        self.config = config
        self.journal_dir = journal_dir
        self.retry_interval_s = retry_interval_s
        self._write_backend = make_backend(url, config, secrets, timeout_s=timeout_s)
        self._read_backend = make_backend(url, config, secrets, read_only=True, timeout_s=timeout_s)
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="trifactor-store-write")
        self._read_thread = ThreadPoolExecutor(1, thread_name_prefix="trifactor-store-read")
        try:
            self._intents = Journal(journal_dir / "intents.jsonl")
        except OSError as e:
            raise StoreError(f"cannot use the journal directory {journal_dir}: {e.strerror or e}") from None
        self._writer: Writer | None = None
        self._instance_lock: InstanceLock | None = None
        self._heartbeat: Heartbeat | None = None
        self._sub = Subscription("storage", coalesce=False)
        self._bus: EventBus | None = None
        self._lock: asyncio.Lock | None = None
        self._drain_limit = max(config.batch_size * 20, 10_000)
        self._status = StoreStatus("down", message="not started")
        self._next_retention = 0.0
        self._started = False
        self._closed = False
        self._running = False
        self._task: asyncio.Task | None = None

    # -- running in the store's threads ------------------------------------------------------
    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._write_thread, fn, *args)

    async def _in_reader(self, fn: Callable[..., T], *args: Any) -> T:
        if not self._started or self._closed:
            raise StoreError(f"the store {self.url} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._read_thread, fn, self._read_backend, *args)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the database (creating it if allowed), lock the instance, apply migrations, replay
        anything journaled. Raises StoreError if another engine runs this instance on this store."""
        self._lock = asyncio.Lock()
        try:
            state = await self._in_writer(self._start_in_thread)
        except BaseException:
            await self._in_writer(self._write_backend.close)  # a refused start leaves no connection behind
            raise
        self._started = True
        self._set_status(state)
        self._start_writer_task()

    def _start_in_thread(self) -> WriterState:
        backend = self._write_backend
        backend.open(create=True)
        lock = instance_lock(self.url, self.instance, backend)
        lock.acquire()
        self._instance_lock = lock
        self._heartbeat = Heartbeat(lock, self.instance)
        try:
            return self._migrate_and_replay()
        except BaseException:
            self._instance_lock = None
            lock.release()
            raise

    def _migrate_and_replay(self) -> WriterState:
        backend = self._write_backend
        applied = migrate(backend)
        for m in applied:
            log.info("store %s: applied migration %d (%s)", self.url, m.version, m.description)
        found = problems(backend)
        if found:
            raise StoreError(f"{self.url} does not have the expected schema: {'; '.join(found)}")
        self._writer = Writer(backend, self.journal_dir, self.retry_interval_s)
        self._writer.replay(force=True)
        # Intents from a run that stopped before writing them; guarded upserts make repeats harmless.
        end = self._intents.size
        pending = [row for _, record in self._intents.read() for row in decode_rows(record)]
        state = self._writer.write(self._heartbeat.beat() + pending, force_replay=True)
        if state.status != "down":
            self._intents.clear_if_unchanged(end)
        self._retain()
        return self._writer.state

    def attach(self, bus: EventBus) -> None:
        """Take the engine's events from now on (lossless: nothing is coalesced or dropped).

        The writer task runs once the store is both started and attached.
        """
        sub = bus.subscribe("storage", coalesce=False)
        for event in self._sub.drain():  # intents recorded before attaching keep their place
            sub.put(event)
        self._sub.close()  # wakes a running writer, which then waits on the new subscription
        self._sub = sub
        self._bus = bus
        bus.publish(self._status)
        self._start_writer_task()

    def _start_writer_task(self) -> None:
        if self._task is not None or not self._started or self._bus is None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # attached before the loop runs: start() launches it
        self._task = loop.create_task(self.run(), name="trifactor-store-writer")

    async def run(self) -> None:
        """The writer loop (the task `attach`/`start` launch): runs until `close()`."""
        if not self._started:
            raise StoreError(f"the store {self.url} is not started")
        if self._running:
            raise StoreError(f"the store {self.url} already has a writer running")
        self._running = True
        waiter: asyncio.Future | None = None
        try:
            while not self._closed:
                sub = self._sub
                if waiter is None:
                    waiter = asyncio.ensure_future(sub.get_batch(self._drain_limit))
                timeout = None if self._status.status == "up" else self.retry_interval_s
                done, _ = await asyncio.wait({waiter}, timeout=timeout)
                events: list[Event] = []
                if waiter in done:
                    events, waiter = waiter.result(), None
                assert self._lock is not None
                async with self._lock:
                    if events or self._status.status != "up":
                        await self._round(events, force=False)
        finally:
            if waiter is not None and not waiter.done():
                waiter.cancel()
            self._running = False

    async def flush(self) -> None:
        """Make everything published so far durable (in the database, or spooled while it is down)."""
        if not self._started or self._closed:
            return
        assert self._lock is not None
        async with self._lock:
            while True:
                await self._round(self._sub.drain(self._drain_limit), force=True)
                if not len(self._sub):
                    return

    async def close(self) -> None:
        """Flush, stop the writer, close connections and journals."""
        if self._closed:
            return
        await self.flush()
        self._closed = True
        self._sub.close()
        if self._bus is not None:
            self._bus.unsubscribe(self._sub)
        if self._task is not None:
            await self._task
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._write_thread, self._close_writer)
        await loop.run_in_executor(self._read_thread, self._read_backend.close)
        self._write_thread.shutdown()
        self._read_thread.shutdown()
        self._status = StoreStatus("down", message="closed")

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._write_backend.close()
        self._intents.close()
        if self._instance_lock is not None:
            self._instance_lock.release()
            self._instance_lock = None

    # -- writing -----------------------------------------------------------------------------------
    async def _round(self, events: list[Event], force: bool) -> None:
        try:
            state = await self._in_writer(self._round_in_thread, events, force)
        except Exception as e:  # the writer must outlive anything one batch does
            log.exception("store: writing a batch failed")
            state = WriterState("down", self._status.spooled, f"writer error: {e}")
        self._set_status(state)

    def _round_in_thread(self, events: list[Event], force: bool) -> WriterState:
        assert self._writer is not None
        rows: list[Row] = []
        intents_end = 0
        for event in events:
            try:
                if isinstance(event, JournaledIntent):
                    rows += order_rows(event.update, self.instance)
                    intents_end = max(intents_end, event.journal_end)
                else:
                    rows += rows_for(event, self.instance)
            except Exception as e:  # one malformed event must not cost the batch
                log.error("store: %s event not stored: %s", getattr(event, "kind", type(event).__name__), e)
        if self._heartbeat is not None and self._heartbeat.due():
            rows += self._heartbeat.beat()
        state = self._writer.write(rows, force_replay=force)
        if intents_end and state.status != "down":
            self._intents.clear_if_unchanged(intents_end)
        if time.monotonic() >= self._next_retention and state.status == "up":
            self._retain()
        return state

    def _retain(self) -> None:
        self._next_retention = time.monotonic() + RETENTION_EVERY_S
        if self.config.signals_retention_days <= 0:
            return
        try:
            newest = retention.newest_signal_time(self._write_backend, self.instance)
            before = retention.cutoff(self.config.signals_retention_days, newest)
            deleted = retention.delete_old_signals(self._write_backend, before, self.instance) if newest else 0
        except Exception as e:  # retried at the next interval
            log.warning("store: signal retention skipped: %s", e)
            return
        if deleted:
            log.info("store: deleted %d signals older than %s", deleted, before.isoformat())

    def record_order_intent(self, update: OrderUpdate) -> None:
        """Durably note an order before it is sent: journaled and on disk when this returns.

        Paper orders are journaled without waiting for the disk (a few ms each): a simulated
        order cannot outlive the process that simulates it.
        """
        if self._closed:
            raise StoreError(f"the store {self.url} is closed; the order intent was not recorded")
        durable = getattr(update.mode, "value", update.mode) != "paper"
        try:
            self._intents.append([encode_rows(order_rows(update, self.instance))], durable=durable)
        except OSError as e:
            raise StoreError(f"cannot journal the order intent {update.client_order_id} in "
                             f"{self._intents.path}: {e.strerror or e}") from None
        self._sub.put(JournaledIntent(update, self._intents.size))

    # -- status -------------------------------------------------------------------------------------
    def status(self) -> StoreStatus:
        return self._status

    def _set_status(self, state: WriterState) -> None:
        lock_problem = self._heartbeat.problem if self._heartbeat is not None else ""
        new = StoreStatus(state.status, state.spooled, "; ".join(m for m in (lock_problem, state.message) if m))
        if new != self._status:
            self._status = new
            if self._bus is not None:
                self._bus.publish(new)

    # -- the engine's state at start ------------------------------------------------------------------
    async def load_state(self, mode: str) -> RestoredState | None:
        return await self._in_reader(recovery.load_state, mode, self.instance)

    async def load_controls(self) -> RestoredControls | None:
        return await self._in_reader(recovery.load_controls, self.instance)

    # -- reads for the desk ------------------------------------------------------------------------------
    async def last_trades(self, n: int, mode: str) -> list[TradeRecord]:
        return await self._in_reader(reads.last_trades, n, mode, self.instance)

    async def positions(self, mode: str) -> list[PositionRecord]:
        return await self._in_reader(reads.positions, mode, self.instance)

    async def equity_history(self, mode: str, n: int) -> list[EquityPoint]:
        return await self._in_reader(reads.equity_history, mode, n, self.instance)

    async def signal_history(self, symbol: str, n: int) -> list[SignalRecord]:
        return await self._in_reader(reads.signal_history, symbol, n, self.instance)

    async def recent_audit(self, n: int) -> list[AuditRecord]:
        return await self._in_reader(reads.recent_audit, n, self.instance)


def open_store(url: str | None, config: StorageConfig, secrets: Secrets, journal_dir: Path | None = None, *,
               timeout_s: float = 5.0, retry_interval_s: float = 2.0, instance: str = DEFAULT_INSTANCE) -> Store:
    """A store for `url` (None: `config.storage.url`, else SQLite in the XDG data directory),
    written and read as engine `instance`.

    Nothing is opened until `await store.start()`.
    """
    parsed = parse_url(url or config.url)
    return Store(parsed, config, secrets, journal_dir or default_journal_dir(parsed, instance),
                 timeout_s=timeout_s, retry_interval_s=retry_interval_s, instance=instance)
