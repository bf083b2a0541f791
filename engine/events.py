"""The engine's one typed event stream and its bounded, coalescing fan-out.

The engine publishes synchronously and never waits on a consumer. Each consumer
(storage writer, desk) owns a Subscription. Per-minute state comes in one event for the
whole universe (SignalBatch), not one per symbol. State events carry a
coalesce key: a newer one replaces an unconsumed older one with the same key in
subscriptions that coalesce. Orders, fills, funding and command results have
no key and are never dropped.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar, Mapping, NamedTuple, Protocol

from engine.model import Fill, Mode

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class Event:
    kind: ClassVar[str] = "event"

    @property
    def coalesce_key(self) -> tuple | None:
        return None


class SignalUpdate(NamedTuple):
    """Everything the strategy and sizing decided for one symbol on one bar (a SignalBatch carries them).

    Immutable like the events, and a tuple because the engine makes one per symbol every minute: a
    frozen dataclass of this many fields costs several times as much to build.
    """

    symbol: str
    ts: datetime
    price: float
    ret: float  # close-to-close return of the last bar
    status: str  # warming, active, paused, halted, mismatch, uncertain
    progress: float  # warm-up progress 0..1
    components: Mapping[str, Any]  # the FactorStream mapping (empty while warming)
    final_factor: float
    target_factor: float
    target_notional: Decimal
    current_notional: Decimal


@dataclass(frozen=True, slots=True)
class SignalBatch(Event):
    """One minute's signals: every symbol's newest SignalUpdate, one event for the whole universe.

    A symbol without a bar this minute carries its last update (stamped earlier than `ts`), so a
    newer batch holds everything an older one did and may replace it where subscriptions coalesce.
    """

    kind: ClassVar[str] = "signals"
    ts: datetime
    updates: tuple[SignalUpdate, ...]

    def fresh(self) -> list[SignalUpdate]:
        """The updates this minute made (not carried from an earlier one)."""
        ts = self.ts
        return [u for u in self.updates if u.ts == ts]

    @property
    def coalesce_key(self) -> tuple:
        return ("signals",)


@dataclass(frozen=True, slots=True)
class OrderUpdate(Event):
    kind: ClassVar[str] = "order"
    mode: Mode
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    status: str  # new, sent, filled, partially_filled, rejected, skipped, error
    reduce_only: bool
    reason: str
    ts: datetime
    exchange_order_id: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class FillEvent(Event):
    kind: ClassVar[str] = "fill"
    fill: Fill


@dataclass(frozen=True, slots=True)
class PositionUpdate(Event):
    """A position as its last change left it: published when the quantity, entry or leverage change
    (a fill, a restore, a flatten, a mode switch), never just because the price moved."""

    kind: ClassVar[str] = "position"
    mode: Mode
    symbol: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    leverage: int
    ts: datetime
    # Testnet/live: where the exchange would liquidate this position, at its last read; None in
    # paper (the desk computes it) and until the exchange was read for this quantity.
    liquidation_price: Decimal | None = None

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.mark_price

    def marked(self, mark: Decimal, ts: datetime) -> PositionUpdate:
        """The same position at a newer price. Positions are published only when they change (a fill, a
        restore, a flatten); a consumer re-marks them with each minute's prices, which the book does too."""
        return PositionUpdate(self.mode, self.symbol, self.quantity, self.entry_price, mark,
                              self.quantity * (mark - self.entry_price), self.leverage, ts, self.liquidation_price)

    @property
    def coalesce_key(self) -> tuple:
        return ("position", self.mode, self.symbol)


@dataclass(frozen=True, slots=True)
class FundingPayment(Event):
    kind: ClassVar[str] = "funding"
    mode: Mode
    symbol: str
    ts: datetime
    rate: Decimal
    quantity: Decimal
    mark_price: Decimal
    amount: Decimal  # signed: + received, - paid


@dataclass(frozen=True, slots=True)
class EquityUpdate(Event):
    """equity == capital + realized + unrealized - fees + funding, exactly."""

    kind: ClassVar[str] = "equity"
    mode: Mode
    ts: datetime
    equity: Decimal
    capital: Decimal
    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    funding: Decimal
    peak: Decimal
    drawdown: Decimal  # fraction of peak, >= 0
    trade_count: int

    @property
    def coalesce_key(self) -> tuple:
        return ("equity", self.mode)


