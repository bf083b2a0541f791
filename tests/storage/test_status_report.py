"""`trifactor status`: what the store holds, read from a second process while the app writes."""
import subprocess
import sys
from pathlib import Path

import pytest

from engine.events import EventBus
from engine.model import Side
from storage import StoreError, status_report
from storage.migrations import LATEST_VERSION
from tests.storage import db, factories as f
from tests.storage.db import NO_SECRETS

ROOT = Path(__file__).resolve().parents[2]


async def fill_store(store):
    bus = EventBus()
    store.attach(bus)
    for e in (f.fill(1, "BTCUSDT", Side.BUY, "0.002", "50000"), f.fill(2, "ETHUSDT", Side.SELL, "0.5", "3000.5"),
              f.position("BTCUSDT", "0.002", 2, entry="50000", mark="50100"),
              f.position("ETHUSDT", "-0.5", 2, entry="3000.5", mark="3000"),
              f.equity(2, "10012.5", peak="10020"), f.signal("BTCUSDT", 2, 0.35), f.signal("ETHUSDT", 2, -0.2),
              f.engine_state(2, halted=True, reason="daily loss limit", paused=frozenset({"SOLUSDT", "XRPUSDT"}))):
        bus.publish(e)
    await store.flush()


async def test_report_from_a_second_process_while_the_store_is_open(store, backend):
    await fill_store(store)
    code = f"from storage import status_report; from tests.storage.db import NO_SECRETS; " \
           f"print(status_report({backend.url!r}, NO_SECRETS))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "mode    paper" in text
    assert "halt    HALTED (daily loss limit)" in text
    assert "paused  SOLUSDT, XRPUSDT" in text
    assert "10,012.50 USDT" in text and "peak 10,020.00" in text
    assert "positions (paper): 2" in text and "0.002" in text and "-0.5" in text
    assert "last trades (paper): 2" in text and "3000.5" in text
    assert text.index("ETHUSDT       SELL") < text.index("BTCUSDT       BUY")  # newest first
    assert "signals at 2025-03-01 00:02:00 UTC: 2 symbols (active 2)" in text  # the packed minute, read back
    assert "BTCUSDT       active                     +0.3500        +0.3500        123.45" in text


def test_report_of_an_empty_store(backend):
    from storage import db_upgrade
    db_upgrade(backend.url, NO_SECRETS)
    text = status_report(backend.url, NO_SECRETS)
    assert "engine  no state recorded yet" in text
    assert "equity (paper): no data yet" in text and "positions (paper): none" in text
    assert "signals: none stored yet" in text


def test_report_when_there_is_no_store_yet(tmp_path):
    missing = tmp_path / "never" / "trifactor.db"
    with pytest.raises(StoreError, match="no store at sqlite:///.*never/trifactor.db"):
        status_report(f"sqlite:///{missing}", NO_SECRETS)
    assert not missing.parent.exists()  # reading creates nothing


async def test_report_is_callable_from_async_code(store, backend):
    await fill_store(store)
    assert "positions (paper): 2" in status_report(backend.url, NO_SECRETS)


async def test_report_takes_the_latest_equity_by_market_time_and_counts_the_trades_table(store, backend):
    bus = EventBus()
    store.attach(bus)
    # Inserted out of market-time order, and with a stale cumulative trade count in the equity row.
    for e in (f.equity(50, "10050", trades=0), f.equity(1, "10000", trades=0), f.fill(1), f.fill(2), f.fill(3)):
        bus.publish(e)
    await store.flush()
    text = status_report(backend.url, NO_SECRETS)
    assert "equity (paper) at 2025-03-01 00:50:00 UTC: 10,050.00 USDT" in text
    assert "trades 3" in text


def test_report_of_a_store_before_instances_asks_for_an_upgrade(backend):
    db.create_at_version(backend.url, 1)
    with pytest.raises(StoreError, match=f"schema version 1, expected {LATEST_VERSION}: run `trifactor db upgrade`"):
        status_report(backend.url, NO_SECRETS)
