from decimal import Decimal

import pytest

from engine.events import CommandResult, EngineError, EngineState, FillEvent
from engine.model import Mode
from engine.startup import StartError, StartRetry
from engine.statefile import StateFile
from engine.venues.base import VenueError
from engine.venues.paper import PaperVenue
from tests.engine.support import (LIVE_SECRETS, NO_SECRETS, TESTNET_SECRETS, ExchangeStub, Harness, make_config,
                                  open_quantities)

D = Decimal


async def test_live_is_refused_without_keys_and_without_the_typed_confirmation():
    async with Harness(make_config(market="binance"), secrets=NO_SECRETS) as h:
        result = await h.engine.set_mode("live", confirm="LIVE")
        assert not result.ok and "TRIFACTOR_API_KEY" in result.message
        assert h.engine.can_trade("live")[0] is False
    async with Harness(make_config(market="binance"), secrets=LIVE_SECRETS) as h:
        assert h.engine.can_trade("live") == (True, "")
        for confirm in (None, "live", "yes"):
            result = await h.engine.set_mode("live", confirm=confirm)
            assert not result.ok and "type LIVE" in result.message
        assert h.engine.mode is Mode.PAPER and Mode.LIVE not in h.venues


async def test_real_modes_are_refused_on_the_simulated_market():
    async with Harness(secrets=LIVE_SECRETS) as h:
        ok, why = h.engine.can_trade("testnet")
        assert not ok and "binance" in why and "sim" in why
        result = await h.engine.set_mode("live", confirm="LIVE")
        assert not result.ok and "would not match" in result.message
        assert (await h.engine.set_mode("margin")).message.startswith("unknown mode")


async def test_each_mode_keeps_its_own_positions(tmp_path):
    state_file = StateFile(tmp_path / "state.toml")
    config = make_config(market="binance")
    async with Harness(config, secrets=TESTNET_SECRETS, state_file=state_file) as h:
        await h.step_until(lambda: len(open_quantities(h.engine)) >= 2)
        paper = open_quantities(h.engine)
        result = await h.engine.set_mode("testnet")
        assert result.ok, result.message
        assert h.engine.mode is Mode.TESTNET and state_file.read()["mode"] == "testnet"
        assert h.venues[Mode.TESTNET].prepared
        assert open_quantities(h.engine) == {}  # testnet starts from its own (empty) book
        assert h.of(EngineState)[-1].mode is Mode.TESTNET
        await h.step_until(lambda: len(open_quantities(h.engine)) >= 1)
        testnet = open_quantities(h.engine)
        assert all(f.fill.mode is Mode.TESTNET for f in h.of(FillEvent)[-len(testnet):])
        assert h.engine._books[Mode.PAPER].portfolio.open_positions().keys() == paper.keys()
        back = await h.engine.set_mode("paper")
        assert back.ok and open_quantities(h.engine) == paper  # untouched while away
        again = await h.engine.set_mode("testnet")
        assert again.ok and open_quantities(h.engine) == testnet


async def test_a_reconciliation_mismatch_halts_that_symbol_until_the_operator_resumes_it():
    config = make_config(market="binance", trading_mode="testnet")
    async with Harness(config, secrets=TESTNET_SECRETS) as h:
        assert h.engine.mode is Mode.TESTNET
        assert h.of(CommandResult, command="reconcile")[0].ok
        await h.step_until(lambda: len(open_quantities(h.engine)) >= 2)
        venue = h.venues[Mode.TESTNET]
        symbol = sorted(open_quantities(h.engine))[0]
        venue.truth[symbol] += D(5)  # someone traded behind our back
        await h.engine._operator.reconcile(h.engine._book)
        report = h.of(CommandResult, command="reconcile", ok=False)
        assert report and report[-1].symbol == symbol and "exchange reports" in report[-1].message
        assert h.of(EngineError, symbol=symbol)
        state = h.of(EngineState)[-1]
        assert symbol in state.mismatched
        orders_before = len([o for o in venue.submitted if o.symbol == symbol])
        await h.step(40)
        assert len([o for o in venue.submitted if o.symbol == symbol]) == orders_before  # never trades on it
        assert any(s.status == "mismatch" for s in h.engine.snapshot().signals.values())
        result = await h.engine.resume(symbol)
        assert result.ok and "adopted" in result.message
        assert open_quantities(h.engine).get(symbol) == venue.truth[symbol]
        assert symbol not in h.engine.snapshot().state.mismatched


