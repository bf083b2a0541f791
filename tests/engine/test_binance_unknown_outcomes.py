"""Answers that are not the JSON expected: never a crash, never a second order, fills counted once."""
from decimal import Decimal

import pytest

from engine.model import Side
from engine.venues.base import VenueError
from tests.engine.test_binance_venue import fake, order, sent_orders, venue_for  # noqa: F401 (fixture)
from tests.fake_binance.helpers import RecordingSleep


def lookups(fake):
    return [r for r in fake.requests_to("/fapi/v1/order") if r.method == "GET"]


@pytest.mark.parametrize("body", ["truncated", "html", "empty"])
async def test_an_unreadable_answer_to_an_executed_order_is_resolved_by_its_client_id(fake, body):
    fake.garble("/fapi/v1/order", body, executed=True, method="POST")
    async with venue_for(fake) as venue:
        result = await venue.submit(order("garbled-1"))
    assert result.status == "filled" and result.filled_qty == Decimal("0.010")
    assert [f.trade_id for f in result.fills] == [str(fake.trades[-1]["id"])]
    assert len(fake.orders) == 1 and len(sent_orders(fake)) == 1
    assert "origClientOrderId=garbled-1" in lookups(fake)[0].query


@pytest.mark.parametrize("body", ["truncated", "html", "empty"])
async def test_an_unreadable_answer_to_an_order_that_did_not_execute_says_not_placed(fake, body):
    fake.garble("/fapi/v1/order", body, executed=False, method="POST")
    async with venue_for(fake) as venue:
        result = await venue.submit(order("garbled-2"))
    assert result.status == "error" and "not placed" in result.message and "BTCUSDT" in result.message
    assert fake.orders == [] and len(sent_orders(fake)) == 1


async def test_an_outcome_no_lookup_can_tell_is_unknown_and_never_resent(fake):
    fake.garble("/fapi/v1/order", "html", executed=True, method="POST")
    fake.outage("/fapi/v1/order", 60, method="GET")  # every lookup fails
    sleep = RecordingSleep()
    async with venue_for(fake, sleep=sleep) as venue:
        result = await venue.submit(order("lost-1"))
        assert result.status == "unknown" and result.fills == ()
        assert "BTCUSDT" in result.message and "unknown" in result.message
        assert len(sent_orders(fake)) == 1 and len(lookups(fake)) >= 3
        fake.faults.outages.clear()
        resolved = await venue.resolve(result.request)  # what a later resolver does
    assert resolved.status == "filled" and resolved.filled_qty == Decimal("0.010")
    assert len(fake.orders) == 1 and len(sent_orders(fake)) == 1


async def test_a_timed_out_send_whose_lookup_fails_is_unknown(fake):
    fake.delay("/fapi/v1/order", 0.3, times=1)  # acted on, answered too late
    fake.garble("/fapi/v1/order", "truncated", executed=True, method="GET", times=20)
    async with venue_for(fake, exchange={"timeout_ms": 100}) as venue:
        result = await venue.submit(order("slow-lost"))
    assert result.status == "unknown" and len(fake.orders) == 1


async def test_a_cut_connection_on_send_is_looked_up_not_called_refused(fake):
    async with venue_for(fake) as venue:
        # Long enough to outlast the send on a slow machine; the lookup is a GET, which it spares.
        fake.outage("/fapi/v1/order", 5.0, method="POST", reset=True)
        result = await venue.submit(order("reset-1"))
    assert result.status == "error" and "not placed" in result.message  # looked up: Binance has none
    assert len(lookups(fake)) >= 1 and fake.orders == []


async def test_duplicate_and_unreadable_trade_lists_book_each_trade_once(fake):
    async with venue_for(fake) as venue:
        fake.duplicate_trades(answers=5)
        doubled = await venue.submit(order("dup-1"))
        fake.garble("/fapi/v1/userTrades", "truncated", executed=True)
        retried = await venue.submit(order("dup-2", side=Side.SELL, reduce_only=True))
    assert [f.trade_id for f in doubled.fills] == [str(fake.trades[0]["id"])]
    assert [f.trade_id for f in retried.fills] == [str(fake.trades[1]["id"])]
    assert len(fake.requests_to("/fapi/v1/userTrades")) == 3


@pytest.mark.parametrize("path, read", [("/fapi/v3/positionRisk", "positions"), ("/fapi/v3/balance", "balance")])
async def test_an_unreadable_account_answer_is_an_error_never_an_empty_account(fake, path, read):
    fake.set_position("BTCUSDT", "0.010")
    fake.garble(path, "truncated", executed=True)
    async with venue_for(fake) as venue:
        with pytest.raises(VenueError, match=f"^Binance: the {read} answer was unreadable$"):
            await getattr(venue, read)()
