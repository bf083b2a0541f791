"""`trifactor backtest --db URL`: a backtest's fills, funding, final positions and equity into a store.

The rows go through the store's own writer (the same tables as a paper run: trades, funding,
positions, performance), so `trifactor status --db URL` shows the backtest's book. A backtest
is never written into the engine's own store, whose paper book the next session restores.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from engine.config import Config
from engine.events import EquityUpdate, EventBus, FillEvent, PositionUpdate
from engine.model import Mode
from engine.secrets import Secrets


def record(result, url: str, cfg: Config, secrets: Secrets) -> int:
    """Write the backtest into the store at `url`; returns the number of events written."""
    return asyncio.run(_record(result, url, cfg, secrets))


async def _record(result, url: str, cfg: Config, secrets: Secrets) -> int:
    import storage

    outcome, data = result.outcome, result.data
    end = data.time(len(data.times) - 1) + timedelta(minutes=1)
    events = [FillEvent(fill) for _, fill in outcome.recorded.fills]
    events += [payment for _, payment in outcome.recorded.funding]
    events.sort(key=lambda e: e.fill.ts if isinstance(e, FillEvent) else e.ts)
    for symbol, (quantity, mark, unrealized) in outcome.positions.items():
        entry = mark - unrealized / quantity if quantity else Decimal(0)
        events.append(PositionUpdate(Mode.PAPER, symbol, quantity, entry, mark, unrealized, cfg.leverage, end))
    peak = max(Decimal(repr(float(result.curve.equity.max()))), outcome.final_equity)
    unrealized = sum((u for _, _, u in outcome.positions.values()), Decimal(0))
    events.append(EquityUpdate(Mode.PAPER, end, outcome.final_equity, outcome.capital, outcome.realized, unrealized,
                               outcome.fees, outcome.funding, peak, (peak - outcome.final_equity) / peak,
                               len(outcome.recorded.fills)))
    store = storage.open_store(url, cfg.storage, secrets)
    bus = EventBus()
    await store.start()
    try:
        store.attach(bus)
        for event in events:
            bus.publish(event)
        await bus.commit()
    finally:
        await store.close()
    return len(events)
