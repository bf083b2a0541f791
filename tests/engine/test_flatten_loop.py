"""The flatten loop against a scripted venue: it ends only on a fresh flat read, a stop or a fatal error."""
import asyncio
from decimal import Decimal

from engine.events import FlattenProgress
from engine.flatten import Backoff, FlattenRun
from engine.model import Mode, OrderRequest, OrderResult, Side, VenuePosition
from engine.venues.base import VenueError
from tests.engine.support import GUARD
from tests.fake_binance.helpers import eventually

D = Decimal
QUICK = Backoff(first_s=0.01, max_s=0.04)


class Fatal(VenueError):
    permanent = True


class ScriptedVenue:
    """Holds positions; each close, cancel and read does what the test scripted for it, in turn."""

    mode = Mode.TESTNET

    def __init__(self, held: dict[str, str]) -> None:
        self.held = {s: D(q) for s, q in held.items()}
        self.close_script: list = []  # per close: None (fills), a message (error), or an OrderResult factory
        self.read_failures = 0
        self.cancel_failures = 0
        self.banned_for = 0.0
        self.closes: list[str] = []
        self.reads = 0

    async def close(self, symbol: str, quantity: Decimal) -> OrderResult:
        self.closes.append(symbol)
        side = Side.SELL if quantity > 0 else Side.BUY
        request = OrderRequest(f"c{len(self.closes)}", symbol, side, abs(quantity), True, "flatten")
        step = self.close_script.pop(0) if self.close_script else None
        if callable(step):
            return step(request)
        if step is not None:
            return OrderResult(request, "error", message=f"{symbol}: {step}")
        self.held[symbol] = D(0)
        return OrderResult(request, "filled")

    async def cancel_all(self, symbol=None) -> None:
        if self.cancel_failures:
            self.cancel_failures -= 1
            raise VenueError("Binance: cancelling open orders failed: Binance is unavailable (HTTP 503)")

    async def positions(self) -> dict[str, VenuePosition]:
        self.reads += 1
        if self.read_failures:
            self.read_failures -= 1
            raise VenueError("Binance: reading positions failed: Binance did not answer in time")
        return {s: VenuePosition(s, q, D(100)) for s, q in self.held.items() if q}

    def rate_limited_for(self) -> float:
        return self.banned_for


def run_for(venue: ScriptedVenue, symbol=None, guess=None, backoff=QUICK):
    events: list[FlattenProgress] = []
    guess = venue.held if guess is None else guess
    return FlattenRun(venue, symbol, dict(guess), venue.close, events.append, backoff=backoff), events


async def test_closes_everything_and_ends_on_a_fresh_flat_read():
    venue = ScriptedVenue({"BTCUSDT": "0.5", "ETHUSDT": "-2"})
    run, events = run_for(venue)
    outcome = await asyncio.wait_for(run.run(), GUARD)
    assert outcome.ok and outcome.confirmed and outcome.attempts == 1
    assert outcome.message == "flat: 2 position(s) closed"
    assert sorted(venue.closes) == ["BTCUSDT", "ETHUSDT"] and venue.reads == 1
    assert [(e.symbol, e.state) for e in events if e.symbol == "BTCUSDT"] == [("BTCUSDT", "closing"),
                                                                              ("BTCUSDT", "flat")]


async def test_failed_closes_are_retried_with_a_growing_wait_until_flat():
    venue = ScriptedVenue({"BTCUSDT": "0.5"})
    venue.close_script = ["Binance is unavailable (HTTP 503)"] * 3
    run, events = run_for(venue, backoff=Backoff(first_s=0.1, max_s=0.2))
    outcome = await asyncio.wait_for(run.run(), GUARD)
    assert outcome.ok and outcome.attempts == 4 and "after 4 attempts" in outcome.message
    first_waits = {}
    for e in events:
        if e.state == "waiting":
            first_waits.setdefault(e.attempt, e.next_try_in_s)
    assert first_waits == {1: 0.1, 2: 0.2, 3: 0.2}  # doubling, capped
    assert all("503" in e.last_error for e in events if e.state == "waiting")


