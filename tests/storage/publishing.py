"""Handing events to a test's store, and watching how it writes them."""
from __future__ import annotations

from engine.events import EventBus


async def publish(store, *events) -> EventBus:
    """Publish `events` on a bus the store is attached to, then flush."""
    bus = EventBus()
    store.attach(bus)
    for e in events:
        bus.publish(e)
    await store.flush()
    return bus


def count_transactions(store, monkeypatch) -> list[int]:
    """The number of rows of each write transaction the store makes from now on."""
    transactions: list[int] = []
    real_write = store._write_backend.write

    def counting_write(rows):
        transactions.append(len(rows))
        real_write(rows)

    monkeypatch.setattr(store._write_backend, "write", counting_write)
    return transactions
