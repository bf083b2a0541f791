"""Flatten figures against the fake exchange (real ccxt, 127.0.0.1), each with its target.

1. Fault-free, 50 open positions: from flatten_all (the key) until every close is acknowledged
   (median and worst over the rounds), until flat is confirmed, and the requests per close.
2. Through a 1 s outage of the order endpoint (every POST /fapi/v1/order answers 503): the
   time until flat is confirmed.

    python benchmarks/flatten.py [--positions 50] [--rounds 5]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.engine import Engine  # noqa: E402
from engine.events import EventBus, OrderUpdate  # noqa: E402
from engine.feeds.sim import SimFeed  # noqa: E402
from engine.model import Mode  # noqa: E402
from engine.store import RestoredControls, RestoredPosition, RestoredState  # noqa: E402
from engine.venues.binance import BinanceVenue  # noqa: E402
from engine.venues.paper import PaperVenue  # noqa: E402
from tests.fake_binance import FakeBinance  # noqa: E402
from tests.fake_binance.helpers import config_for, fake_secrets  # noqa: E402

ACK_TARGET_MS = 100.0
OUTAGE_S = 1.0
OUTAGE_TARGET_S = 3.0
QUANTITY = Decimal(100)


def verdict(value: float, target: float, ok: bool = True) -> str:
    return "PASS" if ok and value <= target else "FAIL"


class _Store:
    """Restores the positions the fake holds, paused, so the strategy sends nothing of its own."""

    def __init__(self, symbols: list[str]) -> None:
        self.state = RestoredState("testnet", {s: RestoredPosition(s, QUANTITY, Decimal(2)) for s in symbols})
        self.controls = RestoredControls(paused=frozenset(symbols))

    async def load_state(self, mode):
        return self.state if mode == self.state.mode else None

    async def load_controls(self):
        return self.controls

    def record_order_intent(self, update) -> None:
        pass


@contextlib.asynccontextmanager
async def engine_on_fake(symbols: list[str]):
    async with FakeBinance(symbols, history_bars=5) as fake:
        for s in symbols:
            fake.set_position(s, QUANTITY, 2.0)
        config = config_for(fake, symbols, trading_mode="testnet", sim={"speed": 1})
        secrets = fake_secrets()
        feed = SimFeed(config)

        def venue_for(mode):
            if mode is Mode.PAPER:
                return PaperVenue(config.paper, feed.last_price)
            return BinanceVenue(config, secrets, mode)

        bus = EventBus()
        acks: list[float] = []
        publish = bus.publish

        def noting_acks(event):
            if isinstance(event, OrderUpdate) and event.status == "filled":
                acks.append(time.perf_counter())
            publish(event)

        bus.publish = noting_acks
        engine = Engine(config, feed=feed, venue_factory=venue_for, bus=bus, secrets=secrets,
                        store=_Store(symbols))
        running = asyncio.ensure_future(engine.run())
        while not engine.started:
            if running.done():
                running.result()
            await asyncio.sleep(0.01)
        try:
            yield engine, fake, acks
        finally:
            await engine.stop()
            await running


async def reopen(engine: Engine, fake: FakeBinance, symbols: list[str]) -> None:
    """The fake holds every position again and the book adopts them, as an operator would."""
    for s in symbols:
        fake.set_position(s, QUANTITY, 2.0)
    await engine._operator.reconcile(engine.book)
    for s in symbols:
        await engine.resume(s)  # adopts the exchange's quantity
        await engine.pause(s)


async def fault_free(n_positions: int, rounds: int) -> None:
    symbols = [f"FL{i:02d}USDT" for i in range(n_positions)]
    ack_ms, confirm_ms, per_close, flat = [], [], [], True
    paths: Counter = Counter()
    async with engine_on_fake(symbols) as (engine, fake, acks):
        for n in range(rounds):
            if n:
                await reopen(engine, fake, symbols)
            acks.clear()
            sent = len(fake.requests)
            start = time.perf_counter()
            result = await engine.flatten_all()
            done = time.perf_counter()
            requests = fake.requests[sent:]
            paths.update(f"{r.method} {r.path}" for r in requests)
            flat = flat and result.ok and not fake.positions and len(acks) == n_positions
            ack_ms.append((max(acks) - start) * 1000 if acks else float("inf"))
            confirm_ms.append((done - start) * 1000)
            per_close.append(len(requests) / n_positions)
    worst = max(ack_ms)
    print(f"flatten_all, fault-free: {n_positions} positions, {rounds} rounds, "
          f"{'flat every time' if flat else 'NOT FLAT'}")
    print(f"  key to every close acknowledged: median {statistics.median(ack_ms):.1f} ms, worst {worst:.1f} ms "
          f"(target median < {ACK_TARGET_MS:g} ms, ratio {statistics.median(ack_ms) / ACK_TARGET_MS:.2f}) "
          f"{verdict(statistics.median(ack_ms), ACK_TARGET_MS, flat)}")
    print(f"  key to flat confirmed by a fresh position read: median {statistics.median(confirm_ms):.1f} ms, "
          f"worst {max(confirm_ms):.1f} ms")
    print(f"  requests per close: {statistics.median(per_close):.2f} "
          f"({', '.join(f'{p} {c / rounds / n_positions:.2f}' for p, c in sorted(paths.items()))})")


async def through_outage(n_positions: int, rounds: int) -> None:
    symbols = [f"FL{i:02d}USDT" for i in range(n_positions)]
    to_flat, attempts, flat = [], [], True
    # A fresh account each round: the retries of one round count against Binance's order rate
    # (300 per 10 s, kept by the venue's pacer), which the next round would otherwise wait for.
    for _ in range(rounds):
        async with engine_on_fake(symbols) as (engine, fake, acks):
            fake.outage("/fapi/v1/order", OUTAGE_S, method="POST")
            start = time.perf_counter()
            result = await engine.flatten_all()
            to_flat.append(time.perf_counter() - start)
            attempts.append(result.message)
            orders = Counter(o["symbol"] for o in fake.orders)
            flat = flat and result.ok and not fake.positions and set(orders.values()) == {1}
    worst = max(to_flat)
    print(f"flatten_all through a {OUTAGE_S:g} s outage of order POSTs: {n_positions} positions, {rounds} rounds, "
          f"{'flat every time, one filled close each' if flat else 'NOT FLAT'}")
    print(f"  key to flat confirmed: median {statistics.median(to_flat):.2f} s, worst {worst:.2f} s "
          f"(target < {OUTAGE_TARGET_S:g} s, ratio {worst / OUTAGE_TARGET_S:.2f}) "
          f"{verdict(worst, OUTAGE_TARGET_S, flat)}")
    print(f"  each round: {', '.join(f'{s:.2f} s' for s in to_flat)}; last answer: {attempts[-1]}")


async def main() -> None:
    logging.getLogger().addHandler(logging.NullHandler())  # the engine's warnings are not figures
    logging.getLogger().setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--positions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    await fault_free(args.positions, args.rounds)
    await through_outage(args.positions, max(1, args.rounds // 2))


if __name__ == "__main__":
    asyncio.run(main())