async def test_positions_found_at_start_are_not_guessed_at():
    config = make_config(market="binance", trading_mode="testnet")
    h = Harness(config, secrets=TESTNET_SECRETS)
    make = h.engine._venue_factory

    def with_existing_position(mode):
        venue = make(mode)
        if mode is Mode.TESTNET:
            venue.truth["ETHUSDT"] = D("0.5")
        return venue

    h.engine._venue_factory = with_existing_position
    async with h:
        assert h.engine.snapshot().state.mismatched == frozenset({"ETHUSDT"})
        assert not h.of(CommandResult, command="reconcile")[0].ok


async def test_an_explicit_testnet_start_without_keys_is_refused_and_never_becomes_paper():
    h = Harness(make_config(market="binance", trading_mode="testnet"), secrets=NO_SECRETS)
    with pytest.raises(StartError, match="TRIFACTOR_TESTNET_API_KEY") as err:
        await h.engine.run()
    assert err.value.mode == "testnet" and str(err.value).endswith("; not trading")
    assert h.engine.mode is Mode.TESTNET and Mode.PAPER not in h.engine._books
    assert not h.engine.started and h.of(EngineState)[-1].mode is Mode.TESTNET


async def test_a_restored_testnet_mode_that_cannot_start_falls_back_to_paper_with_a_reason(tmp_path):
    state_file = StateFile(tmp_path / "state.toml")
    state_file.update(mode="testnet")
    async with Harness(make_config(market="binance"), secrets=NO_SECRETS, state_file=state_file) as h:
        assert h.engine.mode is Mode.PAPER
        refused = h.of(CommandResult, command="set_mode")
        assert refused and not refused[0].ok and "TRIFACTOR_TESTNET_API_KEY" in refused[0].message


class Flaky(ExchangeStub):
    """Fails its set-up `times` times the way a network outage does, then works."""

    def __init__(self, *args, times: int, error: Exception) -> None:
        super().__init__(*args)
        self.times, self.error = times, error

    async def prepare(self, *args) -> None:
        if self.times:
            self.times -= 1
            raise self.error
        await super().prepare(*args)


def flaky_factory(h: Harness, left: list[int], error: Exception):
    def make(mode):
        if mode is Mode.PAPER:
            return PaperVenue(h.config.paper, h.feed.last_price)
        venue = Flaky(mode, h.feed.last_price, times=1 if left[0] else 0, error=error)
        left[0] = max(0, left[0] - 1)
        return venue
    return make


async def test_a_transient_start_failure_is_retried_and_each_attempt_reported():
    h = Harness(make_config(market="binance", trading_mode="testnet"), secrets=TESTNET_SECRETS)
    h.engine._start_retry = StartRetry(base_s=0.001, max_s=0.004)
    h.engine._venue_factory = flaky_factory(h, [5], Transient("Binance is not reachable"))
    async with h:
        assert h.engine.mode is Mode.TESTNET
        lines = [e.message for e in h.of(EngineError) if e.message.startswith("connecting")]
        assert [line.split(",")[0] for line in lines] == [f"connecting (attempt {n}" for n in range(1, 6)]
        assert "next in 0 s): starting testnet: Binance is not reachable" in lines[0]
        states = h.of(EngineState)
        assert any(s.connecting.startswith("attempt 5,") for s in states)
        assert states[-1].connecting == ""


async def test_a_permanent_start_failure_is_not_retried():
    h = Harness(make_config(market="binance", trading_mode="testnet"), secrets=TESTNET_SECRETS)
    h.engine._venue_factory = flaky_factory(h, [5], VenueError("the Binance account is in hedge mode"))
    with pytest.raises(StartError, match="could not start testnet: the Binance account is in hedge mode"):
        await h.engine.run()
    assert not [e for e in h.of(EngineError) if e.message.startswith("connecting")]


class Transient(VenueError):
    transient = True
