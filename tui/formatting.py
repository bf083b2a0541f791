"""Text for numbers the engine sends. Formatting only: nothing here computes a figure.

Gains and losses always carry a sign and an arrow, so they read the same without colour.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

UP, DOWN, FLAT = "▲", "▼", " "
MISSING = "—"


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def arrow(value: float | Decimal) -> str:
    return UP if value > 0 else DOWN if value < 0 else FLAT


def price(value: float | Decimal | None) -> str:
    """Enough digits for any coin: cents for BTC, six significant digits for sub-dollar coins."""
    if is_missing(value):
        return MISSING
    v = float(value)
    magnitude = abs(v)
    if magnitude >= 100_000:  # 113,423.2 still fits a 10-column cell with its gap
        return f"{v:,.1f}"
    if magnitude >= 1000:
        return f"{v:,.2f}"
    if magnitude >= 1:
        return f"{v:,.4f}"
    return f"{v:.6g}"


def signed_pct(value: float | None, digits: int = 2) -> str:
    if is_missing(value):
        return MISSING
    return f"{arrow(value)}{value * 100:+.{digits}f}%"


def factor(value: float | None) -> str:
    if is_missing(value):
        return MISSING
    return f"{value:+.3f}"


def number(value: Any, digits: int = 4) -> str:
    """A strategy intermediate: floats, booleans or missing."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if is_missing(value):
        return MISSING
    if isinstance(value, (int, float, Decimal)):
        v = float(value)
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-4):
            return f"{v:+.3e}"
        return f"{v:+.{digits}f}"
    return str(value)


def usd(value: Decimal | float | None, places: int = 2) -> str:
    if is_missing(value):
        return MISSING
    return f"{float(value):,.{places}f}"


def signed_usd(value: Decimal | float | None, places: int = 2) -> str:
    """Money that can be a gain or a loss: arrow and sign."""
    if is_missing(value):
        return MISSING
    return f"{arrow(value)}{float(value):+,.{places}f}"


def notional(value: Decimal | float | None) -> str:
    """Target and current position sizes: whole dollars, signed (long +, short -); from 100k
    they shrink (+1.2M) rather than be cut."""
    if is_missing(value):
        return MISSING
    if abs(float(value)) >= 100_000:
        return compact(value, signed=True)
    return f"{float(value):+,.0f}"


def signed_usd_short(value: Decimal | float | None) -> str:
    """signed_usd for a narrow column: from 1,000 it shrinks to ▲+1.2k."""
    if is_missing(value):
        return MISSING
    if abs(float(value)) >= 1000:
        return f"{arrow(value)}{compact(value, signed=True)}"
    return signed_usd(value)


def quantity(value: Decimal | None) -> str:
    """Exactly as the exchange counts it; an amount finer than any step size (an order the engine
    wanted but skipped, before rounding) shows 6 significant digits, marked as rounded."""
    if value is None:
        return MISSING
    value = value.normalize()
    if value.as_tuple().exponent < -8:
        return f"≈{Decimal(f'{value:.6g}').normalize():f}"
    return f"{value:f}"


def fraction_pct(value: Decimal | float | None) -> str:
    if is_missing(value):
        return MISSING
    return f"{float(value) * 100:.2f}%"


# Statuses longer than the column, in words that still say why the symbol is idle.
SHORT_STATUS = {"below min notional": "min notional"}


def status(kind: str, progress: float) -> str:
    if kind == "warming":
        return f"warm {progress * 100:.0f}%"
    return SHORT_STATUS.get(kind, kind)


def compact(value: Decimal | float | None, signed: bool = False) -> str:
    """A number that must fit a narrow column: 950, 12.3k, 1.2M (signed: +12.3k)."""
    if is_missing(value):
        return MISSING
    v = float(value)
    sign = "+" if signed and v > 0 else ""
    magnitude = abs(v)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= size:
            return f"{sign}{v / size:.1f}{suffix}"
    return f"{sign}{v:.0f}" if magnitude >= 100 else f"{sign}{v:.2f}"


def bar(fraction: Decimal | float | None, width: int = 20) -> str:
    """A gauge that reads without colour: [██████······] (over 100 %: full, marked with !)."""
    if is_missing(fraction):
        return "[" + "·" * width + "]"
    f = max(0.0, float(fraction))
    filled = min(width, round(f * width))
    return "[" + "█" * filled + "·" * (width - filled) + ("]!" if f > 1 else "]")
