"""What the durable ledger costs: the engine with the SQLite store attached, per live bar,
with the write-ahead ledger (today's path) and without it (the old write-behind path, where
events reached the store's writer and the desk before anything was on disk).

Per run: process CPU per bar (all threads: engine, ledger, store writer) and wall time per
bar, unthrottled. The ratio ledger/old is the price of "nothing is shown before it is on disk".

    python benchmarks/ledger.py [--bars 120] [--symbols 8 500]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import StorageConfig, from_mapping  # noqa: E402
from engine.events import EventBus  # noqa: E402
from engine.secrets import Secrets  # noqa: E402
from engine.wiring import build_engine  # noqa: E402
from storage import open_store  # noqa: E402


async def one_run(n_symbols: int, bars: int, ledger: bool) -> tuple[float, float, int]:
    symbols = [f"S{i:03d}USDT" for i in range(n_symbols)] if n_symbols > 8 else None
    settings: dict = {"sim": {"speed": 1000}, "max_total_risk_exposure": 5, "max_position_risk_per_trade": 0.5}
    if symbols:
        settings["universe"] = {"symbol_list": symbols}
    config = from_mapping(settings)
    secrets = Secrets.load(environ={})
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.db", StorageConfig(), secrets)
        await store.start()
        bus = EventBus()
        store.attach(bus)
        if not ledger:
            bus.attach_ledger(None)  # the old path: straight to the writer and every consumer
        engine = build_engine(config, secrets, bus, store=store)
        engine.feed.paced = False
        desk = bus.subscribe("desk", coalesce=True)
        live: dict[str, float] = {}
        original = engine._live_loop

        async def measured(max_bars):
            live["cpu0"], live["wall0"] = time.process_time(), time.perf_counter()
            try:
                await original(max_bars)
                await store.flush()
            finally:
                live["cpu1"], live["wall1"] = time.process_time(), time.perf_counter()

        async def drain():
            while True:
                await asyncio.sleep(0.1)
                desk.drain()

        engine._live_loop = measured
        drainer = asyncio.ensure_future(drain())
        await engine.run(max_bars=bars)
        drainer.cancel()
        trades = engine.snapshot().equity.trade_count
        await store.close()
    return ((live["cpu1"] - live["cpu0"]) / bars * 1000, (live["wall1"] - live["wall0"]) / bars * 1000, trades)


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bars", type=int, default=120)
    p.add_argument("--symbols", type=int, nargs="+", default=[8, 500])
    args = p.parse_args()
    logging.disable(logging.WARNING)
    for n in args.symbols:
        old_cpu, old_wall, old_trades = await one_run(n, args.bars, ledger=False)
        new_cpu, new_wall, new_trades = await one_run(n, args.bars, ledger=True)
        print(f"{n} symbols, {args.bars} live bars, all trading (trades: old {old_trades}, ledger {new_trades})")
        print(f"  CPU per bar, all threads: old {old_cpu:.2f} ms, ledger {new_cpu:.2f} ms "
              f"(ratio {new_cpu / old_cpu:.2f}, +{new_cpu - old_cpu:.2f} ms)")
        print(f"  wall per bar: old {old_wall:.2f} ms, ledger {new_wall:.2f} ms "
              f"(ratio {new_wall / old_wall:.2f}, +{new_wall - old_wall:.2f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
