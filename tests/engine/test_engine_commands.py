import asyncio
from dataclasses import replace
from decimal import Decimal

from engine.events import CommandResult, EngineState, FillEvent, FlattenProgress, OrderUpdate
from engine.model import Mode, OrderResult
from engine.risk import DAILY, DRAWDOWN
from engine.statefile import StateFile
from engine.events import EngineError
from tests.fake_binance.helpers import eventually
from tests.engine.support import GUARD, TESTNET_SECRETS, Harness, StoreStub, make_config, open_quantities


async def with_positions(h: Harness, at_least: int = 3) -> dict:
    await h.step_until(lambda: len(open_quantities(h.engine)) >= at_least)
    return open_quantities(h.engine)


def orders_after(h: Harness, mark: int, **match) -> list[OrderUpdate]:
    return [e for e in h.collect()[mark:] if isinstance(e, OrderUpdate)
            and all(getattr(e, k) == v for k, v in match.items())]


async def test_flatten_all_closes_everything_confirms_flat_and_halts_entries():
    async with Harness() as h:
        held = await with_positions(h)
        mark = len(h.collect())
        result = await h.engine.flatten_all()
        assert result.ok, result.message
        assert result.command == "flatten_all" and "halted" in result.message
        assert set(result.details) == set(held)
        assert all(v.startswith("closed") for v in result.details.values())
        assert open_quantities(h.engine) == {}
        assert await h.venues[Mode.PAPER].positions() == {}
        closes = orders_after(h, mark, status="new")
        assert {o.symbol for o in closes} == set(held)
        assert all(o.reduce_only and o.reason == "flatten" for o in closes)
        assert h.engine.snapshot().state.halted
        assert result in h.of(CommandResult)
        mark = len(h.collect())
        await h.step(30)
        assert orders_after(h, mark) == []  # no entries while halted
        assert {s.status for s in h.signals()[-8:]} == {"halted"}
        resumed = await h.engine.resume_entries()
        assert resumed.ok and not h.engine.snapshot().state.halted
        await h.step_until(lambda: open_quantities(h.engine) != {})


async def test_flatten_one_symbol_leaves_the_others():
    async with Harness() as h:
        held = await with_positions(h, 2)
        symbol = sorted(held)[0]
        result = await h.engine.flatten(symbol)
        assert result.ok and result.symbol == symbol and "pause it" in result.message
        after = open_quantities(h.engine)
        assert symbol not in after and set(after) == set(held) - {symbol}
        assert not h.engine.snapshot().state.halted


async def test_pause_keeps_the_position_and_stops_orders_for_that_symbol_only(tmp_path):
    state_file = StateFile(tmp_path / "state.toml")
    async with Harness(state_file=state_file) as h:
        held = await with_positions(h)
        symbol = sorted(held)[0]
        result = await h.engine.pause(symbol)
        assert result.ok and "keeps its position" in result.message
        assert state_file.read()["paused"] == [symbol]
        assert symbol in h.of(EngineState)[-1].paused
        mark = len(h.collect())
        await h.step(60)
        after = orders_after(h, mark)
        assert after and all(o.symbol != symbol for o in after)  # the others still trade
        assert open_quantities(h.engine)[symbol] == held[symbol]
        assert h.signals(symbol=symbol)[-1].status == "paused"
        again = await h.engine.pause(symbol)
        assert again.ok and "already" in again.message
        resumed = await h.engine.resume(symbol)
        assert resumed.ok and state_file.read()["paused"] == []
        assert not (await h.engine.resume(symbol)).ok


async def test_halt_entries_still_lets_positions_shrink():
    async with Harness() as h:
        held = await with_positions(h)
        assert (await h.engine.halt_entries()).ok
        mark = len(h.collect())
        await h.step(60)
        for o in orders_after(h, mark, status="new"):
            assert o.reduce_only
        for symbol, qty in open_quantities(h.engine).items():
            assert symbol in held and abs(qty) <= abs(held[symbol])


async def test_commands_at_the_wrong_moment_are_refused_clearly():
    h = Harness()
    for call in (h.engine.flatten_all(), h.engine.pause("BTCUSDT"), h.engine.set_mode("paper")):
        result = await call
        assert not result.ok and "starting" in result.message
    async with h:
        for call in (h.engine.pause("FOOUSDT"), h.engine.resume("FOOUSDT"), h.engine.flatten("FOOUSDT")):
            result = await call
            assert not result.ok and "FOOUSDT" in result.message and "unknown symbol" in result.message


