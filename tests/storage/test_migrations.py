"""Migrations apply once, re-running them changes nothing, and `db check` tells the truth."""
from datetime import datetime

import pytest

from storage import StoreError, db_check, db_upgrade
from storage.migrations import LATEST_VERSION, MIGRATIONS, Migration
from storage.schema import expected_layout, migrate
from storage.signal_pack import COLUMNS
from strategy.schema import STREAM_KEYS
from tests.storage import db
from tests.storage.db import NO_SECRETS

EXPECTED_TABLES = {"schema_version", "trades", "positions", "performance", "signals", "orders",
                   "order_history", "funding_payments", "audit_log", "engine_state", "instances", "signal_minutes"}


def extra_migration(dialect: str) -> list[str]:
    return ["CREATE TABLE IF NOT EXISTS later_table (id INTEGER PRIMARY KEY)" if dialect == "sqlite"
            else "CREATE TABLE IF NOT EXISTS later_table (id BIGINT PRIMARY KEY)"]


WITH_LATER = MIGRATIONS + (Migration(LATEST_VERSION + 1, "a later change", extra_migration),)


async def test_start_applies_the_schema_once(backend):
    for _ in range(2):  # a second start finds nothing to do
        store = backend.open()
        await store.start()
        await store.close()
    versions = db.rows(backend.url, "SELECT version, description FROM schema_version")
    assert sorted(versions) == [(1, "initial schema"), (2, "engine instances"), (3, "signals packed per minute")]


def test_upgrade_then_upgrade_again(backend):
    first = db_upgrade(backend.url, NO_SECRETS)
    assert f"upgraded to version {LATEST_VERSION}" in first
    assert "nothing to do" in db_upgrade(backend.url, NO_SECRETS)
    code, report = db_check(backend.url, NO_SECRETS)
    assert code == 0, report
    assert f"schema version {LATEST_VERSION}, expected {LATEST_VERSION}: up to date, no problems" in report


def test_the_seed_tables_keep_their_columns(backend):
    db_upgrade(backend.url, NO_SECRETS)
    layout = db.with_backend(backend.url, lambda b: b.layout())
    assert EXPECTED_TABLES <= set(layout)
    seed = {
        "trades": "timestamp symbol mode order_id client_order_id side position_side order_type price quantity "
                  "quote_quantity commission commission_asset realized_pnl is_maker trade_time strategy_factor",
        "positions": "symbol mode quantity entry_price mark_price unrealized_pnl leverage initial_margin "
                     "last_update_ts",
        "performance": "timestamp mode total_equity realized_pnl_cumulative unrealized_pnl total_pnl_cumulative "
                       "total_fees_cumulative trade_count_cumulative funding_cumulative",
        "signals": "timestamp symbol raw_factor filtered_factor final_factor funding_signal mr_signal flow_signal "
                   "vol_regime trend_regime risk_scale extreme_market_factor target_position_usd",
    }
    for table, columns in seed.items():
        assert set(columns.split()) <= layout[table][0], table


def test_signals_hold_every_strategy_value():
    for columns in (expected_layout()["signals"][0], COLUMNS):  # the table before packing, and packed minutes
        missing = [k for k in STREAM_KEYS if k != "timestamp" and k not in columns]
        assert missing == []


def test_check_reports_an_out_of_date_schema_and_upgrade_fixes_it(backend):
    db_upgrade(backend.url, NO_SECRETS)
    code, report = db_check(backend.url, NO_SECRETS, migrations=WITH_LATER)
    assert code == 1
    assert f"schema version {LATEST_VERSION}, expected {LATEST_VERSION + 1}: out of date" in report
    assert "trifactor db upgrade" in report

    assert [m.version for m in db.with_backend(backend.url, lambda b: migrate(b, WITH_LATER))] == [LATEST_VERSION + 1]
    assert db.with_backend(backend.url, lambda b: migrate(b, WITH_LATER)) == []
    assert db_check(backend.url, NO_SECRETS, migrations=WITH_LATER)[0] == 0
    # This trifactor (one version behind the database) refuses to run on it.
    assert db_check(backend.url, NO_SECRETS)[0] == 1


async def test_a_newer_schema_is_refused_at_start(backend):
    db_upgrade(backend.url, NO_SECRETS)
    db.execute(backend.url, "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
               (99, "future", datetime(2030, 1, 1)))
    store = backend.open()
    with pytest.raises(StoreError, match="newer than this trifactor knows"):
        await store.start()
    await store.close()


def test_check_names_missing_columns_and_indexes(backend):
    db_upgrade(backend.url, NO_SECRETS)
    db.execute(backend.url, "DROP INDEX trades_instance_mode_time" + ("" if backend.name == "sqlite" else " ON trades"))
    db.execute(backend.url, "ALTER TABLE audit_log DROP COLUMN details")
    code, report = db_check(backend.url, NO_SECRETS)
    assert code == 1
    assert "table trades lacks index(es) trades_instance_mode_time" in report
    assert "table audit_log lacks column(s) details" in report


def test_check_of_a_missing_database(tmp_path, backend):
    url = f"sqlite:///{tmp_path / 'nothing-here.db'}" if backend.name == "sqlite" else backend.url
    code, report = db_check(url, NO_SECRETS)
    if backend.name == "sqlite":
        assert code == 2 and "no store at" in report and "nothing-here.db" in report
        assert not (tmp_path / "nothing-here.db").exists()  # checking creates nothing
    else:
        assert code == 2 and backend.database in report and "does not exist" in report
