"""The desk's and `trifactor status`'s reads use their indexes (no table scan, no sort), so
they stay fast with a year of 1-minute data for 50 symbols (see benchmarks/storage.py)."""
import pytest

from engine.events import EventBus
from engine.model import Mode
from storage.reads import INDEXED_READS
from storage.rows import rows_for_events
from tests.storage import db, factories as f

EXPECTED_INDEX = {
    "last_trades": ("trades", "trades_instance_mode_time"),
    "trade_count": ("trades", ("trades_instance_mode_trade_id", "trades_instance_mode_time")),  # either covers it
    "positions": ("positions", "positions_instance_mode_symbol"),
    "equity_history": ("performance", "performance_instance_mode_time"),
    "signal_minutes": ("signal_minutes", "signal_minutes_instance_time"),
    "signal_minutes_before": ("signal_minutes", "signal_minutes_instance_time"),
    "signal_rows_before": ("signals", "signals_instance_symbol_time"),
    "recent_audit": ("audit_log", "audit_log_instance_time"),
    "recent_orders": ("orders", "orders_instance_mode_time"),
}


@pytest.fixture
async def filled(store, backend):
    bus = EventBus()
    store.attach(bus)
    symbols = [f"SYM{i}USDT" for i in range(20)]
    for minute in range(40):
        for s in symbols:
            bus.publish(f.signal(s, minute))
        for mode in Mode:
            bus.publish(f.fill(minute * 10 + list(Mode).index(mode), symbols[minute % 20], mode=mode, minute=minute))
            bus.publish(f.equity(minute, "10000", mode=mode))
            bus.publish(f.position(symbols[minute % 20], "1", minute, mode=mode))
    # Tables small enough for a scan to win are filled to a realistic size: 500 symbols' positions
    # in each mode, a few thousand operator actions.
    for i in range(500):
        for mode in Mode:
            bus.publish(f.position(f"S{i}USDT", "1", i, mode=mode))
    for minute in range(3000):
        bus.publish(f.command("pause", minute, symbol=symbols[0]))
        bus.publish(f.order(f"o{minute}", "skipped", minute, mode=list(Mode)[minute % 3]))
    await store.flush()
    # Bars from before signals were packed, in the signals table's own rows.
    legacy = [("signal", {"instance": "default", "timestamp": f.at(minute - 100).replace(tzinfo=None), "symbol": s,
                          "final_factor": 0.1, "status": "active"})
              for minute in range(40) for s in symbols]
    # A realistic number of packed minutes for a read of the newest 500.
    packed = rows_for_events([f.signal(s, minute) for minute in range(40, 1000) for s in symbols[:2]], "default")
    db.with_backend(backend.url, lambda b: b.write(legacy + packed))
    tables = ", ".join(sorted({t for t, _ in EXPECTED_INDEX.values()}))
    if backend.name == "sqlite":
        db.execute(backend.url, "ANALYZE")
    else:
        db.rows(backend.url, f"ANALYZE TABLE {tables}")
    return backend


def plan_problem(backend, read: str) -> str | None:
    """Why this read's plan is not an index read, or None."""
    sql, params = INDEXED_READS[read]
    table, index = EXPECTED_INDEX[read]
    allowed = index if isinstance(index, tuple) else (index,)
    if backend.name == "sqlite":
        plan = " | ".join(r[-1] for r in db.rows(backend.url, "EXPLAIN QUERY PLAN " + sql, params))
        uses = any(f"USING INDEX {i}" in plan or f"USING COVERING INDEX {i}" in plan for i in allowed)
        scans = "TEMP B-TREE" in plan or f"SCAN {table}" in plan.replace(f"SCAN {table} USING", "")
        return None if uses and not scans else plan
    [row] = db.rows(backend.url, "EXPLAIN " + sql, params)
    possible, key, extra, access = row[4] or "", row[5], row[9] or "", row[3]
    if read == "positions":
        # At most (symbols x 3 modes) rows, a third or more of them matching: MariaDB rightly
        # prefers reading the whole small table; the index is there for it to choose.
        return None if index in possible.split(",") else str(row)
    return None if key in allowed and "filesort" not in extra and access != "ALL" else str(row)


def test_every_read_uses_its_index(filled):
    assert set(INDEXED_READS) == set(EXPECTED_INDEX)
    problems = {read: plan_problem(filled, read) for read in sorted(INDEXED_READS)}
    assert {read: p for read, p in problems.items() if p} == {}
