"""Engine instances: every book and engine-state row carries the name of the engine that
wrote it (`instance`, 'default' for rows written before), and the natural keys include it,
so several engines share one store with separate books. The `instances` table holds who
runs each instance (process, host, since when, last heartbeat) for `trifactor status` and
for the message that refuses a second engine.

Each table changes in one ALTER on MariaDB (IF [NOT] EXISTS makes a half-applied migration
safe to run again); SQLite applies the whole migration in one transaction.
"""
from __future__ import annotations

from storage.ddl import Table, col

DESCRIPTION = "engine instances"

INSTANCE = 32

INSTANCES = Table(
    "instances",
    (
        col("instance", "varchar", INSTANCE, null=False),
        col("pid", "int", null=False),
        col("host", "varchar", 255, null=False),
        col("started_at", "ts", null=False),
        col("heartbeat", "ts", null=False),
    ),
    unique=(("instances_instance", ("instance",)),),
    id_column=False,
)


# table -> (indexes dropped, unique indexes created, plain indexes created)
KEYS: dict[str, tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...], tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "trades": (("trades_mode_trade_id", "idx_mode_time"),
               (("trades_instance_mode_trade_id", ("instance", "mode", "trade_id")),),
               (("trades_instance_mode_time", ("instance", "mode", "timestamp")),)),
    "positions": (("unique_symbol_mode", "positions_mode"),
                  (("positions_instance_mode_symbol", ("instance", "mode", "symbol")),), ()),
    "performance": (("unique_mode_time",),
                    (("performance_instance_mode_time", ("instance", "mode", "timestamp")),), ()),
    "signals": (("unique_symbol_time_signal", "signals_time"),
                (("signals_instance_symbol_time", ("instance", "symbol", "timestamp")),),
                (("signals_instance_time", ("instance", "timestamp")),)),
    "orders": (("orders_client_order_id", "orders_mode_time"),
               (("orders_instance_client_order_id", ("instance", "client_order_id")),),
               (("orders_instance_mode_time", ("instance", "mode", "created_at")),)),
    "order_history": (("order_history_event",),
                      (("order_history_instance_event", ("instance", "client_order_id", "status", "timestamp")),),
                      ()),
    "funding_payments": (("funding_payments_event",),
                         (("funding_payments_instance_event", ("instance", "mode", "symbol", "timestamp")),), ()),
    "audit_log": (("audit_log_event", "audit_log_time"),
                  (("audit_log_instance_event", ("instance", "event_id")),),
                  (("audit_log_instance_time", ("instance", "timestamp")),)),
    "engine_state": ((), (("engine_state_instance", ("instance",)),), ()),
}

COLUMN = col("instance", "varchar", INSTANCE, null=False, default="'default'")


def _mysql(table: str) -> str:
    dropped, unique, plain = KEYS[table]
    parts = [f"ADD COLUMN IF NOT EXISTS {COLUMN.render('mysql')}"]
    parts += [f"DROP INDEX IF EXISTS {name}" for name in dropped]
    parts += [f"ADD UNIQUE INDEX IF NOT EXISTS {name} ({', '.join(cols)})" for name, cols in unique]
    parts += [f"ADD INDEX IF NOT EXISTS {name} ({', '.join(cols)})" for name, cols in plain]
    return f"ALTER TABLE {table} " + ", ".join(parts)


def _sqlite(table: str) -> list[str]:
    dropped, unique, plain = KEYS[table]
    out = [f"ALTER TABLE {table} ADD COLUMN {COLUMN.render('sqlite')}"]
    out += [f"DROP INDEX IF EXISTS {name}" for name in dropped]
    out += [f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(cols)})" for name, cols in unique]
    out += [f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(cols)})" for name, cols in plain]
    return out


def statements(dialect: str) -> list[str]:
    out = INSTANCES.create(dialect)
    for table in KEYS:
        if dialect == "mysql":
            out.append(_mysql(table))
        else:
            out += _sqlite(table)
    return out
