"""Testnet/live funding is the exchange's own income, booked once."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from engine.book import ModeBook
from engine.events import FundingPayment
from engine.exchange_funding import ExchangeFunding
from engine.model import FundingIncome, Mode
from engine.portfolio import Portfolio
from engine.risk import Breakers
from tests.fake_binance.helpers import RecordingSleep, eventually

T = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)


class IncomeVenue:
    """Lists its income rows from the second read on (Binance lists a fee a moment after the time)."""

    def __init__(self, rows):
        self.rows = rows
        self.asked = []

    async def funding_since(self, since):
        self.asked.append(since)
        return [r for r in self.rows if r.ts > since] if len(self.asked) > 1 else []


def book_with(venue):
    book = ModeBook(Mode.TESTNET, venue, Portfolio(Mode.TESTNET, Decimal(1000)), Breakers(0, 0), 5)
    book.portfolio.adopt("BTCUSDT", Decimal("0.01"), Decimal("50000"))
    return book


async def test_funding_is_read_after_the_funding_time_and_booked_once():
    late = FundingIncome("BTCUSDT", T + timedelta(milliseconds=12), Decimal("-0.37"))
    venue = IncomeVenue([late])
    book = book_with(venue)
    book.last_funding_at = T - timedelta(hours=8)
    published = []
    sleep = RecordingSleep()
    funding = ExchangeFunding(published.append, lambda: T, sleep=sleep, first_wait_s=5.0, tries=4)
    funding.due(book, T)
    await eventually(lambda: any(isinstance(e, FundingPayment) for e in published), what="the payment")
    funding.due(book, T)  # asked again for the same time: nothing new
    await eventually(lambda: len(venue.asked) >= 3, what="the second read")
    await funding.close()
    payments = [e for e in published if isinstance(e, FundingPayment)]
    assert [(p.symbol, p.ts, p.amount, p.quantity) for p in payments] == [("BTCUSDT", late.ts, Decimal("-0.37"),
                                                                            Decimal("0.01"))]
    assert book.portfolio.funding == Decimal("-0.37") and book.last_funding_at == late.ts
    assert sleep.waits[:2] == [5.0, 10.0]


async def test_nothing_held_means_nothing_asked():
    venue = IncomeVenue([])
    book = book_with(venue)
    book.portfolio.adopt("BTCUSDT", Decimal(0), Decimal(0))
    funding = ExchangeFunding(lambda e: None, lambda: T, sleep=RecordingSleep())
    funding.due(book, T)
    await funding.close()
    assert venue.asked == []
