"""What the engine needs from an execution venue."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Callable, Protocol

from engine.model import Fill, FundingIncome, Instrument, Mode, OrderRequest, OrderResult, VenuePosition


class VenueError(Exception):
    """An execution problem worth telling the operator about (names the symbol)."""

    permanent = False  # no retry can fix it: a rejected key, a missing permission


class Venue(Protocol):
    mode: Mode

    async def prepare(self, instruments: dict[str, Instrument], leverage: int, margin_mode: str) -> None:
        """Set leverage and margin mode per symbol (no-op on paper)."""

    async def submit(self, order: OrderRequest) -> OrderResult:
        """Send a market order and return its fills as the venue reports them."""

    async def cancel_all(self, symbol: str | None = None) -> None:
        """Cancel every open order of `symbol` (or of every symbol), conditional ones included."""

    def rate_limited_for(self) -> float:
        """Seconds until the exchange takes requests again (0 when it does now)."""

    async def positions(self) -> dict[str, VenuePosition]:
        """Open positions as the venue sees them (for reconciliation)."""

    async def balance(self) -> Decimal:
        """Wallet balance in USDT."""

    async def close(self) -> None: ...


class ExchangeVenue(Venue, Protocol):
    """A real exchange (testnet, live): orders can have unknown outcomes, and the account has a
    history the engine did not see while it was down."""

    async def resolve(self, order: OrderRequest) -> OrderResult:
        """The outcome of an order, looked up by its client order id (`unknown` if it cannot tell)."""

    async def fills_since(self, symbols: list[str], since: datetime, ours: Callable[[str], bool]) -> list[Fill]:
        """Trades of our orders (`ours(client_order_id)`) on `symbols` from `since` on, oldest first."""

    async def funding_since(self, since: datetime) -> list[FundingIncome]:
        """Funding fees settled after `since`, oldest first."""
