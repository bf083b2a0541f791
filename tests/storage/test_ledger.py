"""Durable events are on disk in the ledger before anyone sees them, reach the database, and
survive a kill before the database has them."""
import asyncio
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from engine.events import EventBus
from storage.ledger import LedgerJournal
from tests.storage import db, factories as f

ROOT = Path(__file__).resolve().parents[2]


async def test_a_consumer_sees_an_event_only_once_it_is_in_the_ledger(store, backend):
    bus = EventBus()
    store.attach(bus)
    desk = bus.subscribe("desk", coalesce=False)
    bus.publish(f.order("o7", "new", 1))
    bus.publish(f.fill(1))
    assert desk.drain() == []  # nothing is shown before the ledger has it
    await bus.commit()
    assert [e.kind for e in desk.drain() if e.kind != "store"] == ["order", "fill"]
    segments = sorted((backend.tmp / "journal" / "ledger").glob("ledger-*.jsonl"))
    assert segments and b'"o7"' in segments[0].read_bytes()
    await store.flush()
    assert db.rows(backend.url, "SELECT client_order_id, status FROM orders") == [("o7", "new")]
    assert db.count(backend.url, "trades") == 1
    await asyncio.sleep(0.05)  # the ledger drops what the database has, in its own thread
    assert not list((backend.tmp / "journal" / "ledger").glob("ledger-*.jsonl"))


def test_a_fill_survives_a_kill_before_the_database_has_it(backend):
    """The process dies right after the bus showed the fill; the next start puts it in `trades`, once."""
    code = textwrap.dedent(f"""
        import asyncio, os, signal
        from engine.events import EventBus
        from tests.storage import factories as f
        from tests.storage.backends import Backend
        async def main():
            b = Backend({backend.name!r}, {backend.url!r}, __import__("pathlib").Path({str(backend.tmp)!r}))
            store = b.open()
            await store.start()
            bus = EventBus()
            bus.attach_ledger(store.ledger)  # the ledger alone: the writer never gets to run
            seen = bus.subscribe("headless")
            bus.publish(f.order("o9", "filled", 1))
            bus.publish(f.fill(9))
            await bus.commit()
            assert len(seen.drain()) == 2
            os.kill(os.getpid(), signal.SIGKILL)
        asyncio.run(main())
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert db.count(backend.url, "trades") == 0

    async def restart():
        store = backend.open()
        await store.start()
        await store.close()

    asyncio.run(restart())
    asyncio.run(restart())  # a second start replays nothing twice
    assert db.rows(backend.url, "SELECT client_order_id, status FROM orders") == [("o9", "filled")]
    assert db.count(backend.url, "trades") == 1
    assert not list((backend.tmp / "journal" / "ledger").glob("ledger-*.jsonl"))


async def test_forgotten_records_keep_their_market_time_until_the_ledger_thread_notes_it(tmp_path):
    """A sim resumes after the watermark: records of an earlier run that went to the spool are
    in no database read, so the watermark must have their time from the moment they are forgotten."""
    earlier = LedgerJournal(tmp_path / "ledger")
    earlier.append(f.equity(5, "10000"))
    await earlier.sync()
    earlier.close()

    ledger = LedgerJournal(tmp_path / "ledger")
    stamped = f.at(5).replace(tzinfo=None)  # rows hold naive UTC
    assert ledger.watermark() == stamped
    gate = threading.Event()
    ledger._thread.submit(gate.wait)  # the ledger's thread is busy: the watermark file is not written yet
    try:
        ledger.forget_recovered()
        assert ledger.watermark() == stamped
    finally:
        gate.set()
        ledger.close()


async def test_a_ledger_that_fails_for_any_reason_says_so_and_still_hands_its_rows_on(tmp_path, monkeypatch):
    """Not only a full disk: whatever stops a record reaching the file must stop new risk (the
    engine reads `problem` before every order) and must not cost the rows their way to the database."""
    import storage.ledger as ledger_module

    ledger = LedgerJournal(tmp_path / "ledger")
    try:
        def refuse(rows):
            raise TypeError("a value the file cannot take")

        monkeypatch.setattr(ledger_module, "encode_rows", refuse)
        ledger.append(f.equity(5, "10000"))
        seq = await ledger.sync()
        assert seq == 1 and ledger.take_through(seq), "the rows still go on to the database"
        assert "cannot write the ledger" in ledger.problem and "TypeError" in ledger.problem

        monkeypatch.undo()
        ledger.append(f.equity(6, "10001"))
        await ledger.sync()
        assert ledger.problem == "", "writing again clears it"
    finally:
        ledger.close()
