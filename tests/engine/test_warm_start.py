"""The engine warms its strategy from the history's arrays in one pass: the same signals, orders
and state as stepping through the history minute by minute, whichever way the feed gives it."""
from datetime import timedelta

import numpy as np
import pytest

import strategy
from engine import signals
from engine.events import FillEvent
from engine.feeds.sim import SimFeed
from engine.warmup import WarmHistory
from tests.engine.support import SYMBOLS, Harness, SteppedFeed, make_config


class ArrayFeed(SteppedFeed):
    """The stepped sim feed, also offering its warm-up history as arrays (as SimFeed does)."""

    def warmup_history(self, bars: int) -> WarmHistory:
        return self.inner.warmup_history(bars)


async def test_sim_history_as_arrays_equals_its_bars():
    feed = SimFeed(make_config(universe={"symbol_list": SYMBOLS[:4]}, sim={"warmup_bars": 120}), paced=False)
    await feed.start()
    arrays = feed.warmup_history(100)
    bars = [await feed.warmup(s, 100) for s in feed.symbols]
    from_bars = WarmHistory.from_bars(feed.symbols, bars)
    assert arrays.stamps == from_bars.stamps == [b.ts for b in bars[0]]
    assert np.array_equal(arrays.fields, from_bars.fields) and arrays.present.all() and from_bars.present.all()
    inputs = arrays.strategy_inputs()
    for j, history in enumerate(bars):
        expected = np.array([[b.as_strategy_input()[c] for c in strategy.INPUT_COLUMNS] for b in history])
        assert np.array_equal(inputs[:, :, j], expected)


async def _run(feed_type, bars: int):
    harness = Harness(make_config())
    harness.feed = feed_type(harness.sim)
    harness.engine.feed = harness.feed
    async with harness:
        start = {e.symbol: dict(e.components) for e in harness.signals()}
        await harness.step(bars)
        live = [(e.symbol, e.ts, dict(e.components), e.target_notional) for e in harness.signals()]
        fills = [(f.fill.symbol, f.fill.side, f.fill.quantity, f.fill.price) for f in harness.of(FillEvent)]
        runner = harness.engine._runner
        progress = {s: runner.progress(s) for s in runner._seen}
    return start, live, fills, progress


@pytest.mark.parametrize("kernel", ["streams", "panel"])
async def test_arrays_and_bars_warm_the_same_and_equal_a_minute_by_minute_panel(kernel, monkeypatch):
    monkeypatch.setattr(signals, "STREAMS_UP_TO", 1000 if kernel == "streams" else 0)
    start_a, live_a, fills_a, progress_a = await _run(ArrayFeed, 30)
    start_b, live_b, fills_b, progress_b = await _run(SteppedFeed, 30)
    assert start_a == start_b and live_a == live_b and fills_a == fills_b and fills_a
    assert progress_a == progress_b and set(progress_a.values()) == {1.0}

    # The reference: the panel stepped cycle by cycle through the same history, as before.
    config = make_config()
    feed = SimFeed(config, paced=False)
    await feed.start()
    history = [await feed.warmup(s, 10**6) for s in feed.symbols]
    reference = strategy.FactorPanel(feed.symbols, config.strategy_params())
    for minute in zip(*history):
        out = reference.update({b.symbol: b.as_strategy_input() for b in minute})
    assert {s: dict(row) for s, row in out.items()} == start_a


async def test_the_warm_up_is_cut_into_turns_of_about_20_ms_whatever_a_minute_costs(monkeypatch):
    from engine import engine as engine_mod

    clock = [0.0]
    monkeypatch.setattr(engine_mod.time, "perf_counter", lambda: clock[0])
    harness = Harness(make_config())
    harness.feed = ArrayFeed(harness.sim)
    harness.engine.feed = harness.feed
    warm, slices = signals.StrategyRunner.warm, []

    def costly(runner, stamps, inputs, present):
        slices.append(list(stamps))
        clock[0] += 0.005 * len(stamps)  # 5 ms a minute: a big universe on the panel
        warm(runner, stamps, inputs, present)

    monkeypatch.setattr(signals.StrategyRunner, "warm", costly)
    async with harness:
        wanted = max(harness.engine.config.sim.warmup_bars, harness.engine._runner.warmup_bars)
    warmed = [ts for part in slices for ts in part]
    # Every minute of the history but the last (taken as a live one) once, in order.
    assert len(warmed) == wanted - 1 and all(b - a == timedelta(minutes=1) for a, b in zip(warmed, warmed[1:]))
    assert max(len(part) for part in slices) <= 8  # at most 40 ms a turn
    assert sum(len(part) == 4 for part in slices) > 0.9 * len(slices)  # 20 ms turns once it has measured
