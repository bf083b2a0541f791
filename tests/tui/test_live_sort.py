"""The chosen sort holds at every update, and equal values never swap places."""
from __future__ import annotations

import asyncio

from tests.tui.conftest import press, until
from tests.tui.fake_engine import FakeEngine
from tests.tui.test_desk_failures import desk
from tui.widgets.signals import SORTS, sorted_symbols

SYMBOLS = tuple(f"S{n:02d}USDT" for n in range(12))


def order_now(table) -> list[str]:
    return [row.key.value for row in table.ordered_rows]


async def test_return_sort_holds_at_every_update(tmp_path):
    engine = FakeEngine(symbols=SYMBOLS)
    app = desk(tmp_path, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.desk.signals
        await until(pilot, lambda: table.row_count == len(SYMBOLS), "every symbol shows")
        wanted = next(n for n, (column, _, _) in enumerate(SORTS) if column.key == "ret")
        await press(pilot, *["s"] * wanted)
        await until(pilot, lambda: table.sort_index == wanted, "sorted by return")
        _, value, _ = SORTS[wanted]
        seen = set()
        for _ in range(40):
            bars = engine.bars
            await until(pilot, lambda: engine.bars > bars, "another bar")
            rets = [value(table.latest[s]) for s in order_now(table)]
            assert rets == sorted(rets, reverse=True), "every sample is in order"
            seen.add(tuple(order_now(table)))
            await asyncio.sleep(0.01)
        assert len(seen) > 1, "the order followed the values as they changed"


def test_equal_values_keep_the_symbols_order():
    engine = FakeEngine(symbols=("B", "A", "C"))
    sub = engine.bus.subscribe("t", coalesce=False)
    engine.bars = 10
    engine.step()
    signals = [u for e in sub.drain() if type(e).__name__ == "SignalBatch" for u in e.updates]
    same = [s._replace(ret=0.0) for s in signals]
    by_return = next(n for n, (column, _, _) in enumerate(SORTS) if column.key == "ret")
    assert sorted_symbols({s.symbol: s for s in same}, by_return) == ["A", "B", "C"]
