"""The first schema: the original bot's four tables (trades, positions, performance,
signals) with their columns kept for the tools that read them, exact money types, and
trifactor's additions: every strategy component in signals, funding in performance,
orders with their status history, funding payments, the audit log and the engine state.
"""
from __future__ import annotations

from storage.ddl import Table, col

DESCRIPTION = "initial schema"

SYMBOL = 32
MODE = 10
ORDER_ID = 64

# Frozen copies of the strategy's reported names (see strategy/schema.py); a later change
# to the strategy adds columns in a new migration.
FACTOR_COLUMNS = (
    "raw_factor", "filtered_factor", "final_factor", "funding_signal", "mr_signal", "flow_signal",
    "vol_regime", "trend_regime", "risk_scale", "extreme_market_factor",
    "funding_weight", "mr_weight", "flow_weight", "target_factor",
)
DETAIL_COLUMNS = (
    "returns", "funding_rate", "funding_z", "funding_threshold", "funding_signal_raw", "returns_z",
    "mr_threshold", "trend_filter_mr", "volume_ratio", "volume_filter", "buy_ratio", "buy_ratio_z",
    "dollar_delta_z", "flow_combined", "flow_threshold", "volume_scale", "vol_risk_scale",
    "drawdown_scale", "trend_filter", "signal_threshold", "conviction_scale", "conviction_factor",
    "smoothed_factor", "factor_std", "change_threshold",
)

SCHEMA_VERSION = Table(
    "schema_version",
    (col("version", "int", null=False), col("description", "varchar", 200), col("applied_at", "ts", null=False)),
    unique=(("schema_version_version", ("version",)),),
    id_column=False,
)

TRADES = Table(
    "trades",
    (
        col("timestamp", "ts", null=False),
        col("symbol", "varchar", SYMBOL, null=False),
        col("mode", "varchar", MODE, null=False),
        col("order_id", "varchar", ORDER_ID),
        col("client_order_id", "varchar", ORDER_ID),
        col("side", "varchar", 4, null=False),
        col("position_side", "varchar", 5, null=False, default="'BOTH'"),
        col("order_type", "varchar", 10, null=False, default="'MARKET'"),
        col("price", "money", null=False),
        col("quantity", "money", null=False),
        col("quote_quantity", "money", null=False),
        col("commission", "money"),
        col("commission_asset", "varchar", 16),
        col("realized_pnl", "money"),
        col("is_maker", "bool"),
        col("trade_time", "ts", null=False),
        col("strategy_factor", "real"),
        col("trade_id", "varchar", ORDER_ID, null=False),
    ),
    unique=(("trades_mode_trade_id", ("mode", "trade_id")),),
    indexes=(("idx_symbol_time", ("symbol", "timestamp")), ("idx_mode_time", ("mode", "timestamp"))),
)

POSITIONS = Table(
    "positions",
    (
        col("symbol", "varchar", SYMBOL, null=False),
        col("mode", "varchar", MODE, null=False),
        col("quantity", "money", null=False, default="0"),
        col("entry_price", "money", null=False, default="0"),
        col("mark_price", "money"),
        col("unrealized_pnl", "money"),
        col("leverage", "int", null=False),
        col("initial_margin", "money"),
        col("last_update_ts", "ts", null=False),
    ),
    unique=(("unique_symbol_mode", ("symbol", "mode")),),
    indexes=(("positions_mode", ("mode", "symbol")),),
)

PERFORMANCE = Table(
    "performance",
    (
        col("timestamp", "ts", null=False),
        col("mode", "varchar", MODE, null=False),
        col("total_equity", "money", null=False),
        col("realized_pnl_cumulative", "money", null=False, default="0"),
        col("unrealized_pnl", "money", null=False, default="0"),
        col("total_pnl_cumulative", "money", null=False, default="0"),
        col("total_fees_cumulative", "money", null=False, default="0"),
        col("trade_count_cumulative", "int", null=False, default="0"),
        col("funding_cumulative", "money", null=False, default="0"),
        col("capital", "money"),
        col("peak_equity", "money"),
        col("drawdown", "money"),
    ),
    unique=(("unique_mode_time", ("mode", "timestamp")),),
)