def test_the_backoff_doubles_from_a_fifth_of_a_second_to_five_and_honours_retry_after():
    b = Backoff()
    assert [b.delay(n) for n in range(1, 8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert b.delay(1, retry_after=60.0) == 60.0 and b.delay(7, retry_after=1.0) == 5.0


async def test_a_failed_read_never_counts_as_flat():
    venue = ScriptedVenue({"BTCUSDT": "0.5"})
    venue.read_failures = 10**6
    run, events = run_for(venue)
    task = asyncio.ensure_future(run.run())
    await eventually(lambda: run.attempt >= 4, GUARD)
    assert not task.done()
    run.stop()
    outcome = await asyncio.wait_for(task, GUARD)
    assert outcome.state == "stopped" and not outcome.ok and not outcome.confirmed
    assert "stopped by the operator" in outcome.message
    assert "flat" not in {e.state for e in events}
    assert any("reading positions failed" in e.last_error for e in events)


async def test_a_cancel_that_keeps_failing_keeps_the_flatten_going():
    venue = ScriptedVenue({"BTCUSDT": "0.5"})
    venue.cancel_failures = 2
    run, _ = run_for(venue)
    outcome = await asyncio.wait_for(run.run(), GUARD)
    assert outcome.ok and outcome.attempts == 3  # flat after the first round, but open orders were left


async def test_what_the_venue_still_holds_is_closed_in_the_next_round():
    venue = ScriptedVenue({"BTCUSDT": "0.5", "SOLUSDT": "3"})
    run, _ = run_for(venue, guess={"BTCUSDT": D("0.5")})  # our book does not know SOLUSDT
    outcome = await asyncio.wait_for(run.run(), GUARD)
    assert outcome.ok and venue.closes == ["BTCUSDT", "SOLUSDT"] and outcome.attempts == 2


async def test_one_symbol_leaves_the_others_alone():
    venue = ScriptedVenue({"BTCUSDT": "0.5", "ETHUSDT": "1"})
    run, _ = run_for(venue, symbol="ETHUSDT")
    outcome = await asyncio.wait_for(run.run(), GUARD)
    assert outcome.ok and venue.closes == ["ETHUSDT"] and venue.held["BTCUSDT"] == D("0.5")


async def test_an_error_no_retry_can_fix_stops_at_once_with_a_plain_message():
    venue = ScriptedVenue({"BTCUSDT": "0.5"})
    message = "BTCUSDT: SELL 0.5 market order failed: API key rejected: check the key (Binance -2015: Invalid API-key)"
    venue.close_script = [lambda request: OrderResult(request, "rejected", message=message, permanent=True)]
    run, events = run_for(venue)
    outcome = await asyncio.wait_for(run.run(), GUARD)
    assert outcome.state == "failed" and outcome.attempts == 1 and len(venue.closes) == 1
    assert outcome.message.startswith("flatten stopped: " + message)
    assert "1 position(s) still open: BTCUSDT" in outcome.message
    assert events[-1].state == "failed"


async def test_a_rejected_key_on_the_position_read_stops_it_too():
    venue = ScriptedVenue({"BTCUSDT": "0.5"})

    async def refused():
        raise Fatal("Binance: reading positions failed: API key rejected")
    venue.positions = refused
    run, _ = run_for(venue)
    outcome = await asyncio.wait_for(run.run(), GUARD)
    assert outcome.state == "failed" and "API key rejected" in outcome.message


async def test_retry_after_is_waited_out_with_a_countdown_and_a_stop_ends_the_wait_at_once():
    venue = ScriptedVenue({"BTCUSDT": "0.5"})
    venue.close_script = ["rate-limited by Binance (HTTP 429), 60 s left; not sent"]
    venue.banned_for = 60.0
    run, events = run_for(venue)
    task = asyncio.ensure_future(run.run())
    await eventually(lambda: any(e.state == "waiting" for e in events), GUARD)
    waiting = [e for e in events if e.state == "waiting"][0]
    assert waiting.next_try_in_s == 60.0 and "429" in waiting.last_error
    run.stop()
    outcome = await asyncio.wait_for(task, 30)  # well before the 60 s are up
    assert outcome.state == "stopped" and venue.closes == ["BTCUSDT"]
    assert events[-1].state == "stopped" and events[-1].quantity == D("0.5")


async def test_an_unexpected_failure_of_the_read_is_retried_like_any_other():
    venue = ScriptedVenue({"BTCUSDT": "0.5"})
    reads = venue.positions

    async def garbled():
        if venue.reads < 2:
            venue.reads += 1
            raise AttributeError("'str' object has no attribute 'get'")
        return await reads()
    venue.positions = garbled
    run, events = run_for(venue)
    outcome = await asyncio.wait_for(run.run(), GUARD)
    assert outcome.ok and outcome.attempts == 3
    assert any("AttributeError" in e.last_error for e in events if e.state == "waiting")


async def test_dust_no_order_can_close_ends_the_flatten_once_the_rest_is_flat():
    venue = ScriptedVenue({"BTCUSDT": "0.5", "ETHUSDT": "0.0004"})
    dust = "ETHUSDT: quantity 0.0004 truncates to 0, below the exchange minimum 0.001; not sent"

    def skipped(request):
        return OrderResult(request, "skipped", message=dust)

    venue.close_script = [None, skipped]  # closes go out in the book's order: BTCUSDT, then ETHUSDT
    run, events = run_for(venue)
    outcome = await asyncio.wait_for(run.run(), GUARD)
    assert outcome.state == "failed" and outcome.confirmed and not outcome.ok
    assert outcome.still_open == {"ETHUSDT": D("0.0004")}
    assert "dust" in outcome.message and "ETHUSDT" in outcome.message and "close it on the exchange" in outcome.message
    assert outcome.details["ETHUSDT"].startswith("still open: 0.0004") and "below the exchange minimum" in \
        outcome.details["ETHUSDT"]
    assert venue.closes.count("ETHUSDT") == 1  # tried once, never again
    assert ("ETHUSDT", "failed") in [(e.symbol, e.state) for e in events]


async def test_dust_that_grows_is_closed_after_all():
    venue = ScriptedVenue({"ETHUSDT": "0.0004"})

    def skipped_then_grows(request):
        venue.held["ETHUSDT"] = D("0.0104")  # a fill elsewhere made it closable
        return OrderResult(request, "skipped", message="ETHUSDT: below the exchange minimum; not sent")

    venue.close_script = [skipped_then_grows]
    run, _ = run_for(venue)
    outcome = await asyncio.wait_for(run.run(), GUARD)
    assert outcome.ok and venue.closes == ["ETHUSDT", "ETHUSDT"]
