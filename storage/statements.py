"""The write statements: one per kind of row, each idempotent so that replaying the
journal (or a batch whose commit was lost in transit) never duplicates anything.

- "ignore": rows with a natural key (a trade id, an event id) are inserted once; a row
  whose key is stored with other content is a conflict (storage/conflicts.py), never
  silently dropped.
- "replace": the newest write wins (a signal for a bar, an equity point).
- "newer": a row replaces the stored one only if its guard timestamp is not older, so
  a replayed stale update (an order intent after its fill) never moves state backwards.
"""
from __future__ import annotations

from dataclasses import dataclass

from storage.migrations.v0001_initial import DETAIL_COLUMNS, FACTOR_COLUMNS


@dataclass(frozen=True)
class WriteSpec:
    table: str
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    policy: str  # ignore | replace | newer
    guard: str = ""  # "newer": the timestamp column that decides
    insert_only: tuple[str, ...] = ()  # never changed by an update (e.g. created_at)
    keep_if_null: tuple[str, ...] = ()  # an update (or a replay) without a value keeps the stored one

    def sqlite_sql(self) -> str:
        """The statement for one row, positional `?` parameters in column order."""
        return _sqlite(self)

    def mysql_sql(self) -> tuple[str, str]:
        """(head, tail): a multi-row statement is head + "(...),(...)" + tail."""
        return _mysql(self)

    @property
    def updated(self) -> list[str]:
        skip = set(self.keys) | set(self.insert_only) | {self.guard}
        cols = [c for c in self.columns if c not in skip]
        # MySQL applies assignments left to right: the guard must change last.
        return cols + ([self.guard] if self.guard else [])


def _sqlite(spec: WriteSpec) -> str:
    cols = ", ".join(spec.columns)
    values = ", ".join("?" for _ in spec.columns)
    head = f"INSERT INTO {spec.table} ({cols}) VALUES ({values}) ON CONFLICT ({', '.join(spec.keys)}) DO "
    if spec.policy == "ignore":
        return head + "NOTHING"
    sets = ", ".join(
        f"{c} = COALESCE(excluded.{c}, {spec.table}.{c})" if c in spec.keep_if_null else f"{c} = excluded.{c}"
        for c in spec.updated
    )
    where = f" WHERE excluded.{spec.guard} >= {spec.table}.{spec.guard}" if spec.policy == "newer" else ""
    return head + f"UPDATE SET {sets}{where}"


def _mysql(spec: WriteSpec) -> tuple[str, str]:
    head = f"INSERT INTO {spec.table} ({', '.join(spec.columns)}) VALUES "
    if spec.policy == "ignore":
        first = spec.keys[0]
        return head, f" ON DUPLICATE KEY UPDATE {first} = {first}"  # unlike INSERT IGNORE, hides no other error
    sets = []
    for c in spec.updated:
        new = f"COALESCE(VALUES({c}), {c})" if c in spec.keep_if_null else f"VALUES({c})"
        if spec.policy == "newer":
            new = f"IF(VALUES({spec.guard}) >= {spec.guard}, {new}, {c})"
        sets.append(f"{c} = {new}")
    return head, " ON DUPLICATE KEY UPDATE " + ", ".join(sets)


SIGNAL_COLUMNS = ("timestamp", "symbol", *FACTOR_COLUMNS, "target_position_usd", "current_position_usd",
                  "price", "bar_return", "status", "progress", *DETAIL_COLUMNS, "target_changed", "bars_seen")

