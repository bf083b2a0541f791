"""One trading mode's book: positions, realized and unrealized PnL, fees and funding, in Decimal.

Each open position carries its signed cost (the sum of signed quantity x price of what is
still open) instead of a rounded average price. Closing a part moves a proportional share of
that cost into realized PnL, and the remainder stays in the cost, so

    realized + unrealized == sum over fills of (-signed qty x price) + sum of qty x mark

holds to the last digit, and so does
    equity == capital + realized + unrealized - fees + funding.
"""
from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from decimal import Decimal

from engine.model import Fill, Mode

ZERO = Decimal(0)
# Wide enough that sums of products of prices and quantities are never rounded.
_CTX = decimal.Context(prec=60)
# Only the proportional cost share of a partial close is rounded; the rest of the cost keeps
# whatever that rounding left, so nothing is lost.
_COST_QUANTUM = Decimal("1e-18")


@dataclass(slots=True)
class Position:
    symbol: str
    quantity: Decimal = ZERO  # signed: + long, - short
    cost: Decimal = ZERO  # signed cost of the open quantity
    mark: Decimal = ZERO
    _entry: Decimal | None = field(default=None, repr=False)  # cost / quantity, until either changes

    @property
    def entry_price(self) -> Decimal:
        if self._entry is None:
            self._entry = (_CTX.divide(self.cost, self.quantity).quantize(Decimal("1e-12"), context=_CTX)
                           if self.quantity else ZERO)
        return self._entry

    @property
    def unrealized(self) -> Decimal:
        return _CTX.subtract(_CTX.multiply(self.quantity, self.mark), self.cost)

    @property
    def notional(self) -> Decimal:
        return _CTX.multiply(self.quantity, self.mark)


class Portfolio:
    def __init__(self, mode: Mode, capital: Decimal) -> None:
        self.mode = mode
        self.capital = capital
        self.realized = ZERO
        self.fees = ZERO
        self.funding = ZERO
        self.trade_count = 0
        self.positions: dict[str, Position] = {}

    # -- reading -----------------------------------------------------------------

    def quantity(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.quantity if pos else ZERO

    def open_positions(self) -> dict[str, Position]:
        return {s: p for s, p in self.positions.items() if p.quantity}

    @property
    def unrealized(self) -> Decimal:
        # Position.unrealized inline: this runs every minute over every position.
        add, subtract, multiply = _CTX.add, _CTX.subtract, _CTX.multiply
        total = ZERO
        for pos in self.positions.values():
            if pos.quantity:
                total = add(total, subtract(multiply(pos.quantity, pos.mark), pos.cost))
        return total

    @property
    def equity(self) -> Decimal:
        return self.equity_with(self.unrealized)

    def equity_with(self, unrealized: Decimal) -> Decimal:
        """capital + realized + unrealized - fees + funding, never rounded."""
        c = _CTX
        return c.add(c.subtract(c.add(c.add(self.capital, self.realized), unrealized), self.fees), self.funding)

    def gross_notional(self) -> Decimal:
        return sum((abs(p.notional) for p in self.positions.values() if p.quantity), ZERO)

    # -- changing ----------------------------------------------------------------

    def mark_all(self, prices: dict[str, Decimal]) -> None:
        for symbol, pos in self.positions.items():
            price = prices.get(symbol)
            if price is not None:
                pos.mark = price

    def apply_fill(self, fill: Fill) -> Decimal:
        """Book one fill; returns the PnL it realized (before fees)."""
        c = _CTX
        pos = self.positions.get(fill.symbol)
        if pos is None:
            pos = self.positions[fill.symbol] = Position(fill.symbol, mark=fill.price)
        delta = fill.quantity * fill.side.sign
        realized = ZERO
        opening = delta
        if pos.quantity and (pos.quantity > 0) != (delta > 0):
            # The part of the fill that reduces the position (never more than the position).
            reducing = delta if abs(delta) <= abs(pos.quantity) else -pos.quantity
            closed = -reducing  # same sign as the position
            if closed == pos.quantity:
                share = pos.cost
            else:
                share = c.divide(c.multiply(pos.cost, closed), pos.quantity).quantize(_COST_QUANTUM, context=c)
            realized = c.subtract(c.multiply(closed, fill.price), share)
            pos.cost = c.subtract(pos.cost, share)
            pos.quantity = c.add(pos.quantity, reducing)
            opening = c.subtract(delta, reducing)
        if opening:
            pos.cost = c.add(pos.cost, c.multiply(opening, fill.price))
            pos.quantity = c.add(pos.quantity, opening)
        pos.mark = fill.price
        pos._entry = None
        self.realized = c.add(self.realized, realized)
        self.fees = c.add(self.fees, fill.fee)
        self.trade_count += 1
        return realized

    def apply_funding(self, quantity: Decimal, rate: Decimal, mark: Decimal) -> Decimal:
        """Settle funding on a position of `quantity` (what was held at the funding time): longs pay
        a positive rate. Returns the signed amount."""
        amount = -_CTX.multiply(_CTX.multiply(quantity, mark), rate)
        self.funding = _CTX.add(self.funding, amount)
        return amount

    def book_funding(self, amount: Decimal) -> None:
        """Funding the exchange itself settled (testnet, live): its amount, not ours to compute."""
        self.funding = _CTX.add(self.funding, amount)

    def adopt(self, symbol: str, quantity: Decimal, entry_price: Decimal, mark: Decimal | None = None,
              cost: Decimal | None = None) -> None:
        """Take a quantity as the venue reports it (restore, or the operator's resume after a mismatch).

        A restore passes the exact `cost` its fills left, so the book is the one the engine had:
        quantity x a rounded entry price would carry more places than the fills ever did.
        """
        pos = self.positions.setdefault(symbol, Position(symbol))
        pos.quantity = quantity
        pos.cost = cost if cost is not None else _CTX.multiply(quantity, entry_price)
        pos._entry = None
        pos.mark = mark if mark is not None else (pos.mark or entry_price)
