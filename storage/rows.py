"""Engine events become rows: (kind, values) pairs that the write statements take.

Values are already in their stored form (money rounded to 18 places, naive-UTC
timestamps, finite floats or None), so a row means the same thing whichever backend or
the journal receives it. Every row carries the instance (engine name) that wrote it.
Events the store does not keep map to no rows.
"""
from __future__ import annotations

import base64
import json
import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Sequence

from engine.config import DEFAULT_INSTANCE
from engine.events import (CommandResult, EngineState, EquityUpdate, Event, FillEvent, FundingPayment,
                           OrderUpdate, PositionUpdate, SignalBatch, SignalUpdate)
from storage.codec import EXACT, money, real, utc_naive
from storage.migrations.v0001_initial import DETAIL_COLUMNS, FACTOR_COLUMNS
from storage.signal_pack import pack_minute
from storage.statements import BLOB_COLUMNS, MONEY_COLUMNS, TS_COLUMNS

log = logging.getLogger(__name__)
Row = tuple[str, dict[str, Any]]
_EPOCH = datetime(1970, 1, 1)


def _mode(value: Any) -> str:
    return getattr(value, "value", value)


def signal_minute_rows(updates: Sequence[SignalUpdate]) -> list[Row]:
    """One minute's signals (the updates share a timestamp) as one packed row."""
    if not updates:
        return []
    return [("signal_minute", {"timestamp": utc_naive(updates[0].ts), "first_symbol": updates[0].symbol,
                               "symbols": len(updates), "data": pack_minute(updates)})]


def signals_table_rows(e: SignalUpdate) -> list[Row]:
    """The row the signals table held per symbol and bar before signals were packed: what a store
    from before holds, and the layout benchmarks/storage.py compares against."""
    c = e.components or {}
    values: dict[str, Any] = {"timestamp": utc_naive(e.ts), "symbol": e.symbol}
    for name in FACTOR_COLUMNS + DETAIL_COLUMNS:
        values[name] = real(c.get(name))
    # The update's own fields hold while the stream warms up and its mapping is empty.
    values["final_factor"] = real(c.get("final_factor", e.final_factor))
    values["target_factor"] = real(c.get("target_factor", e.target_factor))
    changed = c.get("target_changed")
    bars = c.get("bars_seen")
    values.update(
        target_position_usd=money(e.target_notional, "signals.target_position_usd"),
        current_position_usd=money(e.current_notional, "signals.current_position_usd"),
        price=real(e.price), bar_return=real(e.ret), status=e.status, progress=real(e.progress),
        target_changed=None if changed is None else bool(changed),
        bars_seen=None if bars is None else int(bars),
    )
    return [("signal", values)]


def signal_batch_rows(e: SignalBatch) -> list[Row]:
    """The symbols that had a bar this minute, packed; the others' carried updates are stored already."""
    return signal_minute_rows(e.fresh())


def fill_rows(e: FillEvent) -> list[Row]:
    f = e.fill
    price = money(f.price, "trades.price")
    qty = money(f.quantity, "trades.quantity")
    return [("trade", {
        "timestamp": utc_naive(f.ts), "symbol": f.symbol, "mode": _mode(f.mode),
        "order_id": f.exchange_order_id, "client_order_id": f.client_order_id, "side": _mode(f.side),
        "price": price, "quantity": qty, "quote_quantity": money(EXACT.multiply(price, qty), "trades.quote_quantity"),
        "commission": money(f.fee, "trades.commission"), "commission_asset": f.fee_asset,
        "realized_pnl": money(f.realized_pnl, "trades.realized_pnl"), "is_maker": bool(f.is_maker),
        "trade_time": utc_naive(f.ts), "strategy_factor": real(f.factor), "trade_id": str(f.trade_id),
    })]


def position_rows(e: PositionUpdate) -> list[Row]:
    notional = EXACT.multiply(e.quantity, e.mark_price).copy_abs()
    margin = EXACT.divide(notional, e.leverage) if e.leverage else Decimal(0)
    return [("position", {
        "symbol": e.symbol, "mode": _mode(e.mode), "quantity": money(e.quantity, "positions.quantity"),
        "entry_price": money(e.entry_price, "positions.entry_price"),
        "mark_price": money(e.mark_price, "positions.mark_price"),
        "unrealized_pnl": money(e.unrealized_pnl, "positions.unrealized_pnl"), "leverage": int(e.leverage),
        "initial_margin": money(margin, "positions.initial_margin"), "last_update_ts": utc_naive(e.ts),
    })]


def equity_rows(e: EquityUpdate) -> list[Row]:
    return [("equity", {
        "timestamp": utc_naive(e.ts), "mode": _mode(e.mode),
        "total_equity": money(e.equity, "performance.total_equity"),
        "realized_pnl_cumulative": money(e.realized, "performance.realized_pnl_cumulative"),
        "unrealized_pnl": money(e.unrealized, "performance.unrealized_pnl"),
        "total_pnl_cumulative": money(EXACT.add(e.realized, e.unrealized), "performance.total_pnl_cumulative"),
        "total_fees_cumulative": money(e.fees, "performance.total_fees_cumulative"),
        "trade_count_cumulative": int(e.trade_count),
        "funding_cumulative": money(e.funding, "performance.funding_cumulative"),
        "capital": money(e.capital, "performance.capital"),
        "peak_equity": money(e.peak, "performance.peak_equity"),
        "drawdown": money(e.drawdown, "performance.drawdown"),
    })]


