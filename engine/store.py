"""What the engine needs from the store: its state at start, and where a simulated market resumes.

Durability itself is the bus's: the store attaches its ledger to the bus, and nothing
published reaches anyone before the ledger has it on disk.

The engine never imports `storage`; the CLI hands it an object with this shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol



@dataclass(frozen=True)
class RestoredPosition:
    symbol: str
    quantity: Decimal  # signed; equals the signed sum of the mode's committed fills
    entry_price: Decimal
    cost: Decimal | None = None  # the exact signed cost the fills leave (None: quantity x entry price)


@dataclass(frozen=True)
class PendingOrder:
    """An order the store lists as sent (or about to be) but never saw settled."""

    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    reduce_only: bool
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class RestoredState:
    """One mode's committed state, as the store holds it."""

    mode: str
    positions: dict[str, RestoredPosition] = field(default_factory=dict)
    realized: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)
    trade_count: int = 0
    peak_equity: Decimal | None = None
    day_open_equity: Decimal | None = None
    equity_tail: list[tuple[datetime, Decimal]] = field(default_factory=list)
    trade_ids: frozenset[str] = frozenset()  # the exchange's trade ids already booked
    traded_symbols: frozenset[str] = frozenset()
    last_fill_at: datetime | None = None
    last_funding_at: datetime | None = None  # the newest funding time this mode has paid or received
    pending_orders: tuple[PendingOrder, ...] = ()  # status new, sent or unknown


@dataclass(frozen=True)
class RestoredControls:
    """Operator state that outlives a restart (also kept in the TOML state file)."""

    mode: str | None = None
    paused: frozenset[str] = frozenset()
    halted: bool = False
    halt_reason: str = ""


class StateStore(Protocol):
    async def load_state(self, mode: str) -> RestoredState | None: ...

    async def load_controls(self) -> RestoredControls | None: ...

    async def resume_after(self) -> datetime | None:
        """The newest market time recorded (or journaled), for a simulated market to carry on after."""

    async def last_market(self) -> dict[str, tuple[float, float | None]]:
        """Each symbol's newest recorded (price, funding rate), for a simulated market to carry on from."""
