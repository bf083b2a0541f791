"""The event stream becomes a few messages per frame, in the engine's order."""
import asyncio
from datetime import datetime, timezone
from decimal import Decimal

from engine.events import (CommandResult, EngineError, EngineState, EquityUpdate, EventBus, OrderUpdate,
                           PositionUpdate, SignalBatch, SignalUpdate, StoreStatus)
from engine.model import Mode
from tui import messages as m
from tui.pump import EventPump, to_messages

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def signal(symbol: str, price: float) -> SignalUpdate:
    return SignalUpdate(symbol=symbol, ts=T0, price=price, ret=0.0, status="active", progress=1.0,
                        components={}, final_factor=0.0, target_factor=0.0, target_notional=Decimal(0),
                        current_notional=Decimal(0))


def batch(*signals: SignalUpdate) -> SignalBatch:
    return SignalBatch(T0, signals)


def state(halted: bool) -> EngineState:
    return EngineState(mode=Mode.PAPER, market="sim", halted=halted, halt_reason="", paused=frozenset(),
                       breakers={}, mismatched=frozenset(), feed_status="live", ts=T0)


def equity(value: int) -> EquityUpdate:
    v = Decimal(value)
    return EquityUpdate(mode=Mode.PAPER, ts=T0, equity=v, capital=v, realized=Decimal(0), unrealized=Decimal(0),
                        fees=Decimal(0), funding=Decimal(0), peak=v, drawdown=Decimal(0), trade_count=0)


def test_a_batch_becomes_one_message_per_kind_with_state_first():
    order = OrderUpdate(Mode.PAPER, "c1", "BTCUSDT", "BUY", Decimal(1), "new", False, "rebalance", T0)
    position = PositionUpdate(Mode.PAPER, "A", Decimal(1), Decimal(1), Decimal(1), Decimal(0), 5, T0)
    out = to_messages([batch(signal("A", 1)), order, EngineError("boom"), batch(signal("A", 2), signal("B", 2)),
                       state(True), position, StoreStatus("up"), CommandResult("breaker", True, "tripped"),
                       EngineError("bang")])
    kinds = [type(x) for x in out]
    assert kinds[0] is m.EngineStateChanged
    assert kinds.index(m.PositionsArrived) < kinds.index(m.SignalsArrived), "signals re-mark the fills' positions"
    assert kinds.count(m.SignalsArrived) == 1
    signals = next(x for x in out if isinstance(x, m.SignalsArrived))
    assert [(s.symbol, s.price) for s in signals.updates] == [("A", 2), ("B", 2)], "the newest batch holds all"
    errors = next(x for x in out if isinstance(x, m.EngineReported))
    assert [e.message for e in errors.errors] == ["boom", "bang"]
    assert m.StoreStatusChanged in kinds and m.CommandAnswered in kinds
    orders = next(x for x in out if isinstance(x, m.OrdersArrived))
    assert orders.updates == (order,), "orders go to the event log"
    assert len(out) == 7


def test_latest_value_messages_replace_a_pending_older_one():
    assert m.EquityChanged(equity(1)).can_replace(m.EquityChanged(equity(2)))
    assert m.EngineStateChanged(state(False)).can_replace(m.EngineStateChanged(state(True)))
    assert not m.SignalsArrived((signal("A", 1),)).can_replace(m.SignalsArrived((signal("A", 2),)))


async def test_the_pump_forwards_batches_and_ends_when_the_stream_closes():
    bus = EventBus()
    sub = bus.subscribe("desk", coalesce=True)
    posted: list = []
    pump = EventPump(sub, max_fps=1000, post=posted.append)
    bus.publish(batch(signal("A", 1)))
    bus.publish(batch(signal("A", 2)))  # coalesces with the first: the desk gets the newest only
    bus.publish(state(False))
    task = asyncio.ensure_future(pump.run())
    for _ in range(200):
        if len(posted) >= 2:
            break
        await asyncio.sleep(0.005)
    signals = next(x for x in posted if isinstance(x, m.SignalsArrived))
    assert [s.price for s in signals.updates] == [2]
    bus.unsubscribe(sub)
    await asyncio.wait_for(task, 5)


async def test_hurry_ends_the_frame_wait_at_once():
    bus = EventBus()
    sub = bus.subscribe("desk")
    posted: list = []
    pump = EventPump(sub, max_fps=0.01, post=posted.append)  # a 100 s frame
    task = asyncio.ensure_future(pump.run())
    bus.publish(state(False))
    for _ in range(200):
        if posted:
            break
        await asyncio.sleep(0.005)
    bus.publish(state(True))
    pump.hurry()
    for _ in range(200):
        if len(posted) == 2:
            break
        await asyncio.sleep(0.005)
    assert posted[-1].state.halted, "the second batch came without waiting for the frame"
    bus.unsubscribe(sub)
    pump.hurry()
    await asyncio.wait_for(task, 5)
