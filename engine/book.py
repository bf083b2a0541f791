"""Everything the engine keeps per trading mode: the portfolio, the venue, the breakers and
the recent history the desk shows. Switching modes swaps books; it never touches positions.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from engine.events import EquityUpdate, FillEvent, PositionUpdate
from engine.funding import FundingClock
from engine.model import Fill, Mode, VenuePosition, unlisted_trade_id
from engine.portfolio import Portfolio
from engine.risk import Breakers
from engine.venues.base import Venue

FILLS_KEPT = 50
EQUITY_POINTS_KEPT = 2_000


def venue_liquidation_price(position: VenuePosition) -> Decimal | None:
    """The exchange's liquidation price of a position read (positionRisk's `liquidationPrice`);
    Binance sends 0 when the position cannot be liquidated."""
    try:
        price = Decimal(str(position.extra.get("liquidationPrice") or 0))
    except ArithmeticError:
        return None
    return price if price.is_finite() and price > 0 else None


class ModeBook:
    def __init__(self, mode: Mode, venue: Venue, portfolio: Portfolio, breakers: Breakers, leverage: int) -> None:
        self.mode = mode
        self.venue = venue
        self.portfolio = portfolio
        self.breakers = breakers
        self.leverage = leverage
        self.fills: deque[FillEvent] = deque(maxlen=FILLS_KEPT)
        self.equity_history: deque[tuple[datetime, Decimal]] = deque(maxlen=EQUITY_POINTS_KEPT)
        self.last_equity: EquityUpdate | None = None
        self.restoring = ""  # why the store's record of this book could not be read yet ("" once it was)
        self.funding_clock = FundingClock()
        # Every exchange trade id booked in this mode (restored at start). Paper fills need none:
        # the simulation makes each fill once.
        self.trade_ids: set[str] = set()
        self.last_funding_at: datetime | None = None  # the newest funding payment booked (restored at start)
        # The exchange's liquidation price per symbol, with the quantity it was read for: once our
        # quantity moves on, that figure no longer applies and is not shown.
        self.venue_liquidation: dict[str, tuple[Decimal, Decimal]] = {}

    def claim_trade(self, fill: Fill) -> bool:
        """True the first time an exchange trade is seen (and from then on it counts as booked).

        The same trade can reach us twice: listed twice, by the stream and by REST, again at
        recovery. Only its first sighting is booked.
        """
        if self.mode is Mode.PAPER:
            return True
        if fill.trade_id in self.trade_ids or (
                fill.exchange_order_id is not None and unlisted_trade_id(fill.exchange_order_id) in self.trade_ids):
            return False
        self.trade_ids.add(fill.trade_id)
        return True

    def position_update(self, symbol: str, ts: datetime) -> PositionUpdate:
        pos = self.portfolio.positions.get(symbol)
        if pos is None or not pos.quantity:
            return PositionUpdate(self.mode, symbol, Decimal(0), Decimal(0), pos.mark if pos else Decimal(0),
                                  Decimal(0), self.leverage, ts)
        return PositionUpdate(self.mode, symbol, pos.quantity, pos.entry_price, pos.mark, pos.unrealized,
                              self.leverage, ts, self._liquidation(symbol, pos.quantity))

    def open_positions(self, ts: datetime) -> dict[str, PositionUpdate]:
        """Every open position at its current mark."""
        return {symbol: self.position_update(symbol, ts) for symbol in self.portfolio.open_positions()}

    def _liquidation(self, symbol: str, quantity: Decimal) -> Decimal | None:
        read = self.venue_liquidation.get(symbol)
        return read[1] if read is not None and read[0] == quantity else None

    def note_venue_positions(self, held: Mapping[str, VenuePosition]) -> list[str]:
        """Keep the exchange's liquidation prices from a positions read; the symbols whose shown
        figure changed (their position updates need publishing again)."""
        before = {s: self._liquidation(s, p.quantity) for s, p in self.portfolio.positions.items()}
        self.venue_liquidation = {s: (p.quantity, price) for s, p in held.items()
                                  if (price := venue_liquidation_price(p)) is not None}
        return sorted(s for s, p in self.portfolio.positions.items()
                      if p.quantity and self._liquidation(s, p.quantity) != before.get(s))

    def equity_update(self, ts: datetime) -> EquityUpdate:
        p = self.portfolio
        unrealized = p.unrealized
        equity = p.equity_with(unrealized)
        update = EquityUpdate(self.mode, ts, equity, p.capital, p.realized, unrealized, p.fees, p.funding,
                              self.breakers.peak if self.breakers.peak is not None else equity,
                              self.breakers.drawdown(equity), p.trade_count)
        self.last_equity = update
        if self.equity_history and self.equity_history[-1][0] == ts:
            self.equity_history.pop()  # a command changed the book within the same minute
        self.equity_history.append((ts, equity))
        return update
