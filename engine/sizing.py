"""From target factors to orders: leverage, per-symbol and gross caps, hysteresis, exchange steps.

    target notional = clip(target_factor, -1, 1) x leverage x equity
    |notional| <= max_position_risk_per_trade x leverage x equity          (per symbol)
    sum |notional| <= max_total_risk_exposure x leverage x equity           (all symbols; scaled down)

A change smaller than max(min notional, rebalance band) is not traded, except a close to zero,
which always is. Orders that shrink a position are reduce-only; a flip is a reduce-only close
followed by an opening order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Container, Mapping

from engine.model import Instrument, Side

ZERO = Decimal(0)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class SizingLimits:
    leverage: Decimal
    per_symbol: Decimal  # fraction of equity as margin for one symbol
    gross: Decimal  # fraction of equity as margin for all symbols together
    band_usd: Decimal

    @classmethod
    def from_config(cls, config) -> "SizingLimits":
        return cls(
            leverage=Decimal(config.leverage),
            per_symbol=Decimal(str(config.max_position_risk_per_trade)),
            gross=Decimal(str(config.max_total_risk_exposure)),
            band_usd=Decimal(str(config.risk.rebalance_band_usd)),
        )


def target_notionals(factors: Mapping[str, float], equity: Decimal, limits: SizingLimits,
                     held_gross: Decimal = ZERO, only: Container[str] | None = None) -> dict[str, Decimal]:
    """Signed target notional per symbol after both caps, in whole cents toward zero.

    `held_gross` is the gross notional of positions that will not be traded this bar (paused,
    halted, mismatched); it uses up part of the gross budget. The factor is a float, so the
    arithmetic is too until the result, which is rounded toward zero so that it can never
    exceed a cap. With `only`, just those symbols' targets are returned; every symbol of
    `factors` still shares the gross budget.
    """
    if equity <= 0:
        return {s: ZERO for s in factors if only is None or s in only}
    unit = float(limits.leverage * equity)
    per_cap = float(limits.per_symbol) * unit
    targets: dict[str, float] = {}
    total = 0.0
    isfinite = math.isfinite
    # Runs for every symbol every minute: the clip to [-1, 1] is inline.
    for symbol, factor in factors.items():
        if factor is None or not isfinite(factor):
            t = 0.0
        else:
            t = float(factor)
            t = (1.0 if t > 1.0 else -1.0 if t < -1.0 else t) * unit
        if t > per_cap:
            t = per_cap
        elif t < -per_cap:
            t = -per_cap
        targets[symbol] = t
        total += abs(t)
    budget = max(0.0, float(limits.gross) * unit - float(held_gross))
    scale = budget / total if total > budget else 1.0
    if only is None:
        return {s: _cents_toward_zero(t * scale) for s, t in targets.items()}
    return {s: _cents_toward_zero(t * scale) for s, t in targets.items() if s in only}


def _cents_toward_zero(value: float) -> Decimal:
    cents_float = abs(value) * 100
    cents = math.floor(cents_float)
    # Float noise (249.99999999997) is not a lost cent: round to 6 places first. That rounding only
    # matters within a millionth below a whole cent, and round() is most of the cost of a call, so
    # it runs only near one (or where a float's spacing comes near a millionth).
    if cents_float - cents > 0.999 or cents_float >= 2.0 ** 40:
        cents = math.floor(round(cents_float, 6))
    return Decimal(cents if value >= 0 else -cents) * _CENT  # exact: the same as scaleb(-2), and quicker


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    side: Side
    quantity: Decimal
    reduce_only: bool


@dataclass(frozen=True, slots=True)
class Plan:
    orders: tuple[PlannedOrder, ...] = ()
    skipped: str = ""  # why a wanted trade is not sent (below min notional / step)
    skipped_side: Side | None = None
    skipped_quantity: Decimal = ZERO

    @property
    def wanted(self) -> bool:
        """Something to send or to report."""
        return bool(self.orders or self.skipped)


NO_TRADE = Plan()


def close_order(quantity: Decimal) -> PlannedOrder:
    """The reduce-only order that flattens a signed position."""
    return PlannedOrder(Side.SELL if quantity > 0 else Side.BUY, abs(quantity), True)


def _opening(inst: Instrument, qty: Decimal, price: Decimal) -> tuple[PlannedOrder | None, str]:
    """An order that opens or grows a position by `qty` (signed), if the exchange would take it."""
    q = inst.round_qty(qty)
    side = Side.BUY if qty > 0 else Side.SELL
    if q == 0 or abs(q) < inst.min_qty:
        # The wish is unrounded (28 digits of Decimal): 6 significant ones say how far off it is.
        return None, f"{inst.symbol}: {abs(qty):.6g} is below the minimum quantity {inst.min_qty}"
    if abs(q) * price < inst.min_notional:
        return None, (f"{inst.symbol}: {abs(q) * price:.2f} USDT is below the minimum notional "
                      f"{inst.min_notional} USDT")
    return PlannedOrder(side, abs(q), False), ""


def plan_orders(inst: Instrument, position_qty: Decimal, price: Decimal, target_notional: Decimal,
                band_usd: Decimal, entries_allowed: bool = True) -> Plan:
    """The orders that move `position_qty` toward `target_notional` at `price`."""
    if price <= 0:
        return NO_TRADE
    if target_notional == 0 and position_qty:
        return Plan((close_order(position_qty),))
    if not entries_allowed:
        # Only shrink: a target beyond the position, or on the other side, means flat or hold.
        if not position_qty:
            return NO_TRADE
        if (target_notional > 0) != (position_qty > 0):
            return Plan((close_order(position_qty),))
        if abs(target_notional) >= abs(position_qty * price):
            return NO_TRADE
    delta = target_notional - position_qty * price
    if abs(delta) < max(inst.min_notional, band_usd):
        return NO_TRADE
    change = delta / price
    if position_qty and (change > 0) != (position_qty > 0):
        if abs(change) >= abs(position_qty):
            # Flat first (reduce-only), then open what is left on the other side.
            close = close_order(position_qty)
            rest = position_qty + change
            if inst.round_qty(rest) == 0:
                return Plan((close,))
            opening, why = _opening(inst, rest, price)
            if opening is None:
                return Plan((close,), skipped=why, skipped_side=Side.BUY if rest > 0 else Side.SELL,
                            skipped_quantity=abs(rest))
            return Plan((close, opening))
        q = inst.round_qty(abs(change))
        side = Side.BUY if change > 0 else Side.SELL
        if q == 0:
            return Plan(skipped=f"{inst.symbol}: reduction {abs(change):f} is below the step {inst.step_size}",
                        skipped_side=side, skipped_quantity=abs(change))
        return Plan((PlannedOrder(side, q, True),))
    opening, why = _opening(inst, change, price)
    if opening is None:
        return Plan(skipped=why, skipped_side=Side.BUY if change > 0 else Side.SELL, skipped_quantity=abs(change))
    return Plan((opening,))
