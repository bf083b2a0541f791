"""A store writer that runs until it is killed: `python -m tests.storage.crash_child URL JOURNAL_DIR`.

It publishes the scenario's trades in bursts of five and, after each burst is durable
(flushed to the database or spooled), prints `durable <last trade> <store status>`.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from engine.events import EventBus
from tests.storage.backends import Backend
from tests.storage.scenario import trading_events

BURST = 5


async def main(url: str, journal: Path) -> None:
    store = Backend("child", url, journal.parent).open(journal=journal.name, timeout_s=0.1)
    await store.start()
    bus = EventBus()
    store.attach(bus)  # the writer task runs from here on
    i = 0
    while True:
        for event in trading_events(i, i + BURST)[0]:
            bus.publish(event)
        await store.flush()
        i += BURST
        print(f"durable {i - 1} {store.status().status}", flush=True)
        await asyncio.sleep(0)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
