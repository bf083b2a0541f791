import math
from datetime import datetime, timezone
from decimal import Decimal, localcontext

from engine.engine import EngineSnapshot
from engine.events import (EngineState, EquityUpdate, FillEvent, FundingPayment, OrderUpdate, PositionUpdate,
                           SignalBatch)
from engine.config import from_mapping
from engine.events import EventBus
from engine.model import Mode
from engine.wiring import build_engine
from tests.engine.support import NO_SECRETS, SYMBOLS, Harness, StoreStub, make_config, signals_of, signed

D = Decimal


async def test_signals_are_live_at_start_and_orders_follow_the_strategy():
    async with Harness() as h:
        start = h.collect()
        signals = {e.symbol: e for e in signals_of(start)}
        assert sorted(signals) == sorted(SYMBOLS)
        assert all(s.status == "active" and s.progress == 1.0 for s in signals.values())
        assert isinstance(start[-1], EngineState) and start[-1].mode is Mode.PAPER
        await h.step(20)
        orders = h.of(OrderUpdate)
        assert orders, "the strategy traded nothing in 20 bars"
        for o in orders:
            assert o.mode is Mode.PAPER and o.reason == "rebalance"
        sent = [o for o in orders if o.status == "new"]
        done = {o.client_order_id: o.status for o in orders if o.status != "new"}
        assert all(done[o.client_order_id] == "filled" for o in sent)
        fills = h.of(FillEvent)
        assert len(fills) == len(sent) and all(f.fill.factor is not None for f in fills)
        assert len(h.signals()) == 21 * len(SYMBOLS)
        assert len(h.of(SignalBatch)) == 21  # one at start, one per bar, each for every symbol
        assert len(h.of(EquityUpdate)) == 21


async def test_every_component_is_defined_at_start_with_the_default_configuration():
    config = from_mapping({})  # the seed's windows, sim.warmup_bars 900
    bus = EventBus()
    engine = build_engine(config, NO_SECRETS, bus)
    engine.feed.paced = False
    sub = bus.subscribe("t", coalesce=False)
    await engine.run(max_bars=1)
    signals = signals_of(sub.drain())
    first = {s.symbol: s for s in signals if s.ts == signals[0].ts}
    assert len(first) == len(SYMBOLS)
    for s in first.values():
        assert s.status == "active"
        assert len(s.components) >= 13
        assert all(math.isfinite(v) for v in s.components.values() if isinstance(v, float))


async def test_equity_identity_holds_exactly_over_many_bars_with_funding():
    # Start ten minutes before the 08:00 funding so two settlements fall inside the run.
    async with Harness(start=datetime(2026, 1, 1, 7, 50, tzinfo=timezone.utc)) as h:
        await h.step(500)
        snap = h.engine.snapshot()
        events = h.collect()
    funding = [e for e in events if isinstance(e, FundingPayment)]
    assert {e.ts for e in funding} == {datetime(2026, 1, 1, 8, tzinfo=timezone.utc),
                                       datetime(2026, 1, 1, 16, tzinfo=timezone.utc)}
    assert any(e.amount != 0 for e in funding)
    for e in funding:
        assert e.amount == -e.quantity * e.mark_price * e.rate
    equities = [e for e in events if isinstance(e, EquityUpdate)]
    assert len(equities) == 501
    with localcontext() as ctx:
        ctx.prec = 80
        for e in equities:
            assert e.equity == e.capital + e.realized + e.unrealized - e.fees + e.funding
        # The same figure from the cash ledger: every fill's cash flow, fees, funding, and what is held.
        fills = [e.fill for e in events if isinstance(e, FillEvent)]
        cash = sum((-signed(f) * f.price - f.fee for f in fills), D(0)) + sum((e.amount for e in funding), D(0))
        held = sum((p.quantity * p.mark_price for p in snap.positions.values()), D(0))
        last = snap.equity
        assert last.equity == last.capital + cash + held
        assert last.fees == sum((f.fee for f in fills), D(0))
        assert last.trade_count == len(fills)


