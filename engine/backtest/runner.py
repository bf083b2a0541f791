"""The backtest: the engine's own decision path over a history, minute by minute, without a clock.

A real Engine is built (paper book, paper venue, breakers, sizing limits) and each minute runs
the engine's own steps: `_book_minute` (marks, funding, breakers, flatten on a trip),
`_targets` and `_rebalance_all` (sizing, caps, hysteresis, orders through the paper venue into
the Decimal portfolio). Only three things differ from a live run: the factors come from the
batch pipeline, the clock is the data's, and nothing is fanned out to subscribers. The whole
history runs inside one event loop turn per order; a minute without an order never yields.

Minutes in which provably nothing can happen are not stepped (see `quiet.py`): no funding, no
new UTC day, no equity high, no breaker within reach and every symbol's wanted change below its
band by a wide margin. What a stepped minute does is the engine's code, so skipping a minute
that would do nothing changes no result; a test runs both ways and compares.
"""
from __future__ import annotations

import asyncio
import dataclasses
import selectors
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Callable

import numpy as np

from engine.backtest.data import DecimalPrices, MarketData
from engine.backtest.factors import Targets
from engine.backtest.quiet import QuietScreen
from engine.config import Config
from engine.engine import Engine
from engine.events import CommandResult, EngineError, EventBus, FillEvent, FundingPayment
from engine.feeds.sim_specs import spec_for
from engine.model import Fill, Mode
from engine.secrets import Secrets
from engine.venues.paper import PaperVenue

MINUTE = timedelta(minutes=1)
PROGRESS_EVERY = 4096  # minutes


@dataclass
class Recorded:
    fills: list[tuple[int, Fill]] = field(default_factory=list)  # (minute index, fill)
    funding: list[tuple[int, FundingPayment]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)  # (minute index, breaker trip or error)


class _RecordingBus(EventBus):
    """Keeps what a backtest reports (fills, funding, breaker trips); everything else goes nowhere."""

    def __init__(self) -> None:
        super().__init__()
        self.minute = 0
        self.recorded = Recorded()

    def publish(self, event) -> None:
        kind = type(event)
        if kind is FillEvent:
            self.recorded.fills.append((self.minute, event.fill))
        elif kind is FundingPayment:
            self.recorded.funding.append((self.minute, event))
        elif kind is CommandResult or kind is EngineError:
            self.recorded.notes.append((self.minute, event.message))


class _HistoryFeed:
    """What the engine and the paper venue ask of a feed: the latest price of each symbol."""

    name = "replay"
    status = "live"

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def last_price(self, symbol: str) -> float | None:
        return self.last.get(symbol)

    async def close(self) -> None:
        pass


@dataclass
class RunOutcome:
    recorded: Recorded
    capital: Decimal
    final_equity: Decimal
    realized: Decimal
    fees: Decimal
    funding: Decimal
    positions: dict[str, tuple[Decimal, Decimal, Decimal]]  # symbol -> (quantity, mark, unrealized)
    stepped: int  # minutes the engine's step ran for


class _NoPollSelector(selectors.DefaultSelector):
    """The loop polls for I/O on every turn, even with work ready (timeout 0): a system call per
    order here, as each paper order yields once to the loop. A backtest has no I/O of its own, so
    with work ready it does not poll; idle, it waits as usual."""

    def select(self, timeout=None):
        if timeout == 0:
            return []
        return super().select(timeout)


def run(config: Config, data: MarketData, targets: Targets, *, skip_quiet: bool = True,
        progress: Callable[[int], None] | None = None) -> RunOutcome:
    outcome: list[RunOutcome] = []

    async def simulate() -> None:
        # Not the task's result: the runner's SIGINT handler holds the task, and restoring the
        # handler formats its repr, with the result's and so every fill's (seconds on long runs).
        outcome.append(await _simulate(config, data, targets, skip_quiet, progress))

    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(_NoPollSelector())) as runner:
        runner.run(simulate())
    return outcome[0]


