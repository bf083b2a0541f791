"""Flattening with no engine running, from the command line.

Testnet and live: the configured keys and exchange settings, straight to Binance. Paper: the
stored paper book, closed at each symbol's last stored price with the paper venue's fees
and slippage. Either way the mode's book is rebuilt from the store, the engine's own flatten (FlattenRun)
closes it, and every close goes through the engine's own order path (intent made durable first,
fills booked and published), so the store, and the next engine start, see the book flat.

`store` needs what `storage.Store` offers (the engine never imports storage): load_state,
positions, last_trades and signal_history; its events come on `bus`, behind the store's ledger.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from engine.book import ModeBook
from engine.config import Config
from engine.events import CommandResult, EngineError, EventBus, FlattenProgress, utcnow
from engine.execution import OrderSender
from engine.book_flatten import book_flatten, settle_flat_book
from engine.flatten import Backoff, FlattenLines, FlattenOutcome
from engine.ids import OrderIds
from engine.model import Mode
from engine.portfolio import Portfolio
from engine.restore import apply_state
from engine.risk import Breakers
from engine.secrets import Secrets
from engine.venues.base import Venue

log = logging.getLogger(__name__)
ZERO = Decimal(0)
Progress = Callable[[str], None]


async def _paper_marks(store: Any, symbols: list[str], entries: dict[str, Decimal],
                       notes: dict[str, str]) -> dict[str, Decimal]:
    """The last stored price of each symbol: its last signal (stored every minute), else its position row's
    mark (stored when the position last changed), else its entry."""
    rows = {r.symbol: r.mark_price for r in await store.positions(Mode.PAPER.value) if r.mark_price}
    marks: dict[str, Decimal] = {}
    for symbol in symbols:
        history = await store.signal_history(symbol, 1)
        if history and history[-1].price:
            marks[symbol] = Decimal(repr(history[-1].price))
        elif symbol in rows:
            marks[symbol] = rows[symbol]
        else:
            marks[symbol] = entries[symbol]
            notes[symbol] = "no stored price: closed at its entry price"
    return marks


async def _paper_clock(store: Any, state: Any) -> Callable[[], datetime]:
    # The simulated market keeps its own clock: the closes come right after the last stored
    # moment, so they replay after every earlier fill and the next session carries on from there.
    times = [state.equity_tail[-1][0]] if state is not None and state.equity_tail else []
    times += [t.ts for t in await store.last_trades(1, Mode.PAPER.value)]
    when = max(times) + timedelta(seconds=1) if times else utcnow()
    return lambda: when


async def flatten_offline(config: Config, secrets: Secrets, mode: str, symbol: str | None, store: Any | None,
                          bus: EventBus, progress: Progress, backoff: Backoff = Backoff()) -> CommandResult:
    """Close every position of `mode` (or `symbol`'s) and report per symbol; publishes as the engine does."""
    target = Mode(mode)
    state = await store.load_state(target.value) if store is not None else None
    notes: dict[str, str] = {}
    prices: dict[str, Decimal] = {}
    if target is Mode.PAPER:
        entries = {s: p.entry_price for s, p in (state.positions if state else {}).items()}
        prices = await _paper_marks(store, list(entries), entries, notes)
        clock = await _paper_clock(store, state)
        from engine.venues.paper import PaperVenue

        venue: Venue = PaperVenue(config.paper, lambda s: float(prices[s]) if s in prices else None, clock=clock)
        if config.market == "sim":  # the simulated market's tick grid, as the engine's paper fills use
            from engine.feeds.sim_specs import spec_for

            await venue.prepare({s: spec_for(s).instrument for s in entries}, config.leverage,
                                config.exchange.margin_mode)
        capital = Decimal(repr(config.initial_capital_usd))
    else:
        from engine.venues.binance import BinanceVenue

        clock = utcnow
        venue = BinanceVenue(config, secrets, target)
        capital = None
    try:
        if capital is None:
            capital = await _exchange_capital(venue, state, progress)
        risk = config.risk
        book = ModeBook(target, venue, Portfolio(target, capital if capital is not None else ZERO),
                        Breakers(risk.daily_loss_limit, risk.max_drawdown), config.leverage)
        if state is not None:
            apply_state(book, state)

        outcome = await flatten_book(book, symbol, prices, clock, bus, progress, backoff)
        if capital is not None:
            bus.publish(book.equity_update(clock()))
    finally:
        await venue.close()
    return _result(outcome, symbol, notes, bus)


async def flatten_book(book: ModeBook, symbol: str | None, prices: dict[str, Decimal], clock: Callable[[], datetime],
                       bus: EventBus, progress: Progress, backoff: Backoff = Backoff()) -> FlattenOutcome:
    """The engine's flatten on `book` (one symbol, or None: all) through the engine's order path,
    its progress as printed lines; what the venue then confirmed flat is flat in the book too."""
    def error(message: str, sym: str | None = None) -> None:
        bus.publish(EngineError(message, sym, ts=utcnow()))
        progress(message)

    def ledger_problem() -> str:
        return bus.ledger.problem if bus.ledger is not None else ""

    sender = OrderSender(bus.publish, error, bus.commit, ledger_problem, OrderIds(utcnow()), clock)
    lines, waited = FlattenLines(), False

    def show(p: FlattenProgress) -> None:
        # A flatten that goes through at once says so in its answer alone; one that has to wait
        # shows how it gets on, as the engine's does.
        nonlocal waited
        waited = waited or p.state == "waiting"
        line = lines.line(p) if waited else None
        if line is not None:
            progress(line)

    run = book_flatten(book, symbol, sender.send, lambda s: prices.get(s, ZERO), show, backoff)
    outcome = await run.run()
    if outcome.confirmed:
        settle_flat_book(book, run.covers, outcome.still_open, clock(), bus.publish,
                         lambda message, _symbol: log.warning("%s", message))
    return outcome


async def _exchange_capital(venue: Venue, state: Any, progress: Progress) -> Decimal | None:
    # As the engine does: the wallet is capital plus everything booked, so the identity holds.
    try:
        wallet = await venue.balance()
    except Exception as e:  # noqa: BLE001 - the flatten goes on; only the equity point is lost
        progress(f"could not read the wallet balance ({e}); no equity point is recorded")
        return None
    booked = (state.realized - state.fees + state.funding) if state is not None else ZERO
    return wallet - booked


def _result(outcome: FlattenOutcome, symbol: str | None, notes: dict[str, str], bus: EventBus) -> CommandResult:
    details = {s: f"{text}; {notes[s]}" if s in notes else text for s, text in sorted(outcome.details.items())}
    message = f"{outcome.message} (no engine was running: flattened directly)"
    result = CommandResult("flatten" if symbol else "flatten_all", outcome.ok, message, symbol, details, ts=utcnow())
    bus.publish(result)
    return result
