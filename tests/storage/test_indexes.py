"""The desk's and `trifactor status`'s reads use their indexes (no table scan, no sort), so
they stay fast with a year of 1-minute data for 50 symbols (see benchmarks/storage.py)."""
import pytest

from engine.events import EventBus
from engine.model import Mode
from storage.reads import INDEXED_READS
from tests.storage import db, factories as f

EXPECTED_INDEX = {
    "last_trades": ("trades", "idx_mode_time"),
    "positions": ("positions", "positions_mode"),
    "equity_history": ("performance", "unique_mode_time"),
    "signal_history": ("signals", "unique_symbol_time_signal"),
    "recent_audit": ("audit_log", "audit_log_time"),
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
    await store.flush()
    tables = ", ".join(t for t, _ in EXPECTED_INDEX.values())
    if backend.name == "sqlite":
        db.execute(backend.url, "ANALYZE")
    else:
        db.rows(backend.url, f"ANALYZE TABLE {tables}")
    return backend


@pytest.mark.parametrize("read", sorted(INDEXED_READS))
def test_read_uses_its_index(filled, read):
    sql, params = INDEXED_READS[read]
    table, index = EXPECTED_INDEX[read]
    if filled.name == "sqlite":
        plan = " | ".join(r[-1] for r in db.rows(filled.url, "EXPLAIN QUERY PLAN " + sql, params))
        assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
        assert "TEMP B-TREE" not in plan and f"SCAN {table}" not in plan.replace(f"SCAN {table} USING", ""), plan
    else:
        [row] = db.rows(filled.url, "EXPLAIN " + sql, params)
        possible, key, extra, access = row[4] or "", row[5], row[9] or "", row[3]
        if read == "positions":
            # At most (symbols x 3 modes) rows, a third or more of them matching: MariaDB rightly
            # prefers reading the whole small table; the index is there for it to choose.
            assert index in possible.split(","), row
            return
        assert key == index, row
        assert "filesort" not in extra and access != "ALL", row
