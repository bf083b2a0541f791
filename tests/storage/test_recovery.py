"""The engine's state at start, rebuilt from the committed rows."""
from datetime import datetime, timezone
from decimal import Decimal

from engine.events import EventBus
from engine.model import Mode, Side
from storage import recovery
from tests.storage import db, factories as f
from tests.storage.publishing import publish


def test_positions_through_adds_reductions_and_flips_keep_the_exact_cost():
    def after(*fills):
        return recovery.positions_from_fills([("BTCUSDT", side, Decimal(q), Decimal(p)) for side, q, p in fills])

    [pos] = after(("BUY", "1", "100"), ("BUY", "1", "110")).values()
    assert (pos.quantity, pos.entry_price, pos.cost) == (Decimal(2), Decimal(105), Decimal(210))
    [pos] = after(("BUY", "1", "100"), ("BUY", "1", "110"), ("SELL", "0.5", "120")).values()
    assert (pos.quantity, pos.entry_price) == (Decimal("1.5"), Decimal(105))  # reducing keeps the entry
    [pos] = after(("BUY", "1.5", "105"), ("SELL", "2", "90")).values()
    assert (pos.quantity, pos.entry_price) == (Decimal("-0.5"), Decimal(90))  # flipped: the rest opened at 90
    assert after(("SELL", "0.5", "90"), ("BUY", "0.5", "80")) == {}
    # An entry that does not terminate: the cost stays what the fills left, with no more places.
    [pos] = after(("BUY", "0.003", "97000.1"), ("BUY", "0.007", "97001.3"), ("SELL", "0.001", "97100")).values()
    assert pos.cost.as_tuple().exponent >= -18 and pos.quantity == Decimal("0.009")


async def test_nothing_stored_means_nothing_restored(store):
    assert await store.load_state("paper") is None
    assert await store.load_controls() is None


async def test_state_from_fills_funding_and_equity(store, backend):
    bus = EventBus()
    store.attach(bus)
    events = [
        f.fill(1, "BTCUSDT", Side.BUY, "0.002", "50000", fee="0.05"),
        f.fill(2, "BTCUSDT", Side.BUY, "0.001", "53000", fee="0.03"),
        f.fill(3, "BTCUSDT", Side.SELL, "0.001", "52000", fee="0.03", pnl="1"),
        f.fill(4, "ETHUSDT", Side.SELL, "0.5", "3000", fee="0.75"),
        f.fill(5, "SOLUSDT", Side.BUY, "2", "150", fee="0.15"),
        f.fill(6, "SOLUSDT", Side.SELL, "2", "155", fee="0.155", pnl="10"),
        f.fill(7, "BTCUSDT", Side.BUY, "1", "60000", mode=Mode.LIVE),  # another mode: not counted
        f.funding("BTCUSDT", 0, "-0.1"), f.funding("BTCUSDT", 480, "-0.3"), f.funding("ETHUSDT", 480, "0.15"),
        f.funding("BTCUSDT", 960, "-9", mode=Mode.LIVE),  # another mode's funding time
        f.position("BTCUSDT", "0.0025", 3),  # a snapshot behind the fills: the fills decide
    ]
    # Equity: yesterday (relative to "now" below) ended at 10005; today's points follow.
    events += [f.equity(1, "10000", peak="10000"), f.equity(60 * 23, "10020", peak="10020"),
               f.equity(60 * 24 - 1, "10005", peak="10020"), f.equity(60 * 25, "10010", peak="10020")]
    for e in events:
        bus.publish(e)
    await store.flush()
    now = datetime(2025, 3, 2, 12, tzinfo=timezone.utc)  # the day after T0
    state = db.with_backend(backend.url, lambda b: recovery.load_state(b, "paper", now=now))
    assert set(state.positions) == {"BTCUSDT", "ETHUSDT"}  # SOL is flat
    btc = state.positions["BTCUSDT"]
    assert btc.quantity == Decimal("0.002")
    assert btc.entry_price == Decimal("51000")  # (0.002*50000 + 0.001*53000)/0.003, kept by the reduction
    assert state.positions["ETHUSDT"].quantity == Decimal("-0.5")
    assert state.realized == Decimal(11) and state.fees == Decimal("1.165")
    assert state.funding == Decimal("-0.25") and state.trade_count == 6
    assert state.last_funding_at == f.at(480)  # the newest funding time this mode settled
    assert state.peak_equity == Decimal(10020)
    assert state.day_open_equity == Decimal(10005)
    assert [v for _, v in state.equity_tail] == [Decimal(x) for x in ("10000", "10020", "10005", "10010")]
    assert state.equity_tail[0][0] == f.at(1)
    live = await store.load_state("live")
    assert live.positions["BTCUSDT"].quantity == Decimal(1) and live.day_open_equity is None
    assert live.last_funding_at == f.at(960)


