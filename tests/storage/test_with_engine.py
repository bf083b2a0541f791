"""The real engine on the simulated market, writing through the store: what the store
commits and restores matches the engine's own books."""
from decimal import Decimal

import strategy
from engine.config import from_mapping
from engine.engine import Engine
from engine.events import EventBus
from engine.feeds.sim import SimFeed
from engine.wiring import venue_factory_for
from tests.storage import db
from tests.storage.db import NO_SECRETS

FAST = {"lookback_long": 20, "lookback_medium": 10, "lookback_short": 5, "funding_roll": 10, "mr_roll": 10,
        "flow_roll": 10, "perf_roll": 10, "perf_smooth_span": 5, "change_threshold_window": 5}


def config():
    return from_mapping({
        "strategy_v2": FAST, "sim": {"warmup_bars": strategy.warmup_bars(FAST), "seed": 5},
        "risk": {"daily_loss_limit": 0, "max_drawdown": 0},
        "max_position_risk_per_trade": 0.05, "max_total_risk_exposure": 0.3,
    }, "<storage test>")


async def run_engine(store, bars: int) -> Engine:
    cfg = config()
    bus = EventBus()
    store.attach(bus)
    feed = SimFeed(cfg, paced=False)
    engine: Engine | None = None
    engine = Engine(cfg, feed=feed, venue_factory=venue_factory_for(cfg, NO_SECRETS, feed, lambda: engine.market_time()),
                    bus=bus, secrets=NO_SECRETS, store=store)
    await engine.run(max_bars=bars)
    await store.flush()
    return engine


async def test_what_is_committed_is_what_the_engine_booked(store, backend):
    engine = await run_engine(store, 40)
    snap = engine.snapshot()
    assert snap.equity is not None and snap.equity.trade_count > 0, "the engine did not trade"

    state = await store.load_state("paper")
    assert {s: p.quantity for s, p in state.positions.items()} == {s: p.quantity for s, p in snap.positions.items()}
    for symbol, pos in state.positions.items():
        assert abs(pos.entry_price - snap.positions[symbol].entry_price) < Decimal("1e-12"), symbol
    eq = snap.equity
    assert state.trade_count == eq.trade_count
    assert state.realized == eq.realized and state.fees == eq.fees
    assert abs(state.funding - eq.funding) < Decimal("1e-15")  # stored to 18 places
    assert state.equity_tail[-1] == (eq.ts, eq.equity)

    orders = db.rows(backend.url, "SELECT status, COUNT(*) FROM orders GROUP BY status")
    assert dict(orders).get("filled", 0) == eq.trade_count  # every paper order fills at once
    assert db.count(backend.url, "order_history") >= 2 * eq.trade_count  # new, then filled
    signals = await store.signal_history("BTCUSDT", 5)
    assert len(signals) == 5 and signals[-1].components["bars_seen"] is not None
    controls = await store.load_controls()
    assert controls.mode == "paper" and not controls.halted