async def test_a_command_waits_for_at_most_the_order_in_flight():
    async with Harness() as h:
        venue = h.venues[Mode.PAPER]
        submit = venue.submit
        release = asyncio.Semaphore(0)
        started: list[str] = []

        async def slow_submit(order):
            started.append(order.client_order_id)
            await release.acquire()
            return await submit(order)

        venue.submit = slow_submit
        h.feed.release(1)
        while not started:
            await asyncio.sleep(0)
        # A bar is mid-way through its orders (the first one hangs at the venue).
        pausing = asyncio.ensure_future(h.engine.pause("BTCUSDT"))
        await asyncio.sleep(0)
        assert not pausing.done()
        release.release()  # only the order in flight may complete
        result = await asyncio.wait_for(pausing, GUARD)
        assert result.ok
        events = h.collect()
        answered = events.index(result)
        sent = [i for i, e in enumerate(events) if isinstance(e, OrderUpdate) and e.status == "new"]
        assert sent[0] < answered  # the order in flight
        assert all(i > answered for i in sent[1:])  # the bar's other orders wait for the command
        venue.submit = submit
        release.release()  # the bar's second order, which started once the command was done
        await h.step(0)
        assert all(o.status == "filled" for o in h.of(OrderUpdate) if o.status != "new")


async def breaker_run(**risk) -> tuple[Harness, list[CommandResult]]:
    h = Harness(make_config(risk=risk, max_position_risk_per_trade=0.2, max_total_risk_exposure=1.0))
    await h.__aenter__()
    await h.step_until(lambda: bool(h.of(CommandResult, command="breaker")), limit=600)
    return h, h.of(CommandResult, command="breaker")


async def test_daily_loss_breaker_flattens_halts_and_resume_rebases():
    h, trips = await breaker_run(daily_loss_limit=0.002)
    try:
        assert "daily loss limit" in trips[0].message and "flattened" in trips[0].message
        state = h.engine.snapshot().state
        assert state.halted and "breaker" in state.halt_reason and state.breakers[DAILY]
        assert open_quantities(h.engine) == {}
        mark = len(h.collect())
        await h.step(20)
        assert not h.of(FillEvent)[len([e for e in h.events[:mark] if isinstance(e, FillEvent)]):]
        result = await h.engine.resume_entries()
        assert result.ok and DAILY in result.message
        book = h.engine._book
        assert not any(h.engine.snapshot().state.breakers.values())
        assert book.breakers.day_open == book.portfolio.equity
    finally:
        await h.__aexit__()


async def test_drawdown_breaker_trips_from_peak():
    h, trips = await breaker_run(max_drawdown=0.002)
    try:
        assert "max drawdown" in trips[0].message
        assert h.engine.snapshot().state.breakers[DRAWDOWN]
        assert open_quantities(h.engine) == {}
    finally:
        await h.__aexit__()


async def test_every_command_is_published_as_its_audit_record():
    async with Harness() as h:
        results = [await h.engine.halt_entries(), await h.engine.resume_entries(),
                   await h.engine.pause("ETHUSDT"), await h.engine.resume("ETHUSDT"),
                   await h.engine.flatten_all(), await h.engine.set_mode("live")]
        published = h.of(CommandResult)
        assert all(r in published for r in results)
        assert [r.command for r in results] == ["halt", "resume_entries", "pause", "resume", "flatten_all",
                                                "set_mode"]
        assert Decimal(0) == sum(open_quantities(h.engine).values(), Decimal(0))


class Stubborn:
    """Wraps an exchange stub: closes fill only `share` of what is asked, or nothing at all."""

    def __init__(self, venue, share: Decimal) -> None:
        self.venue, self.share = venue, share
        self.original = venue.submit
        venue.submit = self.submit

    async def submit(self, order):
        if order.reason != "flatten":
            return await self.original(order)
        qty = (order.quantity * self.share).quantize(Decimal("0.001"))
        if qty == 0:
            return OrderResult(order, "rejected", message=f"{order.symbol}: the exchange refused")
        return await self.original(replace(order, quantity=qty))


def harness_on_testnet() -> Harness:
    return Harness(make_config(market="binance", trading_mode="testnet"), secrets=TESTNET_SECRETS)


