"""Which funding times a bar settles, and the sim's settled funding rates."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from engine.feeds.sim import SimFeed
from engine.funding import FundingClock, funding_times, is_funding_time, settle
from engine.model import Mode
from engine.portfolio import Portfolio
from tests.engine.support import make_config

D = Decimal
MINUTE = timedelta(minutes=1)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=timezone.utc)


def test_funding_times_are_00_08_16_utc_in_a_half_open_window():
    assert list(funding_times(utc(1, 7, 59), utc(1, 8))) == [utc(1, 8)]
    assert list(funding_times(utc(1, 8), utc(1, 15, 59))) == []  # the window excludes its start
    assert list(funding_times(utc(1, 7), utc(2, 9))) == [utc(1, 8), utc(1, 16), utc(2, 0), utc(2, 8)]
    assert is_funding_time(utc(1, 16)) and not is_funding_time(utc(1, 16, 1)) and not is_funding_time(utc(1, 4))


def test_a_funding_time_is_settled_by_the_first_bar_opening_at_or_after_it():
    clock = FundingClock()
    assert clock.due(utc(1, 7, 58)) == []  # the first bar: nothing before it was held here
    assert clock.due(utc(1, 7, 59)) == []  # closes at 08:00, but carries the rate settled at 00:00
    assert clock.due(utc(1, 8)) == [utc(1, 8)]
    assert clock.due(utc(1, 8)) == [] and clock.due(utc(1, 8, 1)) == []  # once


def test_a_gap_across_funding_times_settles_each_once_when_bars_come_back():
    clock = FundingClock(settled_upto=utc(1, 7, 29))
    assert clock.due(utc(1, 9)) == [utc(1, 8)]  # 07:30-08:59 missing
    clock = FundingClock(settled_upto=utc(1, 7, 29))
    assert clock.due(utc(2, 1)) == [utc(1, 8), utc(1, 16), utc(2, 0)]
    assert clock.due(utc(1, 20)) == []  # an older bar settles nothing


def test_resume_starts_after_the_last_stored_payment_or_bar_whichever_is_later():
    clock = FundingClock()
    clock.resume(last_settled=utc(1, 8), last_bar_open=utc(1, 7, 20))
    assert clock.due(utc(1, 9)) == [] and clock.due(utc(1, 16)) == [utc(1, 16)]
    clock = FundingClock()
    clock.resume(last_settled=None, last_bar_open=utc(1, 7, 20))  # nothing held at 00:00: no payment row
    assert clock.due(utc(1, 9)) == [utc(1, 8)]  # down across 08:00: settled by the first bar back
    clock = FundingClock()
    clock.resume(last_settled=utc(1, 8), last_bar_open=utc(1, 8))  # the bar opening at 08:00 was processed
    assert clock.due(utc(1, 8, 1)) == []


def test_settle_pays_every_open_position_for_every_time_at_its_mark():
    p = Portfolio(Mode.PAPER, D(10_000))
    p.adopt("BTCUSDT", D("0.1"), D(50_000))
    p.adopt("ETHUSDT", D(-2), D(3_000))
    p.mark_all({"BTCUSDT": D(51_000), "ETHUSDT": D(2_900)})
    payments = settle(Mode.PAPER, p, [utc(1, 8), utc(1, 16)], {"BTCUSDT": 0.0005, "ETHUSDT": -0.0002})
    assert [(e.symbol, e.ts, e.rate, e.amount) for e in payments] == [
        ("BTCUSDT", utc(1, 8), D("0.0005"), D("-2.55")), ("ETHUSDT", utc(1, 8), D("-0.0002"), D("-1.16")),
        ("BTCUSDT", utc(1, 16), D("0.0005"), D("-2.55")), ("ETHUSDT", utc(1, 16), D("-0.0002"), D("-1.16"))]
    assert p.funding == D("-7.42")


def test_funding_is_paid_on_what_was_held_before_the_minute_closing_on_it_traded():
    # The minute 07:59-08:00 closes on 08:00: its orders reach an exchange after 08:00, so 08:00 is paid
    # on the book before them. The bar opening at 08:00 settles it, when the trades are long booked.
    p = Portfolio(Mode.PAPER, D(10_000))
    p.adopt("BTCUSDT", D("0.1"), D(50_000))
    p.adopt("ETHUSDT", D(-2), D(3_000))
    clock = FundingClock(settled_upto=utc(1, 7, 58))
    clock.note_held(utc(1, 7, 58), p)  # closes at 07:59: nothing to note
    assert clock.held_at(utc(1, 8)) is None
    clock.note_held(utc(1, 7, 59), p)
    p.adopt("BTCUSDT", D("0.3"), D(50_000))  # what 07:59's close traded: more BTC, ETH closed,
    p.adopt("ETHUSDT", D(0), D(3_000))
    p.adopt("SOLUSDT", D(5), D(150))  # and SOL opened
    p.mark_all({"BTCUSDT": D(51_000), "ETHUSDT": D(2_900), "SOLUSDT": D(150)})
    assert clock.due(utc(1, 7, 59)) == [] and clock.due(utc(1, 8)) == [utc(1, 8)]
    payments = settle(Mode.PAPER, p, [utc(1, 8)], {"BTCUSDT": 0.0005, "ETHUSDT": -0.0002, "SOLUSDT": 0.001},
                      clock.held_at)
    assert [(e.symbol, e.quantity, e.amount) for e in payments] == [
        ("BTCUSDT", D("0.1"), D("-2.55")), ("ETHUSDT", D(-2), D("-1.16"))]
    assert clock.held_at(utc(1, 16)) is None  # a note is for its own funding time only


async def test_sim_funding_changes_only_on_the_bar_opening_at_a_funding_time():
    # Seed 3: the first live bar opens at 03:00; 600 warm-up bars reach back to 17:00 the day before.
    feed = SimFeed(make_config(sim={"seed": 3, "warmup_bars": 600}), paced=False)
    await feed.start()
    bars = await feed.warmup("ETHUSDT", 600)
    stream = feed.stream()
    for _ in range(1000):  # on to 19:39, across 08:00 and 16:00
        bars += [b for b in await anext(stream) if b.symbol == "ETHUSDT"]
    await stream.aclose()
    changes = [b.ts for a, b in zip(bars, bars[1:]) if b.funding_rate != a.funding_rate]
    assert changes == [utc(1, 0), utc(1, 8), utc(1, 16)]
    assert all(b.funding_rate == bars[0].funding_rate for b in bars if b.ts < utc(1, 0))


def test_skipping_counts_a_window_as_settled_without_paying_it():
    clock = FundingClock(settled_upto=utc(1, 7))
    clock.skip_to(utc(1, 9))
    clock.skip_to(utc(1, 8))  # never backwards
    assert clock.due(utc(1, 9, 1)) == [] and clock.due(utc(1, 16)) == [utc(1, 16)]