async def test_day_open_is_the_first_point_when_nothing_came_before(store, backend):
    await publish(store, f.equity(30, "10003"), f.equity(40, "10004"))
    now = datetime(2025, 3, 1, 18, tzinfo=timezone.utc)
    state = db.with_backend(backend.url, lambda b: recovery.load_state(b, "paper", now=now))
    assert state.day_open_equity == Decimal(10003)


async def test_the_day_open_is_that_of_the_market_day_of_the_last_stored_point(store, backend):
    bus = EventBus()
    store.attach(bus)
    for minute, equity in ((30, "10003"), (60 * 23, "10007"), (60 * 25, "10001")):  # the last: day two, 01:00
        bus.publish(f.equity(minute, equity))
    await store.flush()
    state = db.with_backend(backend.url, lambda b: recovery.load_state(b, "paper"))  # the wall clock is months on
    assert state.day_open_equity == Decimal(10007)


async def test_controls_restore_mode_pauses_and_halt(store):
    bus = EventBus()
    store.attach(bus)
    bus.publish(f.engine_state(1, mode=Mode.TESTNET, halted=True, reason="max drawdown",
                               paused=frozenset({"XRPUSDT", "ADAUSDT"})))
    await store.flush()
    controls = await store.load_controls()
    assert (controls.mode, controls.halted, controls.halt_reason) == ("testnet", True, "max drawdown")
    assert controls.paused == frozenset({"XRPUSDT", "ADAUSDT"})


async def test_what_testnet_recovery_needs_from_the_store(store, backend):
    bus = EventBus()
    store.attach(bus)
    events = [
        f.fill(1, mode=Mode.TESTNET), f.fill(2, "ETHUSDT", mode=Mode.TESTNET, minute=30),
        f.fill(3, mode=Mode.LIVE, minute=90),  # another mode
        f.funding("BTCUSDT", 480, "-0.4", mode=Mode.TESTNET),
        f.order("tft-a", "new", 40, mode=Mode.TESTNET), f.order("tft-b", "sent", 41, mode=Mode.TESTNET),
        f.order("tft-c", "unknown", 42, mode=Mode.TESTNET), f.order("tft-d", "filled", 43, mode=Mode.TESTNET),
        f.order("tft-e", "new", 44), f.order("tft-c", "unknown", 42.5, mode=Mode.TESTNET),
    ]
    for e in events:
        bus.publish(e)
    await store.flush()
    state = db.with_backend(backend.url, lambda b: recovery.load_state(b, "testnet"))
    assert state.trade_ids == {"tid-1", "tid-2"} and state.traded_symbols == {"BTCUSDT", "ETHUSDT"}
    assert state.last_fill_at == f.at(30) and state.last_funding_at == f.at(480)
    assert [p.client_order_id for p in state.pending_orders] == ["tft-a", "tft-b", "tft-c"]
    first = state.pending_orders[0]
    assert (first.symbol, first.side, first.quantity, first.reduce_only, first.created_at) == (
        "BTCUSDT", "BUY", Decimal("0.002"), False, f.at(40))
