"""The database goes away mid-run and comes back: trading data is spooled, then replayed,
with nothing lost and nothing doubled."""
import asyncio
from decimal import Decimal

import pytest

from engine.events import EventBus, StoreStatus
from storage.errors import StoreError
from tests.storage import db
from tests.storage.outages import WritesBlocked
from tests.storage.publishing import publish
from tests.storage.scenario import trading_events


async def test_outage_loses_nothing_and_doubles_nothing(backend, outage):
    store = backend.open(outage.url, timeout_s=0.3)
    await store.start()
    bus = EventBus()
    desk = bus.subscribe("desk", coalesce=False)
    store.attach(bus)
    for e in trading_events(0, 40)[0]:
        bus.publish(e)
    await store.flush()
    assert store.status().status == "up"

    await outage.cut()
    for e in trading_events(40, 120)[0]:
        bus.publish(e)
    await store.flush()
    status = store.status()
    assert status.status == "degraded" and status.spooled == 80 * 4, status
    for e in trading_events(120, 150)[0]:
        bus.publish(e)
    await store.flush()
    assert store.status().spooled == 110 * 4

    await outage.restore()
    await store.flush()
    assert store.status() == StoreStatus("up")
    events, held = trading_events(150, 150)
    await store.close()

    assert db.count(backend.url, "trades") == 150
    assert len({r[0] for r in db.rows(backend.url, "SELECT trade_id FROM trades")}) == 150
    assert len(db.stored_signals(backend.url)) == 150 and db.count(backend.url, "performance") == 150
    stored = dict(db.rows(backend.url, "SELECT symbol, quantity FROM positions"))
    assert {s: Decimal(str(q)) for s, q in stored.items()} == held
    statuses = [e.status for e in desk.drain() if isinstance(e, StoreStatus)]
    assert statuses[0] == "up" and statuses[-1] == "up" and "degraded" in statuses
    assert (backend.tmp / "journal" / "spool.jsonl").stat().st_size == 0


async def test_the_writer_task_recovers_on_its_own(backend, outage):
    store = backend.open(outage.url, timeout_s=0.3, retry_interval_s=0.05)
    await store.start()
    bus = EventBus()
    desk = bus.subscribe("desk", coalesce=False)
    store.attach(bus)
    await outage.cut()
    for e in trading_events(0, 30)[0]:
        bus.publish(e)

    async def wait_for(status: str) -> None:
        while True:
            await desk.get_batch()  # wakes on every event; the store status is what we wait for
            if store.status().status == status:
                return

    await asyncio.wait_for(wait_for("degraded"), timeout=30)
    await outage.restore()
    await asyncio.wait_for(wait_for("up"), timeout=30)
    await store.close()
    assert db.count(backend.url, "trades") == 30


def kill_connections(backend) -> int:
    """KILL every connection to the test's database from a second connection."""
    with backend.server.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()",
                    (backend.database,))
        ids = [r[0] for r in cur.fetchall()]
        for i in ids:
            cur.execute(f"KILL CONNECTION {int(i)}")
    return len(ids)


async def test_killed_connections_are_replaced_without_spooling(mariadb_backend):
    backend = mariadb_backend
    store = backend.open()
    await store.start()
    bus = await publish(store, *trading_events(0, 20)[0])
    assert len(await store.last_trades(5, "paper")) == 5  # the reader has a connection too
    assert kill_connections(backend) == 3  # "server has gone away" for the writer, the reader and the instance lock
    for e in trading_events(20, 40)[0]:
        bus.publish(e)
    await store.flush()
    assert store.status() == StoreStatus("up")  # reconnected and retried: nothing spooled
    assert len(await store.last_trades(100, "paper")) == 40
    await store.close()
    assert db.count(backend.url, "trades") == 40


async def test_a_restart_reads_no_book_back_before_the_spooled_rows_are_in(mariadb_backend):
    """The server answers after a restart but cannot take the replay yet (its writes time out):
    the book it holds is older than the fills already shown, so it is not read back until it has them.
    (An SQLite file whose writes are locked cannot be opened at all.)"""
    backend = mariadb_backend
    blocked = WritesBlocked(backend)
    first = backend.open(timeout_s=0.3)
    await first.start()
    bus = await publish(first, *trading_events(0, 10)[0])
    await blocked.cut()
    try:
        for e in trading_events(10, 20)[0]:
            bus.publish(e)
        await first.flush()
        assert first.status().status == "degraded"
        await first.close()

        second = backend.open(timeout_s=0.3)
        await second.start()
        try:
            with pytest.raises(StoreError, match="wait to be written"):
                await second.load_state("paper")
        finally:
            await blocked.restore()
        await second.flush()
        assert second.status() == StoreStatus("up")
        state = await second.load_state("paper")
        await second.close()
    finally:
        if blocked.conn is not None:
            await blocked.restore()
    _, held = trading_events(0, 20)
    assert state.trade_count == 20
    assert {s: p.quantity for s, p in state.positions.items()} == {s: q for s, q in held.items() if q}
