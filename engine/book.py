"""Everything the engine keeps per trading mode: the portfolio, the venue, the breakers and
the recent history the desk shows. Switching modes swaps books; it never touches positions.
"""
from __future__ import annotations

from collections import deque
from datetime import datetime
from decimal import Decimal

from engine.events import EquityUpdate, FillEvent, PositionUpdate
from engine.funding import FundingClock
from engine.model import Fill, Mode, unlisted_trade_id
from engine.portfolio import Portfolio
from engine.risk import Breakers
from engine.venues.base import Venue

FILLS_KEPT = 50
EQUITY_POINTS_KEPT = 2_000


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
                              self.leverage, ts)

    def open_positions(self, ts: datetime) -> dict[str, PositionUpdate]:
        """Every open position at its current mark."""
        return {symbol: self.position_update(symbol, ts) for symbol in self.portfolio.open_positions()}

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
