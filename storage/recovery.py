"""The engine's state at start, rebuilt from what the store committed.

Positions are recomputed from the mode's fills rather than read from the positions
table: the fills are the record, and a snapshot can lag them by one batch.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal, localcontext

from engine.store import PendingOrder, RestoredControls, RestoredPosition, RestoredState
from storage.backend import Backend
from storage.codec import EXACT, money, to_decimal, to_utc
from storage.reads import day_open_equity, equity_history
from engine.config import DEFAULT_INSTANCE

EQUITY_TAIL = 500


def apply_fill(quantity: Decimal, entry: Decimal, signed: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
    """A position (signed quantity, average entry) after one fill of `signed` at `price`."""
    with localcontext(EXACT):
        new = quantity + signed
        if new == 0:
            return Decimal(0), Decimal(0)
        if quantity == 0 or (quantity > 0) == (signed > 0):  # opening or adding: weighted average
            return new, (entry * abs(quantity) + price * abs(signed)) / abs(new)
        if (new > 0) == (quantity > 0):  # reducing: the rest keeps its entry
            return new, entry
        return new, price  # flipped: the remainder was opened at this fill's price


def positions_from_fills(fills: list[tuple]) -> dict[str, RestoredPosition]:
    """fills: (symbol, side, quantity, price) in execution order -> the non-flat positions."""
    book: dict[str, tuple[Decimal, Decimal]] = {}
    for symbol, side, qty, price in fills:
        signed = to_decimal(qty) if side == "BUY" else -to_decimal(qty)
        book[symbol] = apply_fill(*book.get(symbol, (Decimal(0), Decimal(0))), signed, to_decimal(price))
    return {s: RestoredPosition(s, q, money(e, "entry_price")) for s, (q, e) in sorted(book.items()) if q != 0}


def load_state(backend: Backend, mode: str, instance: str = DEFAULT_INSTANCE,
               now: datetime | None = None) -> RestoredState | None:
    fills = backend.query("SELECT symbol, side, quantity, price, realized_pnl, commission, trade_id, trade_time "
                          "FROM trades WHERE instance = ? AND mode = ? ORDER BY timestamp, id", (instance, mode))
    funding = backend.query("SELECT amount, timestamp FROM funding_payments WHERE instance = ? AND mode = ?",
                            (instance, mode))
    pending = backend.query("SELECT client_order_id, symbol, side, quantity, reduce_only, reason, created_at "
                            "FROM orders WHERE instance = ? AND mode = ? AND status IN ('new', 'sent', 'unknown') "
                            "ORDER BY created_at", (instance, mode))
    tail = equity_history(backend, mode, EQUITY_TAIL, instance)
    if not fills and not funding and not tail and not pending:
        return None
    # The day is the market's: that of the last stored point (a sim or replay runs on its own clock).
    now = now or (tail[-1].ts if tail else datetime.now(timezone.utc))
    zero = Decimal(0)
    peak = None
    if tail:
        peak = max([p.equity for p in tail] + ([tail[-1].peak] if tail[-1].peak is not None else []))
    midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return RestoredState(
        mode=mode,
        positions=positions_from_fills([f[:4] for f in fills]),
        realized=sum((to_decimal(f[4]) or zero for f in fills), zero),
        fees=sum((to_decimal(f[5]) or zero for f in fills), zero),
        funding=sum((to_decimal(r[0]) for r in funding), zero),
        trade_count=len(fills),
        peak_equity=peak,
        day_open_equity=day_open_equity(backend, mode, midnight, instance) if tail else None,
        equity_tail=[(p.ts, p.equity) for p in tail],
        last_funding_ts=max((to_utc(r[1]) for r in funding), default=None),
        trade_ids=frozenset(str(f[6]) for f in fills),
        traded_symbols=frozenset(f[0] for f in fills),
        last_fill_at=max((to_utc(f[7]) for f in fills), default=None),
        last_funding_at=max((to_utc(r[1]) for r in funding), default=None),
        pending_orders=tuple(PendingOrder(r[0], r[1], r[2], to_decimal(r[3]), bool(r[4]), r[5] or "", to_utc(r[6]))
                             for r in pending),
    )


def load_controls(backend: Backend, instance: str = DEFAULT_INSTANCE) -> RestoredControls | None:
    rows = backend.query("SELECT mode, halted, halt_reason, paused FROM engine_state WHERE instance = ?",
                         (instance,))
    if not rows:
        return None
    mode, halted, reason, paused = rows[0]
    return RestoredControls(mode=mode, paused=frozenset(json.loads(paused or "[]")), halted=bool(halted),
                            halt_reason=reason or "")

