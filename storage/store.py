"""The store the app runs: a write-behind writer fed by the event bus, the engine's
state at start, and the reads the desk needs.

All database work happens in two threads the store owns (one writes, one reads), each
with its own connection; the engine's loop only hands over event lists and never waits
on the database. Durable events (orders, fills, funding, commands, positions, equity,
state) are in the ledger (ledger.py), fsync'ed, before the bus shows them to anyone; the
writer then copies their rows to the database and lets the ledger forget them. Signals
are written behind: a kill loses at most the signals not yet committed (about one batch).

A database that cannot be reached at start, or goes away later, costs nothing: rows wait
in the ledger and the spool, the status says "db down, N rows waiting", and everything is
replayed, in order, when it answers again. Until it has answered and holds every row that
waited, the engine's state cannot be read back (`load_state` raises), so the engine waits
before trading.

One engine per (store, instance): `start()` takes an advisory lock (storage/lock.py) and
`close()` releases it; every row written carries the instance and every read filters by it.

Lifecycle: `open_store(...)`, `await start()` (migrations, replay of anything journaled),
`attach(bus)` (the writer task runs from then on), `await flush()` when everything so far
must be durable, `await close()` at the end (bounded: a stuck database cannot hold it).
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, TypeVar

from engine.config import DEFAULT_INSTANCE, INSTANCE_NAME, StorageConfig
from engine.events import DURABLE_EVENTS, Event, EventBus, LedgerMark, StoreStatus, Subscription
from engine.paths import state_dir
from engine.secrets import Secrets
from engine.store import RestoredControls, RestoredState
from storage import reads, recovery, retention
from storage.backend import make_backend
from storage.codec import to_utc
from storage.errors import StoreError, StoreUnreachable, Unavailable
from storage.heartbeat import Heartbeat
from storage.ledger import LedgerJournal, newest_time
from storage.lock import InstanceBusy, InstanceLock, instance_lock
from storage.records import (AuditRecord, EquityPoint, OrderRecord, PositionRecord, SignalRecord, SymbolTotals,
                             TradeRecord)
from storage.rows import Row, rows_for_events
from storage.schema import migrate, problems
from storage.threads import DaemonWorker
from storage.url import StoreUrl, parse_url
from storage.writer import Writer, WriterState

log = logging.getLogger(__name__)
T = TypeVar("T")
RETENTION_EVERY_S = 3600.0
START_WAIT_S = 15.0  # a slow database is waited for; a frozen one is left to answer in the writer thread
CLOSE_WAIT_S = 1.5  # SIGTERM must end the process within 5 s whatever the database does
FINISH_WAIT_S = 60.0  # a run that ended by itself (--bars) gives the database time to take everything


class SchemaProblem(StoreError):
    """The database answers but its schema is not ours: retrying cannot help."""


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
        self._write_thread = DaemonWorker("trifactor-store-write")
        self._read_thread = DaemonWorker("trifactor-store-read")
        # Opened by start(), once this process holds the instance: a refused second engine must
        # not so much as read (and repair) the running one's ledger.
        self.ledger: LedgerJournal | None = None
        self._instance_lock: InstanceLock | None = None
        self._lock_taken = False
        self._heartbeat: Heartbeat | None = None
        self._writer: Writer | None = None
        self._db_ready = False
        self._db_problem = "not started"
        self._next_open = 0.0
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
        self._waiter: asyncio.Future | None = None

    # -- running in the store's threads ------------------------------------------------------
    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._write_thread.run(fn, *args)

    async def _in_reader(self, fn: Callable[..., T], *args: Any) -> T:
        if not self._started or self._closed:
            raise StoreError(f"the store {self.url} is not open")
        if not self._db_ready:
            raise StoreError(f"the store {self.url} has not answered yet ({self._db_problem}); "
                             f"{self._waiting()} journaled rows wait for it")
        return await self._read_thread.run(fn, self._read_backend, *args)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Lock the instance, open the ledger (replaying nothing yet), then open the database,
        apply migrations and replay what waits. Raises StoreError when another engine runs this
        instance on this store, or the database refuses us for good (a wrong password)."""
        self._lock = asyncio.Lock()
        try:
            await self._in_writer(self._prepare_in_thread)
        except BaseException:
            await self._in_writer(self._give_up_start)  # a refused start leaves no connection or lock behind
            raise
        opening = asyncio.wrap_future(self._write_thread.submit(self._open_database))
        try:
            # A database that answers, or refuses, does so quickly; one that hangs (frozen, a
            # black-holed port) is left to finish connecting in the writer thread.
            await asyncio.wait_for(asyncio.shield(opening), START_WAIT_S)
        except asyncio.TimeoutError:
            opening.add_done_callback(self._opened_late)
            self._db_problem = f"connecting to {self.url} (no answer yet)"
        except BaseException:
            await self._in_writer(self._give_up_start)
            raise
        self._started = True
        assert self._writer is not None
        self._set_status(self._writer.state)
        self._start_writer_task()

    def _opened_late(self, opening: asyncio.Future) -> None:
        if opening.cancelled():
            return
        error = opening.exception()
        if error is not None:
            self._db_problem = str(error)
            log.error("store %s could not be opened: %s", self.url, error)

    def _prepare_in_thread(self) -> None:
        # SQLite's instance lock is a file beside the database: it is taken before anything
        # else. A server's lock needs the server, so it is taken when the database first answers;
        # meanwhile the ledger's own lock keeps a second process on this machine out.
        lock = instance_lock(self.url, self.instance, self._write_backend)
        self._instance_lock = lock
        try:
            lock.acquire()
            self._lock_taken = True
        except InstanceBusy:
            raise
        except StoreError as e:
            if self.url.dialect == "sqlite":
                raise
            log.warning("store %s: the instance lock waits for the server: %s", self.url, e)
        try:
            self.ledger = LedgerJournal(self.journal_dir / "ledger", self.instance)
            self._writer = Writer(self._write_backend, self.journal_dir, self.retry_interval_s)
        except OSError as e:
            raise StoreError(f"cannot use the journal directory {self.journal_dir}: {e.strerror or e}") from None
        self._heartbeat = Heartbeat(lock, self.instance)

    def _give_up_start(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
        self._write_backend.close()
        self._release_instance()

    def _release_instance(self) -> None:
        if self._instance_lock is not None and self._lock_taken:
            self._instance_lock.release()
        self._lock_taken = False

    def _open_database(self) -> bool:
        """Connect, migrate and replay what waits (the spool, then an earlier run's ledger).

        Runs at start and, while the database is down, again every retry interval. A schema
        that is not ours raises; anything else leaves the store down, to be tried again.
        """
        if self._db_ready:
            return True
        self._next_open = time.monotonic() + self.retry_interval_s
        backend = self._write_backend
        try:
            backend.open(create=True)
            if not self._lock_taken:
                assert self._instance_lock is not None
                self._instance_lock.acquire()
                self._lock_taken = True
            applied = migrate(backend)
            for m in applied:
                log.info("store %s: applied migration %d (%s)", self.url, m.version, m.description)
            found = problems(backend)
        except (StoreUnreachable, Unavailable) as e:
            self._db_problem = str(e)
            backend.close()
            log.warning("store %s is not reachable: %s; journaling until it is", self.url, e)
            return False
        except InstanceBusy as e:
            backend.close()
            if not self._started:
                raise
            # Another engine took this instance while the server was away: its book, not ours.
            self._db_problem = str(e)
            log.error("store %s: %s; nothing of this run is written there", self.url, e)
            return False
        except StoreError as e:
            backend.close()
            if not self._started:
                raise  # a wrong password or a refused TLS needs the operator, not patience
            self._db_problem = str(e)
            log.error("store %s: %s", self.url, e)
            return False
        if found:
            raise SchemaProblem(f"{self.url} does not have the expected schema: {'; '.join(found)}")
        assert self._writer is not None
        self._writer.replay(force=True)
        recovered = [row for _, rows in self.ledger.recovered() for row in rows]
        assert self._heartbeat is not None
        state = self._writer.write(self._heartbeat.beat() + recovered, force_replay=True)
        if state.status == "down":
            self._db_problem = state.message
            return False
        self.ledger.forget_recovered()
        self._db_ready = True
        self._db_problem = ""
        self._retain()
        return True

    def attach(self, bus: EventBus) -> None:
        """Take the engine's events from now on (lossless: nothing is coalesced or dropped).

        The writer task runs once the store is both started and attached.
        """
        bus.attach_ledger(self.ledger)
        sub = bus.subscribe("storage", coalesce=False, ledger_marks=True)
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
        try:
            while not self._closed:
                sub = self._sub
                if self._waiter is None:
                    self._waiter = asyncio.ensure_future(sub.get_batch(self._drain_limit))
                timeout = None if self._status.status == "up" else self.retry_interval_s
                await asyncio.wait({self._waiter}, timeout=timeout)
                assert self._lock is not None
                async with self._lock:
                    events = self._taken()
                    if events or self._status.status != "up":
                        await self._round(events, force=False)
        finally:
            if self._waiter is not None and not self._waiter.done():
                self._waiter.cancel()
            self._waiter = None
            self._running = False

    def _taken(self) -> list[Event]:
        """Events the writer loop's waiter already took from the subscription (flush must see them too)."""
        waiter = self._waiter
        if waiter is None or not waiter.done():
            return []
        self._waiter = None
        return [] if waiter.cancelled() else waiter.result()

    async def flush(self) -> None:
        """Make everything published so far durable (in the database, or spooled while it is down)."""
        if not self._started or self._closed:
            return
        if self._bus is not None:
            await self._bus.commit()
        assert self._lock is not None
        async with self._lock:
            while True:
                await self._round(self._taken() + self._sub.drain(self._drain_limit), force=True)
                if not len(self._sub):
                    return

    async def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Flush for at most `wait_s`, stop the writer, close connections and journals.

        What the database has not taken by then stays in the ledger and the spool and is
        replayed at the next start; only signals not yet written are lost.
        """
        if self._closed:
            return
        try:
            await asyncio.wait_for(self.flush(), wait_s)
        except asyncio.TimeoutError:
            log.warning("store %s did not take the last rows within %.0f s; they stay journaled in %s and are "
                        "replayed at the next start", self.url, wait_s, self.journal_dir)
        self._closed = True
        self._sub.close()
        if self._bus is not None:
            self._bus.unsubscribe(self._sub)
            if self._bus.ledger is self.ledger:
                self._bus.attach_ledger(None)
        if self._task is not None:
            self._task.cancel()
            try:
                await asyncio.wait_for(self._task, 0.5)
            except (asyncio.CancelledError, asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing anyway
                pass
        if self.ledger is not None:
            self.ledger.close()
        done = self._write_thread.submit(self._close_writer)
        self._read_thread.submit(self._read_backend.close)
        try:
            await asyncio.wait_for(asyncio.wrap_future(done), 0.5)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - a stuck database thread is left behind
            log.warning("store %s: the database connection could not be closed in time", self.url)
        self._write_thread.shutdown()
        self._read_thread.shutdown()
        self._status = StoreStatus("down", message="closed")

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._write_backend.close()
        self._release_instance()

    # -- writing -----------------------------------------------------------------------------------
    async def _round(self, events: list[Event], force: bool) -> None:
        # Durable events' rows come from the ledger, in the form it made durable; the events
        # themselves are skipped, so a replay after a crash writes exactly the same rows.
        parts: list[Event | list[Row]] = []
        mark = 0
        for event in events:
            if isinstance(event, LedgerMark):
                parts.append(self.ledger.take_through(event.seq))
                mark = event.seq
            elif not isinstance(event, DURABLE_EVENTS) or self._bus is None or self._bus.ledger is None:
                parts.append(event)
        try:
            state, newest = await self._in_writer(self._round_in_thread, parts, force)
        except SchemaProblem as e:
            log.error("store: %s", e)
            state, newest = WriterState("down", self._status.spooled, str(e)), None
        except Exception as e:  # the writer must outlive anything one batch does
            log.exception("store: writing a batch failed")
            state, newest = WriterState("down", self._status.spooled, f"writer error: {e}"), None
        if mark and state.status != "down":
            try:
                await self.ledger.release_through(mark, newest)
            except OSError as e:
                log.warning("store: the ledger could not drop written records: %s", e)
        self._set_status(state)

    def _round_in_thread(self, parts: list, force: bool) -> tuple[WriterState, datetime | None]:
        assert self._writer is not None
        # Rows of one kind keep their order; the backends write kind by kind anyway.
        rows: list[Row] = [row for part in parts if isinstance(part, list) for row in part]
        rows += rows_for_events((part for part in parts if not isinstance(part, list)), self.instance)
        newest = newest_time(rows)
        if not self._db_ready and (force or time.monotonic() >= self._next_open):
            self._open_database()
        if not self._db_ready:
            return self._writer.hold(rows, self._db_problem), newest
        if self._heartbeat is not None and self._heartbeat.due():
            rows += self._heartbeat.beat()
        state = self._writer.write(rows, force_replay=force)
        if time.monotonic() >= self._next_retention and state.status == "up":
            self._retain()
        return state, newest

    def _retain(self) -> None:
        self._next_retention = time.monotonic() + RETENTION_EVERY_S
        if self.config.signals_retention_days <= 0:
            return
        try:
            newest = retention.newest_signal_time(self._write_backend)
            before = retention.cutoff(self.config.signals_retention_days, newest)
            deleted = retention.delete_old_signals(self._write_backend, before) if newest else 0
        except Exception as e:  # retried at the next interval
            log.warning("store: signal retention skipped: %s", e)
            return
        if deleted:
            log.info("store: deleted %d signals older than %s", deleted, before.isoformat())

    async def resume_after(self) -> datetime | None:
        """The newest market time this store has recorded (or holds journaled): a simulated
        market carries on after it. Answers from the ledger alone while the database is down."""
        newest = self.ledger.watermark() if self.ledger is not None else None
        if newest is not None:
            newest = to_utc(newest)
        if self._db_ready:
            try:
                stored = await self._in_reader(reads.newest_market_time, self.instance)
            except StoreError as e:
                log.warning("store: could not read the newest stored time: %s", e)
            else:
                if stored is not None and (newest is None or stored > newest):
                    newest = stored
        return newest

    async def last_market(self) -> dict[str, tuple[float, float | None]]:
        """Each symbol's (price, funding rate) in the newest stored signal minute: a simulated
        market carries on from them. Empty while the database is away (the market then starts
        from its own)."""
        if not self._db_ready:
            return {}
        return {r.symbol: (r.price, r.components.get("funding_rate"))
                for r in await self._in_reader(reads.latest_signals, self.instance) if r.price is not None}

    def _waiting(self) -> int:
        return self.ledger.waiting if self.ledger is not None else 0

    # -- status -------------------------------------------------------------------------------------
    def status(self) -> StoreStatus:
        return self._status

    def _set_status(self, state: WriterState) -> None:
        waiting = state.spooled + self._waiting()
        lock_problem = self._heartbeat.problem if self._heartbeat is not None else ""
        if self._db_ready:
            new = StoreStatus(state.status, waiting, "; ".join(m for m in (lock_problem, state.message) if m))
        else:
            new = StoreStatus("down", waiting, f"db down, {waiting} rows waiting: {self._db_problem}")
        if new != self._status:
            self._status = new
            if self._bus is not None:
                self._bus.publish(new)

    # -- the engine's state at start ------------------------------------------------------------------
    async def load_state(self, mode: str) -> RestoredState | None:
        """The book as the store holds it. A database that answers may still lack rows waiting in
        the spool (its writes failed while the spool was replayed): a book read from it then would
        be older than the fills already shown, so it is refused until they are in."""
        waiting = self._writer.state.spooled if self._writer is not None else 0
        if self._db_ready and waiting:
            raise StoreError(f"the store {self.url} does not hold everything journaled yet: {waiting} rows wait "
                             f"to be written ({self._writer.message or 'replaying'})")
        return await self._in_reader(recovery.load_state, mode, self.instance)

    async def load_controls(self) -> RestoredControls | None:
        # Not held back like the book: the state file has the newest controls, and ones the store
        # holds a little behind are better than none (a halt must not be forgotten).
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

    async def chart_history(self, n: int) -> dict[str, list[tuple[datetime, float | None, float | None]]]:
        return await self._in_reader(reads.chart_history, n, self.instance)

    async def latest_signals(self) -> list[SignalRecord]:
        return await self._in_reader(reads.latest_signals, self.instance)

    async def recent_audit(self, n: int) -> list[AuditRecord]:
        return await self._in_reader(reads.recent_audit, n, self.instance)

    async def recent_orders(self, mode: str, n: int) -> list[OrderRecord]:
        return await self._in_reader(reads.recent_orders, mode, n, self.instance)

    async def symbol_totals(self, mode: str) -> list[SymbolTotals]:
        return await self._in_reader(reads.symbol_totals, mode, self.instance)


def open_store(url: str | None, config: StorageConfig, secrets: Secrets, journal_dir: Path | None = None, *,
               timeout_s: float = 5.0, retry_interval_s: float = 2.0, instance: str = DEFAULT_INSTANCE) -> Store:
    """A store for `url` (None: `config.storage.url`, else SQLite in the XDG data directory).

    Nothing is opened until `await store.start()`.
    """
    parsed = parse_url(url or config.url)
    return Store(parsed, config, secrets, journal_dir or default_journal_dir(parsed, instance),
                 timeout_s=timeout_s, retry_interval_s=retry_interval_s, instance=instance)
