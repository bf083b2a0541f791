"""The reads the desk and `trifactor status` need, each for one engine instance. Each is one
indexed query (see tests/storage/test_indexes.py); placeholders are `?` on both backends.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

from engine.config import DEFAULT_INSTANCE
from storage.backend import Backend
from storage.codec import to_decimal, to_utc
from storage.records import (AuditRecord, EquityPoint, OrderRecord, PositionRecord, SignalRecord, SymbolTotals,
                             TradeRecord)
from storage.signal_pack import Minute
from storage.statements import SIGNAL_COLUMNS

TRADE_COLUMNS = ("timestamp, mode, symbol, side, quantity, price, commission, commission_asset, realized_pnl, "
                 "client_order_id, trade_id")
EQUITY_COLUMNS = ("timestamp, mode, total_equity, realized_pnl_cumulative, unrealized_pnl, total_fees_cumulative, "
                  "funding_cumulative, trade_count_cumulative, peak_equity, drawdown")

LAST_TRADES = (f"SELECT {TRADE_COLUMNS} FROM trades WHERE instance = ? AND mode = ? "
               "ORDER BY timestamp DESC, id DESC LIMIT ?")
TRADE_COUNT = "SELECT COUNT(*) FROM trades WHERE instance = ? AND mode = ?"
POSITIONS = ("SELECT mode, symbol, quantity, entry_price, mark_price, unrealized_pnl, leverage, last_update_ts "
             "FROM positions WHERE instance = ? AND mode = ? ORDER BY symbol")
# Market time orders the points, never the order they were inserted in.
EQUITY_HISTORY = (f"SELECT {EQUITY_COLUMNS} FROM performance WHERE instance = ? AND mode = ? "
                  "ORDER BY timestamp DESC LIMIT ?")
SIGNAL_MINUTES = ("SELECT timestamp, data FROM signal_minutes WHERE instance = ? "
                  "ORDER BY timestamp DESC, first_symbol DESC LIMIT ?")
SIGNAL_MINUTES_BEFORE = ("SELECT timestamp, data FROM signal_minutes WHERE instance = ? AND timestamp < ? "
                         "ORDER BY timestamp DESC, first_symbol DESC LIMIT ?")
# Rows in the signals table's own layout: bars written before signals were packed.
SIGNAL_ROWS_BEFORE = (f"SELECT {', '.join(SIGNAL_COLUMNS)} FROM signals WHERE instance = ? AND symbol = ? "
                      "AND timestamp < ? ORDER BY timestamp DESC LIMIT ?")
RECENT_AUDIT = ("SELECT timestamp, command, symbol, ok, message, details FROM audit_log WHERE instance = ? "
                "ORDER BY timestamp DESC LIMIT ?")
RECENT_ORDERS = ("SELECT created_at, updated_at, mode, symbol, side, quantity, reduce_only, reason, status, message "
                 "FROM orders WHERE instance = ? AND mode = ? ORDER BY created_at DESC LIMIT ?")
# Every read above, with sample parameters, for the index-use checks.
INDEXED_READS = {
    "last_trades": (LAST_TRADES, (DEFAULT_INSTANCE, "paper", 20)),
    "trade_count": (TRADE_COUNT, (DEFAULT_INSTANCE, "paper")),
    "positions": (POSITIONS, (DEFAULT_INSTANCE, "paper")),
    "equity_history": (EQUITY_HISTORY, (DEFAULT_INSTANCE, "paper", 500)),
    "signal_minutes": (SIGNAL_MINUTES, (DEFAULT_INSTANCE, 500)),
    "signal_minutes_before": (SIGNAL_MINUTES_BEFORE, (DEFAULT_INSTANCE, datetime(2025, 3, 1), 500)),
    "signal_rows_before": (SIGNAL_ROWS_BEFORE, (DEFAULT_INSTANCE, "BTCUSDT", datetime(2025, 3, 1), 500)),
    "recent_audit": (RECENT_AUDIT, (DEFAULT_INSTANCE, 20)),
    "recent_orders": (RECENT_ORDERS, (DEFAULT_INSTANCE, "paper", 20)),
}
_SIGNAL_MAIN = {"timestamp", "symbol", "status", "price", "final_factor", "target_factor",
                "target_position_usd", "current_position_usd"}


_FAR_FUTURE = datetime(9999, 1, 1)


def _next(ts: object) -> datetime:
    """Just after a stored timestamp (for `timestamp < ?`), as a naive UTC datetime."""
    return to_utc(ts).replace(tzinfo=None) + timedelta(microseconds=1)


def _d(value: object) -> Decimal:
    return to_decimal(value) if value is not None else Decimal(0)


def trade_record(row: tuple) -> TradeRecord:
    ts, mode, symbol, side, qty, price, fee, asset, pnl, cid, tid = row
    return TradeRecord(to_utc(ts), mode, symbol, side, _d(qty), _d(price), _d(fee), asset, _d(pnl), cid, tid)


def last_trades(backend: Backend, n: int, mode: str, instance: str = DEFAULT_INSTANCE) -> list[TradeRecord]:
    """The mode's last n fills, newest first."""
    return [trade_record(r) for r in backend.query(LAST_TRADES, (instance, mode, int(n)))]


