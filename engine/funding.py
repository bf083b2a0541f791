"""Paper funding: every 8-hourly funding time is settled once, with the rate that settled then.

A bar's `funding_rate` is the last settled rate at the bar's open time, so the rate that
settled at a funding time T is the one carried by the first bar that opens at or after T.
Each processed minute therefore settles every funding time in (previous bar's open, this
bar's open]: a minute that closes exactly on T leaves it to the next bar, and a gap across T
settles it once when the bars come back. The last settled time comes back from the store at
start, so a restarted run neither repeats a settlement nor skips one it was down for.

What is paid on is what was held at T: the orders made on the close of the minute ending at T
reach an exchange after T, so the book's positions are noted before that minute trades. Where
no such note exists (that minute was missing, or the engine started after it) nothing traded
since, and the positions as they stand are the ones held at T.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable, Iterator, Mapping

from engine.events import FundingPayment
from engine.portfolio import Portfolio
from engine.model import Mode

FUNDING_PERIOD = timedelta(hours=8)
MINUTE = timedelta(minutes=1)


def is_funding_time(ts: datetime) -> bool:
    return ts.hour % 8 == 0 and ts.minute == 0 and ts.second == 0 and ts.microsecond == 0


def funding_times(after: datetime, upto: datetime) -> Iterator[datetime]:
    """The funding times T with after < T <= upto, oldest first."""
    midnight = after.replace(hour=0, minute=0, second=0, microsecond=0)
    t = midnight + FUNDING_PERIOD * (int((after - midnight) / FUNDING_PERIOD) + 1)
    while t <= upto:
        yield t
        t += FUNDING_PERIOD


class FundingClock:
    """Which funding times one mode's book still has to settle."""

    def __init__(self, settled_upto: datetime | None = None) -> None:
        # Everything at or before this instant is settled (or was crossed with nothing to settle).
        self.settled_upto = settled_upto
        self._held: tuple[datetime, dict[str, Decimal]] | None = None  # (funding time, quantities then)

    def note_held(self, bar_open: datetime, portfolio: Portfolio) -> None:
        """Before a minute trades: if it closes on a funding time, what the book holds now is what
        that time is paid on."""
        close = bar_open + MINUTE
        if is_funding_time(close):
            self._held = (close, {s: p.quantity for s, p in portfolio.open_positions().items()})

    def held_at(self, ts: datetime) -> dict[str, Decimal] | None:
        """The quantities noted for funding time `ts`, if they were."""
        return self._held[1] if self._held is not None and self._held[0] == ts else None

    def resume(self, last_settled: datetime | None, last_bar_open: datetime | None) -> None:
        """At start: funding up to the later of the last stored payment and the last stored bar is done."""
        known = [t for t in (self.settled_upto, last_settled, last_bar_open) if t is not None]
        self.settled_upto = max(known) if known else None

    def skip_to(self, bar_open: datetime) -> None:
        """Count everything up to `bar_open` as settled without paying it (the exchange did)."""
        if self.settled_upto is None or bar_open > self.settled_upto:
            self.settled_upto = bar_open

    def due(self, bar_open: datetime) -> list[datetime]:
        """Funding times this bar settles; afterwards they count as settled."""
        if self.settled_upto is None:
            # The first bar this book ever sees: what came before it was never held here.
            self.settled_upto = bar_open
            return []
        if bar_open <= self.settled_upto:
            return []
        times = list(funding_times(self.settled_upto, bar_open))
        self.settled_upto = bar_open
        return times


def settle(mode: Mode, portfolio: Portfolio, times: list[datetime], rates: Mapping[str, float],
           held_at: Callable[[datetime], Mapping[str, Decimal] | None] = lambda ts: None) -> list[FundingPayment]:
    """Apply the funding of `times` to the positions held at each (`held_at`, else the open ones),
    at the current mark; the payments made.

    `rates` maps each symbol to the rate settled at those times (its newest bar's rate); with
    several times crossed by one gap, each is paid at that newest rate, the only one known.
    """
    payments = []
    for ts in times:
        held = held_at(ts)
        if held is None:
            held = {s: p.quantity for s, p in portfolio.open_positions().items()}
        for symbol, quantity in held.items():
            rate = Decimal(repr(rates.get(symbol, 0.0)))
            mark = portfolio.positions[symbol].mark
            amount = portfolio.apply_funding(quantity, rate, mark)
            payments.append(FundingPayment(mode, symbol, ts, rate, quantity, mark, amount))
    return payments