SIGNALS = Table(
    "signals",
    (
        col("timestamp", "ts", null=False),
        col("symbol", "varchar", SYMBOL, null=False),
        *(col(name, "real") for name in FACTOR_COLUMNS),
        col("target_position_usd", "money"),
        col("current_position_usd", "money"),
        col("price", "real"),
        col("bar_return", "real"),
        col("status", "varchar", 16),
        col("progress", "real"),
        *(col(name, "real") for name in DETAIL_COLUMNS),
        col("target_changed", "bool"),
        col("bars_seen", "bigint"),
    ),
    unique=(("unique_symbol_time_signal", ("symbol", "timestamp")),),
    indexes=(("signals_time", ("timestamp",)),),  # retention deletes by age
)

ORDERS = Table(
    "orders",
    (
        col("client_order_id", "varchar", ORDER_ID, null=False),
        col("mode", "varchar", MODE, null=False),
        col("symbol", "varchar", SYMBOL, null=False),
        col("side", "varchar", 4, null=False),
        col("quantity", "money", null=False),
        col("reduce_only", "bool", null=False),
        col("reason", "varchar", 32),
        col("status", "varchar", 20, null=False),
        col("exchange_order_id", "varchar", ORDER_ID),
        col("message", "text"),
        col("created_at", "ts", null=False),
        col("updated_at", "ts", null=False),
        # Which update is the newest: its time in microseconds x 10 + how far its status had
        # progressed, so a replayed intent never overwrites the fill stamped with the same time.
        col("update_key", "bigint", null=False),
    ),
    unique=(("orders_client_order_id", ("client_order_id",)),),
    indexes=(("orders_mode_time", ("mode", "created_at")),),
)

ORDER_HISTORY = Table(
    "order_history",
    (
        col("client_order_id", "varchar", ORDER_ID, null=False),
        col("timestamp", "ts", null=False),
        col("status", "varchar", 20, null=False),
        col("exchange_order_id", "varchar", ORDER_ID),
        col("message", "text"),
    ),
    unique=(("order_history_event", ("client_order_id", "status", "timestamp")),),
)

FUNDING_PAYMENTS = Table(
    "funding_payments",
    (
        col("mode", "varchar", MODE, null=False),
        col("symbol", "varchar", SYMBOL, null=False),
        col("timestamp", "ts", null=False),
        col("rate", "money", null=False),
        col("quantity", "money", null=False),
        col("mark_price", "money", null=False),
        col("amount", "money", null=False),
    ),
    unique=(("funding_payments_event", ("mode", "symbol", "timestamp")),),
)

AUDIT_LOG = Table(
    "audit_log",
    (
        col("event_id", "varchar", 32, null=False),
        col("timestamp", "ts", null=False),
        col("command", "varchar", 32, null=False),
        col("symbol", "varchar", SYMBOL),
        col("ok", "bool", null=False),
        col("message", "text"),
        col("details", "text"),  # JSON
    ),
    unique=(("audit_log_event", ("event_id",)),),
    indexes=(("audit_log_time", ("timestamp",)),),
)

ENGINE_STATE = Table(
    "engine_state",  # one row (id 1): the operator state that outlives a restart
    (
        col("mode", "varchar", MODE, null=False),
        col("market", "varchar", 16),
        col("halted", "bool", null=False),
        col("halt_reason", "text"),
        col("paused", "text"),  # JSON list of symbols
        col("breakers", "text"),  # JSON object: breaker -> trip reason ("" when ok)
        col("mismatched", "text"),  # JSON list of symbols
        col("feed_status", "varchar", 16),
        col("updated_at", "ts", null=False),
    ),
)

TABLES = (SCHEMA_VERSION, TRADES, POSITIONS, PERFORMANCE, SIGNALS, ORDERS, ORDER_HISTORY,
          FUNDING_PAYMENTS, AUDIT_LOG, ENGINE_STATE)


def statements(dialect: str) -> list[str]:
    return [stmt for table in TABLES for stmt in table.create(dialect)]
