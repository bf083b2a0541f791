"""A store written before instances existed (schema v0001) upgrades in place: every row is
kept and belongs to the default instance, which restores exactly what it had."""
from decimal import Decimal

import pytest

from engine.model import Side
from storage import db_check
from storage.migrations import v0002_instances
from engine.events import SignalBatch
from storage.migrations import LATEST_VERSION
from storage.rows import rows_for, signals_table_rows
from storage.schema import migrate, problems
from storage.statements import SPECS
from tests.storage import db, factories as f
from tests.storage.db import NO_SECRETS
from tests.storage.publishing import publish

BOOK_TABLES = ("trades", "positions", "performance", "signals", "orders", "order_history", "funding_payments",
               "audit_log", "engine_state")
OLD_EVENTS = [
    f.fill(1, "BTCUSDT", Side.BUY, "0.002", "50000"), f.fill(2, "ETHUSDT", Side.SELL, "0.5", "3000"),
    f.position("BTCUSDT", "0.002", 2), f.equity(2, "10010", trades=2), f.signal("BTCUSDT", 2),
    f.order("cid-1", "filled", 1, exchange_id="X1"), f.funding("BTCUSDT", 480, "-0.5"),
    f.command("pause", 3, symbol="SOLUSDT"), f.engine_state(3, paused=frozenset({"SOLUSDT"}), halted=True,
                                                             reason="max drawdown"),
]


def write_v0001_store(url: str) -> None:
    """A database as trifactor wrote it before v0002: its schema, and rows without an instance."""
    db.create_at_version(url, 1)
    for event in OLD_EVENTS:
        rows = (signals_table_rows(event.updates[0]) if isinstance(event, SignalBatch)
                else rows_for(event, "default"))
        for kind, values in rows:
            columns = [c for c in SPECS[kind].columns if c != "instance"]
            if kind == "state":
                columns.insert(0, "id")
                values = {**values, "id": 1}
            db.execute(url, f"INSERT INTO {SPECS[kind].table} ({', '.join(columns)}) "
                            f"VALUES ({', '.join('?' for _ in columns)})", tuple(values[c] for c in columns))


async def test_a_v0001_store_upgrades_in_place_keeping_every_row(backend):
    write_v0001_store(backend.url)
    before = {t: db.count(backend.url, t) for t in BOOK_TABLES}
    assert all(before.values()), before
    code, report = db_check(backend.url, NO_SECRETS)
    assert code == 1 and f"schema version 1, expected {LATEST_VERSION}: out of date" in report

    store = backend.open()
    await store.start()  # migrates
    try:
        assert {t: db.count(backend.url, t) for t in BOOK_TABLES} == before
        for table in BOOK_TABLES:
            assert db.rows(backend.url, f"SELECT DISTINCT instance FROM {table}") == [("default",)], table
        state = await store.load_state("paper")
        assert state.trade_count == 2 and state.positions["BTCUSDT"].quantity == Decimal("0.002")
        assert state.positions["ETHUSDT"].quantity == Decimal("-0.5") and state.funding == Decimal("-0.5")
        controls = await store.load_controls()
        assert controls.paused == {"SOLUSDT"} and controls.halted and controls.halt_reason == "max drawdown"
        assert [a.command for a in await store.recent_audit(5)] == ["pause"]
        [signal] = await store.signal_history("BTCUSDT", 5)  # from the signals table: written before packing
        assert signal.ts == f.at(2) and signal.final_factor == 0.1 and signal.components["funding_z"] == 1.5

        # The upgraded rows take part in the new keys: the same fill again is the same row, a new one is added,
        # and the engine state is updated in place rather than duplicated.
        await publish(store, f.fill(1, "BTCUSDT", Side.BUY, "0.002", "50000"), f.fill(3), f.engine_state(4))
        assert store.status().message == ""
        assert db.count(backend.url, "trades") == 3 and db.count(backend.url, "engine_state") == 1
        assert not (await store.load_controls()).halted
    finally:
        await store.close()
    assert db_check(backend.url, NO_SECRETS)[0] == 0


# The re-run's notes ("check that it exists", "Duplicate key name") are what it is about.
@pytest.mark.filterwarnings("ignore:.*(check that it exists|Duplicate key name|Duplicate column name|already exists)")
def test_the_instances_migration_runs_again_after_a_partial_apply(backend):
    """MariaDB's DDL is not transactional: a migration cut off half-way is simply applied again."""
    write_v0001_store(backend.url)
    if backend.name == "mysql":
        first_tables = v0002_instances.statements("mysql")[:3]  # the instances table and two ALTERs
        for statement in first_tables:
            db.execute(backend.url, statement)

    def upgrade(b):
        return [m.version for m in migrate(b)], problems(b)

    assert db.with_backend(backend.url, upgrade) == ([2, 3], [])
    assert db.rows(backend.url, "SELECT instance FROM trades") == [("default",), ("default",)]
