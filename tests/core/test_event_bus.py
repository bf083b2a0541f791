import asyncio
from datetime import datetime, timezone
from decimal import Decimal

from engine.events import CommandResult, EquityUpdate, EventBus
from engine.model import Mode
from engine.statefile import StateFile


def equity(value: int) -> EquityUpdate:
    d = Decimal(value)
    return EquityUpdate(mode=Mode.PAPER, ts=datetime(2026, 1, 1, tzinfo=timezone.utc), equity=d, capital=d,
                        realized=Decimal(0), unrealized=Decimal(0), fees=Decimal(0), funding=Decimal(0),
                        peak=d, drawdown=Decimal(0), trade_count=0)


def test_coalescing_keeps_the_newest_value_in_place():
    bus = EventBus()
    sub = bus.subscribe("desk")
    bus.publish(equity(1))
    bus.publish(CommandResult(command="pause", ok=True, message="paused"))
    bus.publish(equity(2))
    got = sub.drain()
    assert [type(e).__name__ for e in got] == ["EquityUpdate", "CommandResult"]
    assert got[0].equity == 2


def test_lossless_subscription_keeps_everything():
    bus = EventBus()
    sub = bus.subscribe("storage", coalesce=False)
    for i in range(5):
        bus.publish(equity(i))
    assert [e.equity for e in sub.drain()] == [0, 1, 2, 3, 4]


def test_full_queue_drops_state_never_commands():
    bus = EventBus()
    sub = bus.subscribe("desk", maxsize=2)
    bus.publish(CommandResult(command="a", ok=True, message=""))
    bus.publish(CommandResult(command="b", ok=True, message=""))
    bus.publish(CommandResult(command="c", ok=True, message=""))
    assert [e.command for e in sub.drain()] == ["a", "b", "c"]
    bus.publish(equity(1))
    bus.publish(CommandResult(command="d", ok=True, message=""))
    bus.publish(CommandResult(command="e", ok=True, message=""))
    got = sub.drain()
    assert [getattr(e, "command", None) for e in got] == ["d", "e"] and sub.dropped == 1


async def test_get_batch_waits_for_events():
    bus = EventBus()
    sub = bus.subscribe("desk")
    waiter = asyncio.create_task(sub.get_batch())
    await asyncio.sleep(0)
    assert not waiter.done()
    bus.publish(equity(7))
    assert (await asyncio.wait_for(waiter, 1))[0].equity == 7
    bus.unsubscribe(sub)
    assert await sub.get_batch() == []


class GatedLedger:
    """A ledger whose every sync waits until the test lets it finish."""

    problem = ""

    def __init__(self) -> None:
        self.appended: list = []
        self.durable: list = []
        self.gates: list[asyncio.Event] = []

    def append(self, event) -> None:
        self.appended.append(event)

    async def sync(self) -> int:
        taken = list(self.appended)
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        self.durable = taken
        return len(taken)


async def test_a_group_commit_lets_the_producer_run_one_round_ahead_and_shows_only_what_is_durable():
    bus = EventBus()
    ledger = GatedLedger()
    bus.attach_ledger(ledger)
    sub = bus.subscribe("desk", coalesce=False)
    bus.publish(equity(1))
    await asyncio.sleep(0)  # the first round starts and waits on the disk
    bus.publish(equity(2))  # the next step's event: it rides the next round
    behind = asyncio.ensure_future(bus.commit_behind())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not behind.done() and sub.drain() == [], "nothing shows before it is durable"
    ledger.gates[0].set()
    await asyncio.wait_for(behind, 1)
    assert [e.equity for e in sub.drain()] == [1]
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(ledger.gates) == 2 and sub.drain() == [], "the second round is in flight, not yet delivered"
    ledger.gates[1].set()
    await asyncio.wait_for(bus.commit(), 1)
    assert [e.equity for e in sub.drain()] == [2] and len(ledger.durable) == 2


def test_state_file_round_trip_and_damage(tmp_path):
    f = StateFile(tmp_path / "state.toml")
    f.update(paused=["BTCUSDT"], theme="light")
    assert f.read() == {"paused": ["BTCUSDT"], "theme": "light"}
    (tmp_path / "state.toml").write_text("this is = = not toml")
    assert f.read() == {} and "moved aside" in f.problem
    assert (tmp_path / "state.toml.broken").exists()