@dataclass(frozen=True, slots=True)
class EngineState(Event):
    """Operator-visible state: mode, halt, pauses, breakers, feed health."""

    kind: ClassVar[str] = "state"
    mode: Mode
    market: str
    halted: bool
    halt_reason: str
    paused: frozenset[str]
    breakers: Mapping[str, str]  # breaker name -> "" (ok) or the trip reason
    mismatched: frozenset[str]  # symbols halted by a reconciliation mismatch
    feed_status: str  # connecting, live, reconnecting, stale, stopped
    ts: datetime = field(default_factory=utcnow)
    connecting: str = ""  # while start-up retries: "attempt n, next in s s"
    uncertain: frozenset[str] = frozenset()  # symbols frozen by an order whose outcome is unknown
    recovery: str = ""  # testnet/live: why start-up recovery has not finished yet ("" once done)
    flattening: bool = False  # a flatten is running (the operator may stop it)
    rate_limited_until: datetime | None = None  # Binance turned requests away until then

    @property
    def coalesce_key(self) -> tuple:
        return ("state",)


@dataclass(frozen=True, slots=True)
class CommandResult(Event):
    """The answer to an operator command; also what the audit log records."""

    kind: ClassVar[str] = "command"
    command: str  # flatten_all, flatten, pause, resume, halt, resume_entries, set_mode, breaker
    ok: bool
    message: str
    symbol: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class FlattenProgress(Event):
    """Where a running flatten stands for one symbol; the last one per symbol says how it ended."""

    kind: ClassVar[str] = "flatten"
    symbol: str
    state: str  # closing, waiting, flat, stopped, failed
    attempt: int
    quantity: Decimal  # what the venue held at the last read (or our book, before the first read)
    last_error: str = ""
    next_try_in_s: float = 0.0
    ts: datetime = field(default_factory=utcnow)

    @property
    def coalesce_key(self) -> tuple:
        return ("flatten", self.symbol)


@dataclass(frozen=True, slots=True)
class EngineError(Event):
    kind: ClassVar[str] = "error"
    message: str
    symbol: str | None = None
    ts: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class StoreStatus(Event):
    kind: ClassVar[str] = "store"
    status: str  # up, degraded, down, off
    spooled: int = 0
    message: str = ""

    @property
    def coalesce_key(self) -> tuple:
        return ("store",)


class Subscription:
    """One consumer's bounded view of the stream.

    With `coalesce`, a keyed event replaces the pending one with the same key. When the
    queue is full, the oldest keyed event is dropped to make room; unkeyed events are
    never dropped, so a full queue can only exceed `maxsize` by unkeyed events.
    """

    def __init__(self, name: str, maxsize: int = 10_000, coalesce: bool = True) -> None:
        self.name = name
        self.maxsize = maxsize
        self.coalesce = coalesce
        self.dropped = 0
        self._keyed: OrderedDict[Any, Event] = OrderedDict()
        self._order: deque[tuple[Any, Event | None]] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._order)

    def put(self, event: Event) -> None:
        if self._closed:
            return
        key = event.coalesce_key if self.coalesce else None
        if key is not None and key in self._keyed:
            self._keyed[key] = event  # keeps its place in the queue, carries the newest value
        else:
            if len(self._order) >= self.maxsize and self._keyed:  # nothing to drop otherwise
                self._drop_oldest_keyed()
            if key is not None:
                self._keyed[key] = event
                self._order.append((key, None))
            else:
                self._order.append((None, event))
        self._ready.set()

    def _drop_oldest_keyed(self) -> None:
        for i, (key, _) in enumerate(self._order):
            if key is not None:
                del self._order[i]
                self._keyed.pop(key, None)
                self.dropped += 1
                return

    def drain(self, limit: int | None = None) -> list[Event]:
        out: list[Event] = []
        while self._order and (limit is None or len(out) < limit):
            key, event = self._order.popleft()
            out.append(self._keyed.pop(key) if key is not None else event)
        if not self._order:
            self._ready.clear()
        return out

    async def get_batch(self, limit: int | None = None) -> list[Event]:
        """Wait until something is pending, then return everything pending (in order)."""
        while not self._order:
            if self._closed:
                return []
            await self._ready.wait()
        return self.drain(limit)

    def close(self) -> None:
        self._closed = True
        self._ready.set()


