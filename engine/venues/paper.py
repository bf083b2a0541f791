"""Paper execution: market orders fill at once at the current price plus slippage, taker fee.

Buys fill `slippage_bps` above the price and sells below it, on the tick grid (rounded
against us). Funding is settled by the engine's portfolio, which knows the funding times;
this book only tracks quantities so it can answer `positions()` like an exchange.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Callable

from engine.config import PaperConfig
from engine.model import Fill, Instrument, Mode, OrderRequest, OrderResult, Side, VenuePosition
from engine.portfolio import Portfolio
from engine.venues.base import VenueError

BPS = Decimal(10_000)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class PaperVenue:
    mode = Mode.PAPER

    def __init__(self, config: PaperConfig, price_source: Callable[[str], float | None], *,
                 clock: Callable[[], datetime] = _utcnow, capital: Decimal = Decimal(0)) -> None:
        self.taker_fee = Decimal(repr(config.taker_fee))
        self.maker_fee = Decimal(repr(config.maker_fee))
        self.slippage = Decimal(repr(config.slippage_bps)) / BPS
        self._price = price_source
        self._clock = clock
        self._instruments: dict[str, Instrument] = {}
        self._book = Portfolio(Mode.PAPER, capital)
        self.closed = False

    async def prepare(self, instruments: dict[str, Instrument], leverage: int, margin_mode: str) -> None:
        self._instruments = dict(instruments)

    def fill_price(self, symbol: str, side: Side) -> Decimal:
        price = self._price(symbol)
        if price is None or not price > 0:
            raise VenueError(f"{symbol}: no current price to fill a paper order")
        base = Decimal(repr(price))
        moved = base * (1 + self.slippage) if side is Side.BUY else base * (1 - self.slippage)
        inst = self._instruments.get(symbol)
        if inst is None or not self.slippage:
            return moved
        rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
        return (moved / inst.tick_size).to_integral_value(rounding=rounding) * inst.tick_size

    async def submit(self, order: OrderRequest) -> OrderResult:
        if order.quantity <= 0:
            return OrderResult(order, "rejected", message=f"{order.symbol}: quantity must be positive")
        held = self._book.quantity(order.symbol)
        qty = order.quantity
        if order.reduce_only:
            # Like the exchange: a reduce-only order never opens or flips; it is cut to the position.
            if not held or (held > 0) == (order.side is Side.BUY):
                return OrderResult(order, "rejected", message=f"{order.symbol}: reduce-only order would not reduce "
                                                              f"the position ({held})")
            qty = min(qty, abs(held))
        price = self.fill_price(order.symbol, order.side)
        fee = qty * price * self.taker_fee  # market orders always take liquidity
        # One fill per paper order: its id is the order's, which never repeats across runs.
        trade_id = f"{order.client_order_id}-1"
        fill = Fill(mode=Mode.PAPER, symbol=order.symbol, side=order.side, quantity=qty, price=price, fee=fee,
                    fee_asset="USDT", ts=self._clock(), client_order_id=order.client_order_id, trade_id=trade_id,
                    exchange_order_id=order.client_order_id, is_maker=False)
        self._book.apply_fill(fill)
        return OrderResult(order, "filled", fills=(fill,), exchange_order_id=order.client_order_id)

    async def cancel_all(self, symbol: str | None = None) -> None:
        """Paper market orders fill at once, so nothing is ever open."""

    def rate_limited_for(self) -> float:
        return 0.0

    async def positions(self) -> dict[str, VenuePosition]:
        return {s: VenuePosition(s, p.quantity, p.entry_price) for s, p in self._book.open_positions().items()}

    async def balance(self) -> Decimal:
        """Capital plus realized PnL less fees (funding is the engine's to settle)."""
        b = self._book
        return b.capital + b.realized - b.fees + b.funding

    def restore(self, symbol: str, quantity: Decimal, entry_price: Decimal) -> None:
        """Seed the book with a position restored from the store."""
        self._book.adopt(symbol, quantity, entry_price)

    async def close(self) -> None:
        self.closed = True