async def test_flatten_all_keeps_trying_until_stopped_and_never_claims_flat():
    async with harness_on_testnet() as h:
        await with_positions(h, 2)
        stub = h.venues[Mode.TESTNET]
        Stubborn(stub, Decimal("0.5"))  # halving never reaches zero
        flattening = asyncio.ensure_future(h.engine.flatten_all())
        await eventually(lambda: max((p.attempt for p in h.of(FlattenProgress)), default=0) >= 3, GUARD)
        assert h.engine.snapshot().state.flattening
        mark = len(h.collect())
        await h.step(2)  # the engine carries on meanwhile, and trades nothing being flattened
        assert orders_after(h, mark, reason="rebalance") == []
        symbol = sorted(stub.truth)[0]
        assert (await h.engine.pause(symbol)).ok  # other commands do not wait for the flatten
        switch = await h.engine.set_mode("paper")
        assert not switch.ok and "a flatten is running" in switch.message
        stopped = await h.engine.stop_flatten()
        result = await flattening
        assert stopped.ok and stopped.command == "stop_flatten"
        assert not result.ok and "stopped by the operator" in result.message and "still open" in result.message
        assert all(v.startswith("still open") for v in result.details.values())
        assert any(q != 0 for q in stub.truth.values())
        assert not h.engine.snapshot().state.flattening
        assert {p.state for p in h.of(FlattenProgress)} >= {"closing", "waiting", "stopped"}
        assert "flat" not in {p.state for p in h.of(FlattenProgress) if p.symbol in result.details
                              and not result.details[p.symbol].startswith("closed")}
        assert (await h.engine.stop_flatten()).ok is False  # nothing left to stop


async def test_stopping_the_engine_ends_a_running_flatten_with_an_answer():
    async with harness_on_testnet() as h:
        await with_positions(h, 2)
        Stubborn(h.venues[Mode.TESTNET], Decimal(0))  # nothing ever closes
        flattening = asyncio.ensure_future(h.engine.flatten_all())
        await eventually(lambda: h.engine.snapshot().state.flattening, GUARD)
        await asyncio.wait_for(h.engine.stop(), GUARD)
        result = await flattening
        assert not result.ok and "the engine is shutting down" in result.message


async def test_flatten_all_closes_what_the_venue_still_reports_in_a_second_round():
    async with harness_on_testnet() as h:
        held = await with_positions(h, 2)
        stub = h.venues[Mode.TESTNET]
        symbol = sorted(held)[0]
        stub.truth[symbol] += held[symbol]  # the exchange holds twice what we think
        result = await h.engine.flatten_all()
        assert result.ok, result.message
        assert not any(stub.truth.values())
        closes = [o for o in stub.submitted if o.reason == "flatten" and o.symbol == symbol]
        assert len(closes) == 2


async def test_an_order_below_min_notional_is_reported_and_never_sent():
    # BTC near 95000 moves in 0.001 steps (~95 USDT): a 175 USDT target truncates to one step,
    # which is below the 100 USDT minimum notional.
    config = make_config(universe={"symbol_list": ["BTCUSDT"]}, max_position_risk_per_trade=0.0035)
    async with Harness(config) as h:
        await h.step_until(lambda: bool(h.of(OrderUpdate, status="skipped")))
        skipped = h.of(OrderUpdate, status="skipped")[0]
        assert skipped.symbol == "BTCUSDT" and "minimum notional" in skipped.message
        await h.step(20)
        assert len(h.of(OrderUpdate, status="skipped")) < 10  # reported when it starts, not every minute
        assert not h.of(OrderUpdate, status="new") and not h.of(FillEvent)



async def test_closes_go_out_even_when_the_ledger_cannot_be_written():
    store = StoreStub()
    async with Harness(store=store) as h:
        await h.step_until(lambda: bool(open_quantities(h.engine)))
        store.ledger.problem = "cannot write the ledger in /x: disk full"
        await h.step(2)
        opened = [e for e in h.of(OrderUpdate) if e.status == "error" and not e.reduce_only]
        result = await h.engine.flatten_all()
        assert result.ok and open_quantities(h.engine) == {}
        assert any("closing anyway" in e.message for e in h.of(EngineError))
        assert all("could not be made durable" in e.message for e in opened)


async def test_the_desk_can_carry_on_without_the_store():
    store = StoreStub()
    store.ledger.problem = "cannot write the ledger in /x: disk full"
    async with Harness(store=store) as h:
        h.engine.detach_store()
        await h.step_until(lambda: bool(open_quantities(h.engine)))
        assert not any(e.status == "error" for e in h.of(OrderUpdate))
