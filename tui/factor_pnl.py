"""PnL by factor: each position's PnL, bar by bar, split between the strategy's three
components in proportion to their weighted contributions to the factor that set the position.

For a symbol, let the position be set (opened, resized or closed) on the bar whose signal has
component signals s_k and weights w_k, k in {funding, mean reversion, flow}. Its contributions
are c_k = w_k * s_k and its shares a_k = c_k / (c_funding + c_mr + c_flow). Until the position
is set again, each bar's mark-to-market PnL q * (p_t - p_{t-1}) of the quantity q held over the
bar, and each funding payment, is split as a_k times it. When the contributions sum to zero (or
are missing) the PnL is `unattributed`. Fees are not attributed. The funding and mean-reversion
parts are rounded to 1e-8 USDT and the flow part is the rest, so the parts of every bar sum to
that bar's PnL exactly.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Mapping

COMPONENTS = (("funding", "funding_weight", "funding_signal"), ("mr", "mr_weight", "mr_signal"),
              ("flow", "flow_weight", "flow_signal"))
PARTS = ("funding", "mr", "flow", "unattributed")
STEP = Decimal("1e-8")
ZERO = Decimal(0)


def shares(components: Mapping) -> dict[str, Decimal] | None:
    """Each component's share of the factor, or None when they cannot be told apart."""
    contributions = {}
    for name, weight, signal in COMPONENTS:
        w, s = components.get(weight), components.get(signal)
        if not isinstance(w, (int, float)) or not isinstance(s, (int, float)) or math.isnan(w * s):
            return None
        contributions[name] = Decimal(repr(float(w) * float(s)))
    total = sum(contributions.values())
    if total == 0:
        return None
    return {name: c / total for name, c in contributions.items()}


def split(pnl: Decimal, weights: dict[str, Decimal] | None) -> dict[str, Decimal]:
    """`pnl` in parts that sum to it exactly."""
    if weights is None:
        return {"unattributed": pnl}
    funding = (pnl * weights["funding"]).quantize(STEP)
    mr = (pnl * weights["mr"]).quantize(STEP)
    return {"funding": funding, "mr": mr, "flow": pnl - funding - mr}


class FactorPnl:
    """Per symbol, the running parts of its attributed PnL."""

    def __init__(self) -> None:
        self.parts: dict[str, dict[str, Decimal]] = {}
        self.total: dict[str, Decimal] = {}  # what was attributed, for the exactness check
        self._shares: dict[str, dict[str, Decimal] | None] = {}
        self._price: dict[str, Decimal] = {}
        self._quantity: dict[str, Decimal] = {}
        self._components: dict[str, Mapping] = {}

    def _add(self, symbol: str, pnl: Decimal) -> None:
        parts = self.parts.setdefault(symbol, dict.fromkeys(PARTS, ZERO))
        for name, value in split(pnl, self._shares.get(symbol)).items():
            parts[name] += value
        self.total[symbol] = self.total.get(symbol, ZERO) + pnl

    def on_bar(self, symbol: str, price: float, components: Mapping) -> None:
        """A closed bar of `symbol`: the PnL of the quantity held over it, and the components a
        position set on this bar would take its shares from."""
        if not isinstance(price, (int, float)) or math.isnan(price):
            return
        now = Decimal(repr(float(price)))
        held = self._quantity.get(symbol, ZERO)
        before = self._price.get(symbol)
        if held and before is not None:
            self._add(symbol, held * (now - before))
        self._price[symbol] = now
        self._components[symbol] = components

    def on_position(self, symbol: str, quantity: Decimal) -> None:
        """The position after a fill: set by the factor of the symbol's latest bar."""
        if quantity != self._quantity.get(symbol, ZERO):
            self._shares[symbol] = shares(self._components.get(symbol, {}))
        self._quantity[symbol] = quantity

    def on_funding(self, symbol: str, amount: Decimal) -> None:
        self._add(symbol, amount)