# How far an order has got; a later status at the same time wins over an earlier one.
STATUS_PROGRESS = {"new": 0, "sent": 1, "partially_filled": 2, "unknown": 2}  # unknown: until resolved
FINAL_PROGRESS = 3  # filled, rejected, skipped, error, canceled, expired


def order_update_key(ts: datetime, status: str) -> int:
    micros = (ts - _EPOCH) // timedelta(microseconds=1)
    return micros * 10 + STATUS_PROGRESS.get(status, FINAL_PROGRESS)


def order_rows(e: OrderUpdate, instance: str) -> list[Row]:
    ts = utc_naive(e.ts)
    return [
        ("order", {
            "instance": instance, "client_order_id": e.client_order_id, "mode": _mode(e.mode), "symbol": e.symbol,
            "side": _mode(e.side), "quantity": money(e.quantity, "orders.quantity"),
            "reduce_only": bool(e.reduce_only), "reason": e.reason, "status": e.status,
            "exchange_order_id": e.exchange_order_id, "message": e.message, "created_at": ts, "updated_at": ts,
            "update_key": order_update_key(ts, e.status),
        }),
        ("order_event", {
            "instance": instance, "client_order_id": e.client_order_id, "timestamp": ts, "status": e.status,
            "exchange_order_id": e.exchange_order_id, "message": e.message,
        }),
    ]


def funding_rows(e: FundingPayment) -> list[Row]:
    return [("funding", {
        "mode": _mode(e.mode), "symbol": e.symbol, "timestamp": utc_naive(e.ts),
        "rate": money(e.rate, "funding_payments.rate"), "quantity": money(e.quantity, "funding_payments.quantity"),
        "mark_price": money(e.mark_price, "funding_payments.mark_price"),
        "amount": money(e.amount, "funding_payments.amount"),
    })]


def audit_rows(e: CommandResult) -> list[Row]:
    return [("audit", {
        # Each operator action is one row however often it is replayed: its id is fixed here.
        "event_id": uuid.uuid4().hex, "timestamp": utc_naive(e.ts), "command": e.command,
        "symbol": e.symbol, "ok": bool(e.ok), "message": e.message,
        "details": json.dumps(dict(e.details), default=str, sort_keys=True) if e.details else None,
    })]


def state_rows(e: EngineState) -> list[Row]:
    return [("state", {
        "mode": _mode(e.mode), "market": e.market, "halted": bool(e.halted),
        "halt_reason": e.halt_reason, "paused": json.dumps(sorted(e.paused)),
        "breakers": json.dumps(dict(e.breakers), sort_keys=True), "mismatched": json.dumps(sorted(e.mismatched)),
        "feed_status": e.feed_status, "updated_at": utc_naive(e.ts),
    })]


def instance_row(instance: str, pid: int, host: str, started_at: datetime, heartbeat: datetime) -> Row:
    return ("instance", {"instance": instance, "pid": pid, "host": host, "started_at": utc_naive(started_at),
                         "heartbeat": utc_naive(heartbeat)})


_CONVERTERS = {
    SignalBatch: signal_batch_rows, FillEvent: fill_rows, PositionUpdate: position_rows, EquityUpdate: equity_rows,
    FundingPayment: funding_rows, CommandResult: audit_rows, EngineState: state_rows,
}


def rows_for_events(events: Iterable[Event], instance: str) -> list[Row]:
    """The rows for a drained batch of events: each minute's signals packed together into one
    row (the other events' rows in order before them), written by `instance`. An event that
    cannot be stored is logged and skipped; it never costs the batch."""
    rows: list[Row] = []
    minutes: dict[datetime, dict[str, SignalUpdate]] = {}
    for event in events:
        if type(event) is SignalBatch:
            for update in event.fresh():  # a later batch of the same minute has the newer word
                minutes.setdefault(update.ts, {})[update.symbol] = update
            continue
        try:
            rows += rows_for(event, instance)
        except Exception as e:
            log.error("store: %s event not stored: %s", getattr(event, "kind", type(event).__name__), e)
    for ts, by_symbol in minutes.items():
        try:
            packed = signal_minute_rows(list(by_symbol.values()))
        except Exception as e:
            log.error("store: the signals of %s not stored: %s", ts, e)
            continue
        for _, values in packed:
            values["instance"] = instance
        rows += packed
    return rows


def rows_for(event: Event, instance: str) -> list[Row]:
    """The rows for one event, written by `instance`; events the store does not keep (bars,
    errors, status) give none."""
    if isinstance(event, OrderUpdate):
        return order_rows(event, instance)
    convert = _CONVERTERS.get(type(event))
    if convert is None:
        return []
    rows = convert(event)
    for _, values in rows:
        values["instance"] = instance
    return rows


def journal_values(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """A row's values in a form JSON takes (binary values as base64 text); `revive` undoes it."""
    blobs = BLOB_COLUMNS.get(kind)
    if not blobs:
        return values
    return {k: base64.b64encode(v).decode() if k in blobs and v is not None else v for k, v in values.items()}


def revive(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """A row read back from the journal (JSON) with its Decimals and timestamps restored.

    Rows journaled before instances existed belong to the default instance (whose journal
    directory they are in)."""
    money_cols = MONEY_COLUMNS[kind]
    blobs = BLOB_COLUMNS.get(kind, frozenset())
    out = dict(values)
    out.setdefault("instance", DEFAULT_INSTANCE)
    for name, value in values.items():
        if value is None:
            continue
        if name in money_cols:
            out[name] = Decimal(value)
        elif name in blobs:
            out[name] = base64.b64decode(value)
        elif name in TS_COLUMNS:
            out[name] = datetime.fromisoformat(value)
    return out