async def test_positions_and_fills_agree_with_the_published_events():
    async with Harness() as h:
        await h.step(60)
        snap = h.engine.snapshot()
        fills = [e.fill for e in h.of(FillEvent)]
    assert isinstance(snap, EngineSnapshot)
    net: dict[str, D] = {}
    for f in fills:
        net[f.symbol] = net.get(f.symbol, D(0)) + signed(f)
    assert {s: q for s, q in net.items() if q} == {s: p.quantity for s, p in snap.positions.items()}
    assert len(snap.fills) == min(50, len(fills))
    assert snap.equity_history[-1] == (snap.equity.ts, snap.equity.equity)
    for p in snap.positions.values():
        assert isinstance(p, PositionUpdate) and p.notional == p.quantity * p.mark_price


async def test_nothing_reaches_a_consumer_before_the_ledger_has_it():
    store = StoreStub()
    async with Harness(store=store) as h:
        await h.step_until(lambda: bool(h.of(FillEvent)))
        seen = h.collect()
        durable = {id(e) for e in store.ledger.durable}
    kept = [e for e in seen if isinstance(e, (FillEvent, OrderUpdate))]
    assert kept and all(id(e) in durable for e in kept)


async def test_a_broken_ledger_stops_new_risk():
    store = StoreStub()
    store.ledger.problem = "cannot write the ledger in /x: disk full"
    async with Harness(store=store) as h:
        await h.step(30)
        orders = h.of(OrderUpdate)
    assert orders and all(o.status == "error" for o in orders if o.status != "skipped")
    assert "disk full" in orders[0].message and not h.of(FillEvent)


async def test_the_per_symbol_and_gross_caps_hold_on_every_bar():
    config = make_config(max_position_risk_per_trade=0.02, max_total_risk_exposure=0.05)
    async with Harness(config) as h:
        await h.step(80)
        equity = h.engine.snapshot().equity.equity
        positions = h.engine.snapshot().positions
        signals = h.signals()
    unit = D(5) * equity
    slack = D("1.05")  # fills move with the price after the order
    assert sum(abs(p.notional) for p in positions.values()) <= D("0.05") * unit * slack
    assert all(abs(p.notional) <= D("0.02") * unit * slack for p in positions.values())
    live = [s for s in signals if s.status == "active"]
    assert max(abs(s.target_notional) for s in live) <= D("0.02") * unit * slack


async def test_stale_data_and_gaps_are_survived_and_the_feed_state_is_published():
    async with Harness() as h:
        h.feed.inject("stale", "BTCUSDT", bars=2)
        h.feed.inject("gap", "ETHUSDT", bars=2)
        await h.step(5)
        statuses = [e.feed_status for e in h.of(EngineState)]
        assert "stale" in statuses and statuses[-1] == "live"
        eth = h.signals(symbol="ETHUSDT")
        btc = h.signals(symbol="BTCUSDT")
        assert len(btc) == 6 and len(eth) == 4  # start + 5 bars; ETH missed two minutes
        assert h.engine.started


async def test_a_real_order_leaves_only_once_its_intent_is_durable():
    from tests.engine.support import TESTNET_SECRETS

    store = StoreStub()
    async with Harness(make_config(market="binance"), secrets=TESTNET_SECRETS, store=store) as h:
        assert (await h.engine.set_mode("testnet")).ok
        venue = h.venues[Mode.TESTNET]
        original = venue.submit
        checked: list[str] = []

        async def submit(order):
            intents = [e for e in store.ledger.durable if isinstance(e, OrderUpdate) and e.status == "new"]
            assert order.client_order_id in {e.client_order_id for e in intents}
            checked.append(order.client_order_id)
            return await original(order)

        venue.submit = submit
        await h.step_until(lambda: bool(checked))
    assert checked


async def test_positions_are_published_when_they_change_and_shown_at_the_latest_marks():
    async with Harness() as h:
        await h.step(20)
        fills, positions = h.of(FillEvent), h.of(PositionUpdate)
        snap = h.engine.snapshot()
        prices = dict(h.engine.prices)
    assert fills and len(positions) == len(fills), "one per fill (the book starts flat), none for a price move"
    assert [(p.symbol, p.ts) for p in positions] == [(f.fill.symbol, f.fill.ts) for f in fills]
    assert snap.positions and all(p.mark_price == prices[s] for s, p in snap.positions.items())
