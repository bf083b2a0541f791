"""Signals older than the retention period are deleted; everything else stays."""
from datetime import timedelta

from engine.events import EventBus
from storage import db_upgrade, retention
from storage.rows import rows_for_events
from tests.storage.db import NO_SECRETS
from storage.codec import to_utc
from tests.storage import db, factories as f


async def test_old_signals_go_at_start(backend):
    store = backend.open(retention_days=0)  # keep everything while filling
    await store.start()
    bus = EventBus()
    store.attach(bus)
    for minute in range(0, 60 * 24 * 3, 60):  # three days of hourly signals, two symbols
        bus.publish(f.signal("BTCUSDT", minute))
        bus.publish(f.signal("ETHUSDT", minute))
        bus.publish(f.fill(minute))
    await store.flush()
    await store.close()
    assert len(db.stored_signals(backend.url)) == 144

    # The newest signal is at T0 + 71 h; keeping 34.5 hours back from it keeps
    # what is newer than T0 + 36.5 h. Counting from market time, not the wall clock, is what
    # lets a simulated market on its own clock keep its history.
    keep_days = (f.at(71 * 60) - f.at(36.5 * 60)) / timedelta(days=1)
    store = backend.open(retention_days=keep_days)
    await store.start()
    await store.close()
    left = [ts for symbol, ts, _ in db.stored_signals(backend.url) if symbol == "BTCUSDT"]
    assert len(left) == 35 and min(to_utc(t) for t in left) == f.at(37 * 60)  # hours 37..71
    assert db.count(backend.url, "trades") == 72  # only signals have a retention period


def test_cutoff():
    assert retention.cutoff(0) is None
    now = f.T0
    assert retention.cutoff(30, now) == now - timedelta(days=30)


def test_chunked_delete(backend):
    """Packed minutes and the signals table's rows from before packing both age out."""
    db_upgrade(backend.url, NO_SECRETS)
    sql = "INSERT INTO signals (timestamp, symbol) VALUES (?, ?)"
    for minute in range(25):
        db.execute(backend.url, sql, (f.at(minute - 100), "BTCUSDT"))
    packed = [row for minute in range(25) for row in rows_for_events([f.signal("BTCUSDT", minute)], "default")]
    db.with_backend(backend.url, lambda b: b.write(packed))
    deleted = db.with_backend(backend.url, lambda b: retention.delete_old_signals(b, f.at(20), chunk=3))
    assert deleted == 45 and db.count(backend.url, "signals") == 0 and db.count(backend.url, "signal_minutes") == 5
    assert db.with_backend(backend.url, retention.newest_signal_time) == f.at(24)
