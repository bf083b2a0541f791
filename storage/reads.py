"""The reads the desk and `trifactor status` need, each for one engine instance. Each is one
indexed query (see tests/storage/test_indexes.py); placeholders are `?` on both backends.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from engine.config import DEFAULT_INSTANCE
from storage.backend import Backend
from storage.codec import to_decimal, to_utc
from storage.records import AuditRecord, EquityPoint, PositionRecord, SignalRecord, TradeRecord
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
SIGNAL_HISTORY = (f"SELECT {', '.join(SIGNAL_COLUMNS)} FROM signals WHERE instance = ? AND symbol = ? "
                  "ORDER BY timestamp DESC LIMIT ?")
RECENT_AUDIT = ("SELECT timestamp, command, symbol, ok, message FROM audit_log WHERE instance = ? "
                "ORDER BY timestamp DESC LIMIT ?")
# Every read above, with sample parameters, for the index-use checks.
INDEXED_READS = {
    "last_trades": (LAST_TRADES, (DEFAULT_INSTANCE, "paper", 20)),
    "trade_count": (TRADE_COUNT, (DEFAULT_INSTANCE, "paper")),
    "positions": (POSITIONS, (DEFAULT_INSTANCE, "paper")),
    "equity_history": (EQUITY_HISTORY, (DEFAULT_INSTANCE, "paper", 500)),
    "signal_history": (SIGNAL_HISTORY, (DEFAULT_INSTANCE, "BTCUSDT", 500)),
    "recent_audit": (RECENT_AUDIT, (DEFAULT_INSTANCE, 20)),
}
_SIGNAL_MAIN = {"timestamp", "symbol", "status", "price", "final_factor", "target_factor",
                "target_position_usd", "current_position_usd"}


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


def signal_history(backend: Backend, symbol: str, n: int, instance: str = DEFAULT_INSTANCE) -> list[SignalRecord]:
    """One symbol's last n signal rows, oldest first."""
    out = []
    for row in reversed(backend.query(SIGNAL_HISTORY, (instance, symbol, int(n)))):
        values = dict(zip(SIGNAL_COLUMNS, row))
        components = {k: v for k, v in values.items() if k not in _SIGNAL_MAIN}
        if components.get("target_changed") is not None:
            components["target_changed"] = bool(components["target_changed"])
        out.append(SignalRecord(
            ts=to_utc(values["timestamp"]), symbol=values["symbol"], status=values["status"],
            price=values["price"], final_factor=values["final_factor"], target_factor=values["target_factor"],
            target_notional=to_decimal(values["target_position_usd"]),
            current_notional=to_decimal(values["current_position_usd"]), components=components,
        ))
    return out


def recent_audit(backend: Backend, n: int, instance: str = DEFAULT_INSTANCE) -> list[AuditRecord]:
    return [AuditRecord(to_utc(ts), command, symbol, bool(ok), message or "")
            for ts, command, symbol, ok, message in backend.query(RECENT_AUDIT, (instance, int(n)))]


def newest_market_time(backend: Backend, instance: str = DEFAULT_INSTANCE) -> datetime | None:
    """The instance's newest equity point's time, any mode: where a simulated market carries on."""
    rows = backend.query("SELECT MAX(timestamp) FROM performance WHERE instance = ?", (instance,))
    return to_utc(rows[0][0]) if rows and rows[0][0] is not None else None
