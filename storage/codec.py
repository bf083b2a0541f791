"""How Python values become column values and back, the same way on both backends.

Money is Decimal with 18 fractional digits and 20 integer digits: MariaDB stores it as
DECIMAL(38,18), SQLite as the exact decimal text. Both sides round to 18 places
half-even before writing, so the two backends always hold the same numbers, and what is
read back is the canonical form (no trailing zeros), identical on both.
Timestamps are stored as naive UTC (DATETIME(6) / fixed-width ISO text that sorts in time
order) and come back timezone-aware.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

MONEY_PLACES = 18
MONEY_INTEGER_DIGITS = 20
# Wide enough for any DECIMAL(38,18) value and the products the rows derive (price x quantity).
EXACT = Context(prec=2 * (MONEY_PLACES + MONEY_INTEGER_DIGITS), rounding=ROUND_HALF_EVEN)
_CTX = EXACT
_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
_LIMIT = Decimal(10) ** MONEY_INTEGER_DIGITS


class ValueProblem(ValueError):
    """A value that cannot be stored (too large, not a number); names the column."""


def money(value: object, column: str = "") -> Decimal | None:
    """Round to the column's 18 places; reject what does not fit DECIMAL(38,18)."""
    if value is None:
        return None
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
        if not d.is_finite():
            raise ValueProblem(f"column {column}: {value!r} is not a finite number")
        q = d.quantize(_QUANTUM, context=_CTX)
    except InvalidOperation:
        raise ValueProblem(f"column {column}: {value!r} is not a number that fits DECIMAL(38,18)") from None
    if q.copy_abs() >= _LIMIT:
        raise ValueProblem(f"column {column}: {value!r} has more than {MONEY_INTEGER_DIGITS} integer digits")
    return canonical(q)


def canonical(d: Decimal) -> Decimal:
    """The shortest exact form: 1.500 -> 1.5, 1E+2 -> 100, -0 -> 0."""
    if d == 0:
        return Decimal(0)
    n = d.normalize(_CTX)
    return n.quantize(Decimal(1), context=_CTX) if n.as_tuple().exponent > 0 else n


def money_text(d: Decimal | None) -> str | None:
    return None if d is None else format(d, "f")


def real(value: object) -> float | None:
    """Floats for analysis columns; NaN and infinities are stored as NULL (MariaDB rejects them)."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def utc_naive(ts: datetime) -> datetime:
    """Naive UTC; a naive input is taken to be UTC already."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts


def ts_text(ts: datetime) -> str:
    return utc_naive(ts).isoformat(sep=" ", timespec="microseconds")


def to_utc(value: object) -> datetime | None:
    """A stored timestamp (text or naive datetime) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ValueProblem(f"{value!r} is not a timestamp")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def to_decimal(value: object) -> Decimal | None:
    """A stored money value (exact text on SQLite, Decimal on MariaDB) in canonical form."""
    if value is None:
        return None
    if isinstance(value, float):  # only if another program wrote a float; never exact
        value = repr(value)
    return canonical(Decimal(value) if not isinstance(value, Decimal) else value)
