"""The engine's one typed event stream and its bounded, coalescing fan-out.

The engine publishes synchronously and never waits on a consumer. Each consumer
(storage writer, desk) owns a Subscription. High-rate state events carry a
coalesce key: a newer one replaces an unconsumed older one with the same key in
subscriptions that coalesce. Orders, fills, funding and command results have
no key and are never dropped.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar, Mapping

from engine.model import Bar, Fill, Mode


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class Event:
    kind: ClassVar[str] = "event"

    @property
    def coalesce_key(self) -> tuple | None:
        return None


@dataclass(frozen=True, slots=True)
class BarClosed(Event):
    kind: ClassVar[str] = "bar"
    bar: Bar

    @property
    def coalesce_key(self) -> tuple:
        return ("bar", self.bar.symbol)


@dataclass(frozen=True, slots=True)
class SignalUpdate(Event):
    """Everything the strategy and sizing decided for one symbol on one bar."""

    kind: ClassVar[str] = "signal"
    symbol: str
    ts: datetime
    price: float
    ret: float  # close-to-close return of the last bar
    status: str  # warming, active, paused, halted, mismatch
    progress: float  # warm-up progress 0..1
    components: Mapping[str, Any]  # the FactorStream mapping (empty while warming)
    final_factor: float
    target_factor: float
    target_notional: Decimal
    current_notional: Decimal

    @property
    def coalesce_key(self) -> tuple:
        return ("signal", self.symbol)


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
    kind: ClassVar[str] = "position"
    mode: Mode
    symbol: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    leverage: int
    ts: datetime

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.mark_price

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


class EventBus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self, name: str, maxsize: int = 10_000, coalesce: bool = True) -> Subscription:
        sub = Subscription(name, maxsize=maxsize, coalesce=coalesce)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: Event) -> None:
        for sub in self._subs:
            sub.put(event)