def trade_count(backend: Backend, mode: str, instance: str = DEFAULT_INSTANCE) -> int:
    return int(backend.query(TRADE_COUNT, (instance, mode))[0][0])


def positions(backend: Backend, mode: str, instance: str = DEFAULT_INSTANCE,
              include_flat: bool = False) -> list[PositionRecord]:
    out = []
    for mode_, symbol, qty, entry, mark, upnl, lev, ts in backend.query(POSITIONS, (instance, mode)):
        record = PositionRecord(mode_, symbol, _d(qty), _d(entry), to_decimal(mark), to_decimal(upnl),
                                int(lev), to_utc(ts))
        if include_flat or record.quantity != 0:
            out.append(record)
    return out


def equity_point(row: tuple) -> EquityPoint:
    ts, mode, equity, realized, unrealized, fees, funding, count, peak, dd = row
    return EquityPoint(to_utc(ts), mode, _d(equity), _d(realized), _d(unrealized), _d(fees), _d(funding),
                       int(count), to_decimal(peak), to_decimal(dd))


def equity_history(backend: Backend, mode: str, n: int, instance: str = DEFAULT_INSTANCE) -> list[EquityPoint]:
    """The mode's last n equity points by market time, oldest first."""
    rows = backend.query(EQUITY_HISTORY, (instance, mode, int(n)))
    return [equity_point(r) for r in reversed(rows)]


def day_open_equity(backend: Backend, mode: str, day_start: datetime,
                    instance: str = DEFAULT_INSTANCE) -> Decimal | None:
    """Equity when the UTC day began: the last point before midnight, else the day's first."""
    before = backend.query("SELECT total_equity FROM performance WHERE instance = ? AND mode = ? AND timestamp < ? "
                           "ORDER BY timestamp DESC LIMIT 1", (instance, mode, day_start))
    if before:
        return to_decimal(before[0][0])
    after = backend.query("SELECT total_equity FROM performance WHERE instance = ? AND mode = ? AND timestamp >= ? "
                          "ORDER BY timestamp LIMIT 1", (instance, mode, day_start))
    return to_decimal(after[0][0]) if after else None


def signal_record(values: dict) -> SignalRecord:
    """A signal from its stored values by column name (packed or the signals table's row)."""
    components = {k: v for k, v in values.items() if k not in _SIGNAL_MAIN}
    if components.get("target_changed") is not None:
        components["target_changed"] = bool(components["target_changed"])
    return SignalRecord(
        ts=to_utc(values["timestamp"]), symbol=values["symbol"], status=values["status"],
        price=values["price"], final_factor=values["final_factor"], target_factor=values["target_factor"],
        target_notional=to_decimal(values["target_position_usd"]),
        current_notional=to_decimal(values["current_position_usd"]), components=components,
    )


def _packed(ts: object, minute: Minute, i: int) -> SignalRecord:
    values = minute.values(i)
    values.update(timestamp=ts, symbol=minute.symbols[i])
    return signal_record(values)


def signal_history(backend: Backend, symbol: str, n: int, instance: str = DEFAULT_INSTANCE) -> list[SignalRecord]:
    """One symbol's signals in the newest n stored minutes, oldest first.

    A minute is unpacked whole (every symbol's values are in it), so this reads n minutes
    however many symbols they hold. Where the packed minutes end, bars written before
    signals were packed follow from the signals table."""
    n = int(n)
    found: dict[datetime, SignalRecord] = {}
    rows = backend.query(SIGNAL_MINUTES, (instance, n))
    for ts, data in rows:
        minute = Minute(bytes(data))
        i = minute.index.get(symbol)
        key = to_utc(ts)
        if i is not None and key not in found:  # a minute written in parts holds each symbol in one
            found[key] = _packed(ts, minute, i)
    out = sorted(found.values(), key=lambda r: r.ts)
    if len(rows) < n:  # the packed minutes start here: older bars may be in the signals table
        oldest = min((to_utc(ts) for ts, _ in rows), default=None)
        before = backend.query(SIGNAL_ROWS_BEFORE, (instance, symbol, oldest or _FAR_FUTURE, n - len(out)))
        out = [signal_record(dict(zip(SIGNAL_COLUMNS, row))) for row in reversed(before)] + out
    return out[-n:] if n > 0 else []


