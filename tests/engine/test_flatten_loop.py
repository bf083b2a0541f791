"""The direct flatten's loop: it waits out failures (backoff, Retry-After), stops on an error
more tries cannot fix, and says flat only after a fresh position read."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import ccxt

from engine.book import ModeBook
from engine.execution import OrderSender
from engine.flatten_loop import flatten_until_flat
from engine.ids import OrderIds
from engine.model import Fill, Mode, OrderRequest, OrderResult, VenuePosition
from engine.portfolio import Portfolio
from engine.risk import Breakers
from engine.venues.binance import BinanceCallError
from tests.fake_binance.helpers import RecordingSleep

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


class ScriptedVenue:
    """Positions that only our closes change; failures come from the script, in order."""

    mode = Mode.TESTNET

    def __init__(self, held: dict[str, str], read_failures: list[BaseException] = (), send_failures: int = 0) -> None:
        self.held = {s: Decimal(q) for s, q in held.items()}
        self.read_failures = list(read_failures)
        self.send_failures = send_failures
        self.reads = 0
        self.cancelled: list[str] = []

    async def positions(self) -> dict[str, VenuePosition]:
        self.reads += 1
        if self.read_failures:
            raise self.read_failures.pop(0)
        return {s: VenuePosition(s, q, Decimal(100)) for s, q in self.held.items() if q}

    async def cancel_all(self, symbol=None) -> None:
        self.cancelled.append(symbol)

    async def submit(self, order: OrderRequest) -> OrderResult:
        if self.send_failures:
            self.send_failures -= 1
            return OrderResult(order, "error", message=f"{order.symbol}: no answer")
        self.held[order.symbol] += order.quantity * order.side.sign
        fill = Fill(self.mode, order.symbol, order.side, order.quantity, Decimal(100), Decimal(0), "USDT", NOW,
                    order.client_order_id, f"t-{order.client_order_id}")
        return OrderResult(order, "filled", (fill,))


def rate_limited(seconds: int) -> BinanceCallError:
    cause = ccxt.DDoSProtection("429")
    cause.retry_after = seconds
    return BinanceCallError("Binance: reading positions failed: rate limited", cause)


async def run(venue: ScriptedVenue, sleep: RecordingSleep, wanted=lambda s: True):
    book = ModeBook(Mode.TESTNET, venue, Portfolio(Mode.TESTNET, Decimal(1000)), Breakers(0, 0), 5)
    for symbol, qty in venue.held.items():
        book.portfolio.adopt(symbol, qty, Decimal(100))
    events, lines = [], []
    async def committed() -> None:
        pass

    sender = OrderSender(events.append, lambda m, s=None: lines.append(m), committed, lambda: "", OrderIds(NOW),
                         lambda: NOW)
    report = await flatten_until_flat(book, sender, wanted, {}, lines.append, sleep=sleep)
    return report, lines, book


async def test_failures_are_waited_out_with_backoff_and_the_exchanges_retry_after():
    venue = ScriptedVenue({"BTCUSDT": "0.5", "ETHUSDT": "-2"}, read_failures=[rate_limited(60)], send_failures=3)
    sleep = RecordingSleep()
    report, lines, book = await run(venue, sleep)
    assert report.ok and report.message == "flat: 2 position(s) closed"
    assert report.details == {"BTCUSDT": "closed 0.5", "ETHUSDT": "closed 2"}
    assert sleep.waits == [60.0, 0.4, 0.8]  # Retry-After first, then the doubling backoff
    assert venue.held == {"BTCUSDT": 0, "ETHUSDT": 0} and book.portfolio.open_positions() == {}
    assert "next try in 60.0 s" in lines[0]
    assert set(venue.cancelled) == {"BTCUSDT", "ETHUSDT"}


async def test_a_rejected_key_stops_at_once_and_only_a_fresh_read_says_flat():
    auth = BinanceCallError("Binance: reading positions failed: API key rejected", ccxt.AuthenticationError("-2015"))
    venue = ScriptedVenue({"BTCUSDT": "0.5"}, read_failures=[auth])
    sleep = RecordingSleep()
    report, _, _ = await run(venue, sleep)
    assert not report.ok and report.message == "stopped: Binance: reading positions failed: API key rejected"
    assert sleep.waits == [] and venue.held["BTCUSDT"] == Decimal("0.5")

    only_eth = ScriptedVenue({"BTCUSDT": "0.5", "ETHUSDT": "1"})
    report, _, _ = await run(only_eth, RecordingSleep(), wanted=lambda s: s == "ETHUSDT")
    assert report.ok and only_eth.held == {"BTCUSDT": Decimal("0.5"), "ETHUSDT": 0}
    assert only_eth.reads == 2  # the close, then the read that confirmed it
