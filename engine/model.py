"""Plain value types shared by feeds, venues, the portfolio and the event stream.

Money and quantities are Decimal end to end so that PnL identities hold exactly;
market data stays float because the strategy is numeric.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple


class Mode(str, enum.Enum):
    PAPER = "paper"
    TESTNET = "testnet"
    LIVE = "live"


class Side(str, enum.Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class Bar(NamedTuple):
    """One closed 1-minute bar with the strategy's inputs. `ts` is the bar's open time (UTC).

    A tuple, immutable, because a feed makes one per symbol every minute: a frozen dataclass of
    this many fields costs several times as much to build."""

    symbol: str
    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    taker_buy_volume: float
    funding_rate: float

    @property
    def dollar_volume_delta(self) -> float:
        # Taker buys minus taker sells, valued at the bar's mid price (the seed's approximation).
        sell = self.volume - self.taker_buy_volume
        return (self.taker_buy_volume - sell) * (self.open + self.close) / 2.0

    def as_strategy_input(self) -> dict:
        return {
            "timestamp": self.ts,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
            "funding_rate": self.funding_rate,
            "taker_buy_volume": self.taker_buy_volume,
            "dollar_volume_delta": self.dollar_volume_delta,
        }


@dataclass(frozen=True, slots=True)
class Instrument:
    """Exchange trading rules for one symbol."""

    symbol: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    max_leverage: int = 125

    def round_qty(self, qty: Decimal) -> Decimal:
        """Truncate toward zero to the step size, as the exchange does."""
        steps = (abs(qty) / self.step_size).to_integral_value(rounding="ROUND_DOWN")
        out = steps * self.step_size
        return out if qty >= 0 else -out


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    reduce_only: bool
    reason: str  # "rebalance", "flatten", "breaker", ...
    mark_price: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Fill:
    mode: Mode
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    ts: datetime
    client_order_id: str
    trade_id: str
    exchange_order_id: str | None = None
    is_maker: bool = False
    realized_pnl: Decimal = Decimal(0)
    factor: float | None = None


def unlisted_trade_id(exchange_order_id: str) -> str:
    """The trade id of an order's part booked before the exchange listed its trade(s): the order's
    real trades, when they show up later, are that part and must not be booked again."""
    return f"{exchange_order_id}-unlisted"


@dataclass(frozen=True, slots=True)
class OrderResult:
    request: OrderRequest
    # "filled", "partially_filled", "rejected", "skipped", "error", "not_placed" (the exchange has no
    # such order), or "unknown": the exchange may or may not have acted on it; never resend it.
    status: str
    fills: tuple[Fill, ...] = ()
    exchange_order_id: str | None = None
    message: str = ""
    permanent: bool = False  # a failure no retry can fix (the key was rejected, a permission is missing)

    @property
    def filled_qty(self) -> Decimal:
        return sum((f.quantity for f in self.fills), Decimal(0))


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """A position as the venue (exchange or paper book) reports it."""

    symbol: str
    quantity: Decimal  # signed: + long, - short
    entry_price: Decimal
    leverage: int = 1
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FundingIncome:
    """A funding fee as the exchange settled it into the wallet: + received, - paid."""

    symbol: str
    ts: datetime
    amount: Decimal
