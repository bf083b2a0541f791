"""An order intent is on disk before `record_order_intent` returns, and reaches `orders`."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from engine.events import EventBus
from engine.model import Mode
from storage.journal import Journal
from tests.storage import db, factories as f

ROOT = Path(__file__).resolve().parents[2]


async def test_an_intent_is_journaled_then_written(store, backend):
    bus = EventBus()
    store.attach(bus)
    store.record_order_intent(f.order("o7", "new", 1))
    store.record_order_intent(f.order("o8", "new", 1, mode=Mode.TESTNET))  # waits for the disk
    on_disk = Journal(backend.tmp / "journal" / "intents.jsonl")
    assert [r[0][1]["client_order_id"] for _, r in on_disk.read()] == ["o7", "o8"]
    on_disk.close()
    bus.publish(f.order("o7", "sent", 1.1))
    await store.flush()
    assert sorted(db.rows(backend.url, "SELECT client_order_id, status, mode FROM orders")) == [
        ("o7", "sent", "paper"), ("o8", "new", "testnet")]
    assert (backend.tmp / "journal" / "intents.jsonl").stat().st_size == 0  # written, so no longer needed


def test_an_intent_survives_a_kill_before_it_is_written(backend):
    """The process dies right after the intent returns; the next start puts it in `orders`."""
    journal = backend.tmp / "journal"
    code = textwrap.dedent(f"""
        import asyncio, os, signal
        from tests.storage import factories as f
        from tests.storage.backends import Backend
        async def main():
            b = Backend({backend.name!r}, {backend.url!r}, __import__("pathlib").Path({str(backend.tmp)!r}))
            store = b.open()
            await store.start()
            store.record_order_intent(f.order("o9", "new", 1))
            os.kill(os.getpid(), signal.SIGKILL)
        asyncio.run(main())
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (journal / "intents.jsonl").stat().st_size > 0
    assert db.count(backend.url, "orders") == 0

    import asyncio

    async def restart():
        store = backend.open()
        await store.start()
        await store.close()

    asyncio.run(restart())
    assert db.rows(backend.url, "SELECT client_order_id, status FROM orders") == [("o9", "new")]
    assert (journal / "intents.jsonl").stat().st_size == 0
    assert os.path.exists(journal / "spool.jsonl")
