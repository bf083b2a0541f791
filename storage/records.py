"""What the read helpers return: plain values with Decimal money and aware UTC times."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class TradeRecord:
    ts: datetime
    mode: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str | None
    realized_pnl: Decimal
    client_order_id: str | None
    trade_id: str

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side == "BUY" else -self.quantity


@dataclass(frozen=True)
class PositionRecord:
    mode: str
    symbol: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    unrealized_pnl: Decimal | None
    leverage: int
    ts: datetime


@dataclass(frozen=True)
class EquityPoint:
    ts: datetime
    mode: str
    equity: Decimal
    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    funding: Decimal
    trade_count: int
    peak: Decimal | None
    drawdown: Decimal | None


@dataclass(frozen=True)
class SignalRecord:
    ts: datetime
    symbol: str
    status: str | None
    price: float | None
    final_factor: float | None
    target_factor: float | None
    target_notional: Decimal | None
    current_notional: Decimal | None
    components: dict[str, Any] = field(default_factory=dict)  # every other stored column


@dataclass(frozen=True)
class AuditRecord:
    ts: datetime
    command: str
    symbol: str | None
    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderRecord:
    """An order as last stored: its newest status and that status's message (the reason a
    rejected or skipped order did not trade)."""

    created_at: datetime
    updated_at: datetime
    mode: str
    symbol: str
    side: str
    quantity: Decimal
    reduce_only: bool
    reason: str
    status: str
    message: str


@dataclass(frozen=True)
class SymbolTotals:
    """One symbol's book since the mode began: what its fills and funding added up to."""

    symbol: str
    realized: Decimal
    fees: Decimal
    funding: Decimal
    trades: int
    turnover: Decimal  # sum of |quantity| x price over its fills