SPECS: dict[str, WriteSpec] = {
    # A minute of signals, packed (storage/signal_pack.py); "signal" rows are the layout before it.
    "signal_minute": WriteSpec("signal_minutes", ("instance", "timestamp", "first_symbol", "symbols", "data"),
                               ("instance", "timestamp", "first_symbol"), "replace"),
    "signal": WriteSpec("signals", ("instance", *SIGNAL_COLUMNS), ("instance", "symbol", "timestamp"), "replace"),
    "trade": WriteSpec(
        "trades",
        ("instance", "timestamp", "symbol", "mode", "order_id", "client_order_id", "side", "price", "quantity",
         "quote_quantity", "commission", "commission_asset", "realized_pnl", "is_maker", "trade_time",
         "strategy_factor", "trade_id"),
        ("instance", "mode", "trade_id"), "ignore"),
    "position": WriteSpec(
        "positions",
        ("instance", "symbol", "mode", "quantity", "entry_price", "mark_price", "unrealized_pnl", "leverage",
         "initial_margin", "last_update_ts"),
        ("instance", "mode", "symbol"), "newer", guard="last_update_ts"),
    "equity": WriteSpec(
        "performance",
        ("instance", "timestamp", "mode", "total_equity", "realized_pnl_cumulative", "unrealized_pnl",
         "total_pnl_cumulative", "total_fees_cumulative", "trade_count_cumulative", "funding_cumulative",
         "capital", "peak_equity", "drawdown"),
        ("instance", "mode", "timestamp"), "replace"),
    "order": WriteSpec(
        "orders",
        ("instance", "client_order_id", "mode", "symbol", "side", "quantity", "reduce_only", "reason", "status",
         "exchange_order_id", "message", "created_at", "updated_at", "update_key"),
        ("instance", "client_order_id"), "newer", guard="update_key", insert_only=("created_at",),
        keep_if_null=("exchange_order_id",)),
    # A repeated status without the exchange's id (known only once the exchange answered) is
    # the same event, not a conflict.
    "order_event": WriteSpec(
        "order_history", ("instance", "client_order_id", "timestamp", "status", "exchange_order_id", "message"),
        ("instance", "client_order_id", "status", "timestamp"), "ignore", keep_if_null=("exchange_order_id",)),
    "funding": WriteSpec(
        "funding_payments", ("instance", "mode", "symbol", "timestamp", "rate", "quantity", "mark_price", "amount"),
        ("instance", "mode", "symbol", "timestamp"), "ignore"),
    "audit": WriteSpec(
        "audit_log", ("instance", "event_id", "timestamp", "command", "symbol", "ok", "message", "details"),
        ("instance", "event_id"), "ignore"),
    "state": WriteSpec(
        "engine_state",
        ("instance", "mode", "market", "halted", "halt_reason", "paused", "breakers", "mismatched", "feed_status",
         "updated_at"),
        ("instance",), "newer", guard="updated_at"),
    # Who runs the instance: written by the engine holding its lock, at start and on each heartbeat.
    "instance": WriteSpec(
        "instances", ("instance", "pid", "host", "started_at", "heartbeat"), ("instance",), "replace"),
}

# Per-kind column codecs: which columns hold money and timestamps (everything else passes as is).
MONEY_COLUMNS: dict[str, frozenset[str]] = {
    "signal_minute": frozenset(),
    "signal": frozenset({"target_position_usd", "current_position_usd"}),
    "trade": frozenset({"price", "quantity", "quote_quantity", "commission", "realized_pnl"}),
    "position": frozenset({"quantity", "entry_price", "mark_price", "unrealized_pnl", "initial_margin"}),
    "equity": frozenset({"total_equity", "realized_pnl_cumulative", "unrealized_pnl", "total_pnl_cumulative",
                         "total_fees_cumulative", "funding_cumulative", "capital", "peak_equity", "drawdown"}),
    "order": frozenset({"quantity"}),
    "order_event": frozenset(),
    "funding": frozenset({"rate", "quantity", "mark_price", "amount"}),
    "audit": frozenset(),
    "state": frozenset(),
    "instance": frozenset(),
}
# Binary columns: base64 text in the JSON journals.
BLOB_COLUMNS: dict[str, frozenset[str]] = {"signal_minute": frozenset({"data"})}
TS_COLUMNS = frozenset({"timestamp", "trade_time", "last_update_ts", "created_at", "updated_at", "started_at",
                        "heartbeat"})