def chart_history(backend: Backend, n: int, instance: str = DEFAULT_INSTANCE
                  ) -> dict[str, list[tuple[datetime, float | None, float | None]]]:
    """Every symbol's (time, price, final factor) over the newest n packed minutes, oldest first."""
    out: dict[str, dict[datetime, tuple]] = {}
    for ts, data in reversed(backend.query(SIGNAL_MINUTES, (instance, int(n)))):
        minute = Minute(bytes(data))
        at = to_utc(ts)
        for symbol, price, final in zip(minute.symbols, minute.column("price"), minute.column("final_factor")):
            out.setdefault(symbol, {})[at] = (at, price, final)
    return {symbol: list(points.values()) for symbol, points in out.items()}


def latest_signals(backend: Backend, instance: str = DEFAULT_INSTANCE) -> list[SignalRecord]:
    """Every symbol's signal in the newest stored minute (all of its parts), by symbol."""
    rows = backend.query(SIGNAL_MINUTES, (instance, 1))
    if not rows:
        return []
    newest = rows[0][0]
    found: dict[str, SignalRecord] = {}
    for ts, data in backend.query(SIGNAL_MINUTES_BEFORE, (instance, _next(newest), 1000)):
        if to_utc(ts) != to_utc(newest):
            break
        minute = Minute(bytes(data))
        for symbol, i in minute.index.items():
            found.setdefault(symbol, _packed(ts, minute, i))
    return [found[s] for s in sorted(found)]


def _details(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def recent_audit(backend: Backend, n: int, instance: str = DEFAULT_INSTANCE) -> list[AuditRecord]:
    """The last n operator commands and engine actions (breakers, reconciliation), newest first."""
    return [AuditRecord(to_utc(ts), command, symbol, bool(ok), message or "", _details(details))
            for ts, command, symbol, ok, message, details in backend.query(RECENT_AUDIT, (instance, int(n)))]


def recent_orders(backend: Backend, mode: str, n: int, instance: str = DEFAULT_INSTANCE) -> list[OrderRecord]:
    """The mode's last n orders by creation, newest first, each with its newest status."""
    return [OrderRecord(to_utc(created), to_utc(updated), mode_, symbol, side, _d(qty), bool(reduce_only),
                        reason or "", status, message or "")
            for created, updated, mode_, symbol, side, qty, reduce_only, reason, status, message
            in backend.query(RECENT_ORDERS, (instance, mode, int(n)))]


def newest_market_time(backend: Backend, instance: str = DEFAULT_INSTANCE) -> datetime | None:
    """The instance's newest equity point's time, any mode: where a simulated market carries on."""
    rows = backend.query("SELECT MAX(timestamp) FROM performance WHERE instance = ?", (instance,))
    return to_utc(rows[0][0]) if rows and rows[0][0] is not None else None


def symbol_totals(backend: Backend, mode: str, instance: str = DEFAULT_INSTANCE) -> list[SymbolTotals]:
    """Per symbol since the mode began: realized PnL, fees, funding, fill count and turnover.
    Two grouped reads over the instance and mode's own index range, once at start."""
    trades = backend.query("SELECT symbol, SUM(realized_pnl), SUM(commission), COUNT(*), SUM(quantity * price) "
                           "FROM trades WHERE instance = ? AND mode = ? GROUP BY symbol", (instance, mode))
    funding = {symbol: _d(amount) for symbol, amount in backend.query(
        "SELECT symbol, SUM(amount) FROM funding_payments WHERE instance = ? AND mode = ? GROUP BY symbol",
        (instance, mode))}
    out = [SymbolTotals(symbol, _d(realized), _d(fees), funding.pop(symbol, Decimal(0)), int(count), _d(turnover))
           for symbol, realized, fees, count, turnover in trades]
    out += [SymbolTotals(symbol, Decimal(0), Decimal(0), amount, 0, Decimal(0)) for symbol, amount in funding.items()]
    return sorted(out, key=lambda t: t.symbol)