@dataclass(frozen=True, slots=True)
class LedgerMark(Event):
    """Everything before this mark, in this subscription, is in the ledger up to `seq`.

    Only subscriptions that ask for marks (the store) get them: once the rows before a mark
    are in the database, the ledger may forget records up to `seq`.
    """

    kind: ClassVar[str] = "ledger_mark"
    seq: int


# What must be on disk before anyone sees it or the engine acts on it.
DURABLE_EVENTS: tuple[type[Event], ...] = (OrderUpdate, FillEvent, FundingPayment, CommandResult, PositionUpdate,
                                           EquityUpdate, EngineState)


class Ledger(Protocol):
    """The write-ahead journal behind the bus: appends are buffered, `sync` makes them durable."""

    def append(self, event: Event) -> None: ...

    async def sync(self) -> int:
        """Everything appended so far is on disk when this returns; returns the last durable seq."""

    @property
    def problem(self) -> str:
        """Why the ledger cannot make events durable now ("" while it can)."""


class EventBus:
    """Fan-out to subscriptions, behind the ledger's durability barrier when one is attached.

    Without a ledger an event reaches every subscription at once. With one, events queue in
    publish order; a commit fsyncs the durable ones and only then delivers the batch, so no
    consumer (the desk, the headless printer, the store) ever sees an event a crash could
    lose. Commits run by themselves soon after a publish; `await commit()` waits for them.
    """

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._marked: set[int] = set()
        self._ledger: Ledger | None = None
        self._pending: list[Event] = []
        self._committer: asyncio.Task | None = None
        self._round_done: asyncio.Future | None = None  # the commit round in flight, done once delivered

    @property
    def ledger(self) -> Ledger | None:
        return self._ledger

    def attach_ledger(self, ledger: Ledger | None) -> None:
        self._ledger = ledger

    def subscribe(self, name: str, maxsize: int = 10_000, coalesce: bool = True,
                  ledger_marks: bool = False) -> Subscription:
        sub = Subscription(name, maxsize=maxsize, coalesce=coalesce)
        self._subs.append(sub)
        if ledger_marks:
            self._marked.add(id(sub))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        self._marked.discard(id(sub))
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: Event) -> None:
        ledger = self._ledger
        if ledger is None:
            self._deliver((event,))
            return
        if isinstance(event, DURABLE_EVENTS):
            ledger.append(event)
        self._pending.append(event)
        if self._committer is None:
            try:
                self._committer = asyncio.get_running_loop().create_task(self._commit_loop())
            except RuntimeError:  # no loop (a synchronous caller): deliver what is there as it is
                self._pending, batch = [], self._pending
                self._deliver(batch)

    async def commit(self) -> None:
        """Return once everything published so far is durable and delivered."""
        while self._committer is not None:
            await asyncio.shield(self._committer)

    async def commit_behind(self) -> None:
        """Return once the commit round in flight (if any) is delivered; what is pending now goes in the
        next round, which starts at once. A producer that calls this after each step of its own work
        keeps at most one step waiting for the disk while it computes the next, so steps share
        fsyncs (a group commit) and a slow disk still holds the producer back. Consumers see
        nothing earlier than before: every event is delivered only once it is durable."""
        done = self._round_done
        if done is not None and not done.done():
            await asyncio.shield(done)

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch = self._pending
                self._pending = []
                self._round_done = done = loop.create_future()
                seq = None
                try:
                    if any(isinstance(e, DURABLE_EVENTS) for e in batch):
                        try:
                            seq = await self._ledger.sync()
                        except Exception:  # noqa: BLE001 - the ledger reports its own problem; events still flow
                            log.exception("the ledger could not sync")
                    self._deliver(batch, seq)
                finally:
                    done.set_result(None)
        finally:
            self._committer = None

    def _deliver(self, batch, seq: int | None = None) -> None:
        for sub in self._subs:
            put = sub.put
            for event in batch:
                put(event)
            if seq is not None and id(sub) in self._marked:
                put(LedgerMark(seq))