async def _simulate(config: Config, data: MarketData, targets: Targets, skip_quiet: bool,
                    progress: Callable[[int], None] | None) -> RunOutcome:
    feed = _HistoryFeed()
    bus = _RecordingBus()
    engine: Engine | None = None

    def paper(mode: Mode) -> PaperVenue:
        return PaperVenue(config.paper, feed.last_price, clock=engine.market_time)

    paper_config = config if config.trading_mode == "paper" else _as_paper(config)
    engine = Engine(paper_config, feed=feed, venue_factory=paper, bus=bus, secrets=Secrets.load(environ={}))
    symbols = data.symbols
    engine._instruments = {s: spec_for(s).instrument for s in symbols}
    book = await engine._open_book(Mode.PAPER)
    engine._books[Mode.PAPER] = book
    engine.mode = Mode.PAPER
    engine.started = True
    # The engine's start-up observation: flat, at the starting capital.
    book.breakers.update(data.time(0), book.portfolio.equity)

    close, funding, target = data.fields["close"], data.fields["funding_rate"], targets.target
    complete = ~np.isnan(close).any(axis=1)  # every symbol has a bar this minute
    prices, rates, last = engine._prices, engine._funding_rates, feed.last
    exact = DecimalPrices()
    screen = QuietScreen(engine, book, data, targets, exact, bus.recorded.fills) if skip_quiet else None
    stepped = 0
    minutes = len(data.times)
    behind = False  # minutes were skipped since the last step: their prices are not in the engine yet
    reported = 0
    i = 0
    while i < minutes:
        if progress is not None and i - reported >= PROGRESS_EVERY:
            progress(i)
            reported = i
        if screen is not None:
            quiet_until = screen.quiet_until(i, min(minutes, i + PROGRESS_EVERY))
            if quiet_until > i:
                behind, i = True, quiet_until
                continue
            if behind:
                screen.refresh_prices(i)
                behind = False
        # One row at a time: most minutes are skipped, and a row costs little next to the step.
        row, rate_row, target_row = close[i].tolist(), funding[i].tolist(), target[i].tolist()
        if complete[i]:
            prices.update(zip(symbols, map(exact.__getitem__, row)))
            rates.update(zip(symbols, rate_row))
            last.update(zip(symbols, row))
        else:
            for j, price in enumerate(row):
                if price == price:  # the symbol has a bar this minute
                    symbol = symbols[j]
                    prices[symbol] = exact[price]
                    rates[symbol] = rate_row[j]
                    last[symbol] = price
        # A symbol without a bar has no target either (NaN).
        factors = {symbol: wanted for symbol, wanted in zip(symbols, target_row) if wanted == wanted}
        bar_open = data.time(i)
        engine._market_time = bar_open + MINUTE
        bus.minute = i
        may_trade = screen.candidates(i) if screen is not None else None
        trades_before = book.portfolio.trade_count
        equity = await engine._book_minute(book, bar_open)
        # A tripped breaker flattens in a task of its own; the live engine's is done within the
        # minute, before anything else of the book changes, and so is this one.
        await engine._operator.flattens_finished()
        only = None
        if may_trade is not None and book.portfolio.trade_count == trades_before and not screen.funding_time[i]:
            # The screen's bound holds (no funding, no flatten since): a symbol it rules out would only
            # be planned to do nothing, so the engine is neither asked for its target nor to plan it.
            only = {symbols[j] for j in np.flatnonzero(may_trade).tolist()}
        notionals = engine._targets(book, factors, equity, only)
        await engine._rebalance_all(book, notionals, factors)
        stepped += 1
        if screen is not None:
            screen.stepped()
        i += 1
    if progress is not None:
        progress(minutes)
    if behind:
        # The last minutes were quiet: the engine would have marked the book at their prices.
        screen.refresh_prices(minutes - 1)
        engine._market_time = data.time(minutes - 1) + MINUTE
        book.portfolio.mark_all(prices)
    portfolio = book.portfolio
    positions = {s: (p.quantity, p.mark, p.unrealized) for s, p in portfolio.open_positions().items()}
    return RunOutcome(bus.recorded, portfolio.capital, portfolio.equity, portfolio.realized, portfolio.fees,
                      portfolio.funding, positions, stepped)


def _as_paper(config: Config) -> Config:
    return dataclasses.replace(config, trading_mode="paper")

