"""The engine's state at start, rebuilt from what the store committed.

Positions are recomputed from the mode's fills rather than read from the positions
table: the fills are the record, and a snapshot can lag them by one batch.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from engine.model import Fill, Mode, Side
from engine.portfolio import Portfolio
from engine.store import PendingOrder, RestoredControls, RestoredPosition, RestoredState
from storage.backend import Backend
from storage.codec import money, to_decimal, to_utc
from storage.reads import day_open_equity, equity_history
from engine.config import DEFAULT_INSTANCE

EQUITY_TAIL = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def positions_from_fills(fills: list[tuple]) -> dict[str, RestoredPosition]:
    """fills: (symbol, side, quantity, price) in execution order -> the non-flat positions.

    Replayed through the engine's own portfolio arithmetic, so the restored cost is exactly the
    one the engine held (an average entry price rounded to 18 places would not be).
    """
    book = Portfolio(Mode.PAPER, Decimal(0))
    for symbol, side, qty, price in fills:
        book.apply_fill(Fill(Mode.PAPER, symbol, Side(side), to_decimal(qty), to_decimal(price), Decimal(0), "USDT",
                             _EPOCH, "", ""))
    return {s: RestoredPosition(s, p.quantity, money(p.entry_price, "entry_price"), p.cost)
            for s, p in sorted(book.open_positions().items())}


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

