"""The trading engine: bar-close driven, one book per trading mode, operator commands first.

Each closed minute: mark positions, settle any funding time crossed (engine.funding), check the
breakers, run the strategy for the whole universe, size and send orders one at a time (stepping
aside for any operator command), then publish the minute's signals (one SignalBatch) and equity.
Positions are published only when they change. Everything the engine
does is published on its event bus; commands also return their CommandResult.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable, Container

import numpy as np

from engine.book import ModeBook
from engine.commands import CommandGate
from engine.config import Config
from engine.events import (CommandResult, EngineError, EngineState, EquityUpdate, Event, EventBus,
                           FillEvent, PositionUpdate, SignalBatch, SignalUpdate, utcnow)
from engine.exchange_funding import ExchangeFunding
from engine.execution import OrderSender
from engine.feeds.base import Feed
from engine.funding import funding_times, settle
from engine.idle import funding_hint, idle_status
from engine.ids import OrderIds
from engine.model import Bar, Instrument, Mode, OrderResult, Side
from engine.operator import Operator
from engine.portfolio import Portfolio
from engine.recovery import recover
from engine.restore import apply_state, merge_controls
from engine.risk import Breakers
from engine.secrets import Secrets
from engine.signals import StrategyRunner, bar_problem
from engine.sizing import PlannedOrder, SizingLimits, plan_orders, target_notionals
from engine.startup import StartError, StartRetry, keep_trying
from engine.statefile import StateFile
from engine.store import StateStore
from engine.venues.base import Venue
from engine.warmup import CLOSE, FUNDING, WarmHistory

log = logging.getLogger(__name__)
ZERO = Decimal(0)
MINUTE = timedelta(minutes=1)
FEED_STATUS_CHECK_S = 1.0
STORE_READ_WAIT_S = 10.0
RESTORE_RETRY_S = (0.5, 10.0)  # first and longest wait between tries to read a book back
SIGNALS_PER_STEP = 128
WARM_TURN_S = 0.02  # the warm-up's share of one event-loop turn: keys and redraws get in between
FULL_COLLECTION_EVERY = 100  # young collections per full one while running (Python: 10)


@dataclass(frozen=True)
class EngineSnapshot:
    state: EngineState
    signals: dict[str, SignalUpdate]
    positions: dict[str, PositionUpdate]  # open ones, at the current marks
    equity: EquityUpdate | None
    fills: list[FillEvent]
    equity_history: list[tuple[datetime, Decimal]]


class Engine:
    def __init__(self, config: Config, *, feed: Feed, venue_factory: Callable[[Mode], Venue], bus: EventBus,
                 secrets: Secrets, store: StateStore | None = None, state_file: StateFile | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self.feed = feed
        self.bus = bus
        self.secrets = secrets
        self.store = store
        self.state_file = state_file
        self.market = config.market
        self.mode = Mode(config.trading_mode)
        self.started = False
        self._venue_factory = venue_factory
        self._wall_clock = clock or utcnow
        # What every event is stamped with: the market's own time, except on the real market.
        self._clock = self._wall_clock if self.market == "binance" else self.market_time
        self._gate = CommandGate()
        self._orders = OrderSender(self._publish, self._error, bus.commit, self._ledger_problem,
                                   OrderIds(self._wall_clock()), self.market_time, uncertain_changed=self._publish_state,
                                   fill_booked=lambda book: self._operator.fill_booked(book))
        self._recovery = ""  # why testnet/live start-up recovery is not done yet
        self._exchange_funding = ExchangeFunding(self._publish, self.market_time)
        self._limits = SizingLimits.from_config(config)
        self._instruments: dict[str, Instrument] = {}
        self._runner: StrategyRunner | None = None
        self._books: dict[Mode, ModeBook] = {}
        self._paused: set[str] = set()
        self._mismatched: set[str] = set()
        self._halted = False
        self._halt_reason = ""
        self._signals: dict[str, SignalUpdate] = {}
        self._prices: dict[str, Decimal] = {}
        self._prev_close: dict[str, float] = {}
        self._funding_rates: dict[str, float] = {}
        self._market_time: datetime | None = None
        self._feed_status = ""
        self._stop = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False
        self._live_bars = 0
        self._operator = Operator(self, secrets=secrets,
                                  reconcile_interval_s=config.exchange.reconcile_interval_s)
        self._ban_shown: datetime | None = None
        self._restored_mode: str | None = None
        self._live_confirmed = False
        self._gc_threshold: tuple[int, int, int] | None = None  # Python's, while the run has its own
        self._skipping: dict[str, Side] = {}  # symbols whose wanted order is below the exchange minimum
        self._resources_open = False
        self._restore_tasks: list[asyncio.Task] = []
        self._connecting = ""  # start-up's retry status, shown until the mode is up
        self._start_retry = StartRetry()

    # -- reading -------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        return list(self._instruments)

    @property
    def stop_requested(self) -> bool:
        """stop() was called (a signal, the desk's quit), rather than the run ending by itself."""
        return self._stop.is_set()

    @property
    def live_bars(self) -> int:
        return self._live_bars

    @property
    def open_position_count(self) -> int:
        book = self._book
        return len(book.portfolio.open_positions()) if book else 0

    def market_time(self) -> datetime:
        """The close time of the last processed bar. Before the first one: the wall clock on the real
        market, the feed's own clock on a simulated or replayed one (where the wall clock means nothing)."""
        if self._market_time is not None:
            return self._market_time
        feed_clock = getattr(self.feed, "now", None) if self.market != "binance" else None
        return (feed_clock() if feed_clock is not None else None) or self._wall_clock()

    @property
    def _book(self) -> ModeBook | None:
        return self._books.get(self.mode)

    def state(self) -> EngineState:
        book = self._book
        return EngineState(mode=self.mode, market=self.market, halted=self._halted, halt_reason=self._halt_reason,
                           paused=frozenset(self._paused),
                           breakers=dict(book.breakers.tripped) if book else {},
                           mismatched=frozenset(self._mismatched), feed_status=self.feed.status,
                           ts=self._clock(), connecting=self._connecting,
                           uncertain=self._orders.uncertain.symbols, recovery=self._recovery,
                           flattening=self._operator.flattening, rate_limited_until=self._rate_limited_until())

    def snapshot(self) -> EngineSnapshot:
        book = self._book
        return EngineSnapshot(
            state=self.state(), signals=dict(self._signals),
            positions=book.open_positions(self.market_time()) if book else {},
            equity=book.last_equity if book else None,
            fills=list(book.fills) if book else [], equity_history=list(book.equity_history) if book else [])

    def detach_store(self) -> None:
        """Carry on without the store (it could not be opened): nothing is restored or recorded."""
        if self.store is not None and self.bus.ledger is getattr(self.store, "ledger", None):
            self.bus.attach_ledger(None)
        self.store = None

    def _ledger_problem(self) -> str:
        ledger = self.bus.ledger
        return ledger.problem if ledger is not None else ""

    def _publish(self, event: Event) -> None:
        self.bus.publish(event)

    def _publish_state(self) -> None:
        self._feed_status = self.feed.status
        state = self.state()
        self._ban_shown = state.rate_limited_until
        self._publish(state)

    def _rate_limited_until(self) -> datetime | None:
        book = self._book
        left = book.venue.rate_limited_for() if book else 0.0
        return self._clock() + timedelta(seconds=left) if left > 0 else None

    def _ban_changed(self) -> bool:
        until, shown = self._rate_limited_until(), self._ban_shown
        if until is None or shown is None:
            return until is not shown
        return abs((until - shown).total_seconds()) > 1.0

    def _error(self, message: str, symbol: str | None = None) -> None:
        log.warning("%s", message)
        self._publish(EngineError(message, symbol, ts=self._clock()))

    # -- lifecycle -----------------------------------------------------------------

    async def run(self, max_bars: int | None = None) -> None:
        """Start up, warm up, then trade each closed minute until stop() or `max_bars` live bars."""
        if self._running:
            raise RuntimeError("the engine is already running")
        self._running = True
        self._resources_open = True
        self._finished.clear()
        try:
            await self._start_up()
            if self._stop.is_set():
                return
            self.started = True
            self._publish_state()
            await self._live_loop(max_bars)
        except StartError as e:  # the caller shows it in its own words (headless: stderr, exit 2)
            log.error("%s", e)
            raise
        except Exception as e:
            self._error(f"the engine stopped: {e}")
            raise
        finally:
            self.started = False
            await self._shut_down()
            self._running = False
            self._finished.set()

    async def stop(self) -> None:
        """Let the minute in progress finish its orders, then close the feed and the venues."""
        self._stop.set()
        if self._running:
            await self._finished.wait()

    async def _shut_down(self) -> None:
        if not self._resources_open:
            return
        self._resources_open = False
        await self._operator.close()
        for task in self._restore_tasks:
            task.cancel()
        self._restore_tasks.clear()
        await self._orders.uncertain.close()
        await self._exchange_funding.close()
        gc.unfreeze()  # the run is over; its long-lived objects may become garbage like any other
        if self._gc_threshold is not None:
            gc.set_threshold(*self._gc_threshold)
            self._gc_threshold = None
        with contextlib.suppress(Exception):
            await self.feed.close()
        for book in self._books.values():
            try:
                await book.venue.close()
            except Exception as e:  # noqa: BLE001 - closing must reach every venue
                log.warning("closing the %s venue failed: %s", book.mode.value, e)
        self._publish_state()

    async def _start_up(self) -> None:
        await self._continue_simulated_clock()
        instruments = await self._keep_trying("connecting to the market data", self.feed.start)
        if instruments is None:
            return
        self._instruments = instruments
        self._runner = StrategyRunner(self.symbols, self.config.strategy_params())
        await self._restore_controls()
        await self._activate_start_mode()
        if self._stop.is_set():
            return
        await self._warm_up()
        book = self._book
        book.portfolio.mark_all(self._prices)
        hint = funding_hint(self.config, book.portfolio.equity, [i.min_notional for i in self._instruments.values()])
        if hint:
            self._error(hint)
        ts = self.market_time()
        if not book.restoring:
            book.breakers.update(ts, book.portfolio.equity)
            for update in book.open_positions(ts).values():
                self._publish(update)
            self._publish(book.equity_update(ts))
        await self.bus.commit()
        # What is alive now (libraries, instruments, strategy state) lives for the whole run. A full
        # collection walks all of it (tens of ms with pandas loaded) and would stall a live bar; clear
        # the warm-up's garbage now and leave the rest out of later passes.
        gc.collect()
        gc.freeze()
        # Young objects are still collected as often as before; a full pass over everything that
        # lives long (the desk's widgets and caches too) is what stalls a bar, and once every ten
        # young passes is every few seconds at 500 symbols. Once every hundred is plenty.
        self._gc_threshold = gc.get_threshold()
        young, middle, _ = self._gc_threshold
        gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)

    async def _continue_simulated_clock(self) -> None:
        """A restarted simulated or replayed market carries on after the last recorded bar, so a new
        session never writes over, or beside, the times an earlier session already recorded."""
        resume_after = getattr(self.feed, "resume_after", None)
        if resume_after is None or self.store is None:
            return
        try:
            newest = await asyncio.wait_for(self.store.resume_after(), STORE_READ_WAIT_S)
        except Exception as e:  # noqa: BLE001 - reported again, with more context, by the restore
            log.warning("could not read the last recorded bar time: %s", e)
            return
        if newest is None:
            return
        resume_after(newest)
        carry_on_from = getattr(self.feed, "carry_on_from", None)  # a market that makes its own prices
        if carry_on_from is None:
            return
        try:
            last = await asyncio.wait_for(self.store.last_market(), STORE_READ_WAIT_S)
        except Exception as e:  # noqa: BLE001 - the clock still carries on; only prices start afresh
            log.warning("could not read the last recorded prices (the market starts from its own): %s", e)
            return
        carry_on_from(last)

    async def _restore_controls(self) -> None:
        stored = None
        if self.store is not None:
            try:
                stored = await self.store.load_controls()
            except Exception as e:  # noqa: BLE001 - a broken store must not stop trading
                self._error(f"could not read the saved controls from the store: {e}")
        file_data = self.state_file.read() if self.state_file else {}
        if self.state_file and self.state_file.problem:
            self._error(self.state_file.problem)
        controls = merge_controls(stored, file_data, str(self.state_file.path) if self.state_file else "")
        for problem in controls.problems:
            self._error(problem)
        self._paused = {s for s in controls.paused if s in self._instruments}
        self._halted, self._halt_reason = controls.halted, controls.halt_reason
        self._restored_mode = controls.mode

    async def _activate_start_mode(self) -> None:
        wanted = self.mode
        restored = self._restored_mode
        # An explicit non-paper mode (config or command line) wins; otherwise the last session's
        # mode comes back, except live, which always needs a fresh typed confirmation.
        if wanted is Mode.PAPER and restored == "testnet":
            wanted = Mode(restored)
        elif wanted is Mode.PAPER and restored == "live":
            self._error("the last session ran in live mode; switch to live again (it needs the typed confirmation)")
        if wanted is not Mode.PAPER:
            allowed, why = self.can_trade(wanted.value)
            if allowed and wanted is Mode.LIVE and not self._live_confirmed:
                allowed, why = False, "live trading at start needs the typed confirmation (LIVE)"
            if allowed:
                try:
                    book = await self._keep_trying(f"starting {wanted.value}", lambda: self._open_book(wanted))
                    if book is None:
                        return  # stopped while connecting
                    self._books[wanted] = book
                    self.mode = wanted
                    self._operator.start_reconcile_loop()
                    return
                except Exception as e:  # noqa: BLE001 - reported below in one sentence
                    why = f"could not start {wanted.value}: {e}"
            if self.mode is wanted:
                # Asked for explicitly (config or command line): never quietly paper instead.
                raise StartError(f"{why}; not trading", wanted.value)
            self._error(f"{why}; running in paper mode instead")
            self._publish(CommandResult("set_mode", False, f"{why}; running in paper mode instead",
                                        ts=self._clock()))
        self.mode = Mode.PAPER
        self._books[Mode.PAPER] = await self._open_book(Mode.PAPER)

    async def _keep_trying(self, what: str, call):
        """Start-up steps wait out network trouble for as long as it lasts (see engine.startup)."""
        def report(attempt: int, wait: float, error: BaseException) -> None:
            self._connecting = f"attempt {attempt}, next in {wait:.0f} s"
            self._error(f"connecting ({self._connecting}): {what}: {error}")
            self._publish_state()
        try:
            return await keep_trying(call, self._start_retry, self._stop, report)
        finally:
            if self._connecting:
                self._connecting = ""
                self._publish_state()

    async def _open_book(self, mode: Mode) -> ModeBook:
        """Create the venue for `mode`, set it up and load what the store knows of the mode.

        Fails closed: when the store cannot say what the book holds, the book is marked as
        restoring and trades nothing (and records no equity) until a retry reads it back.
        """
        venue = self._venue_factory(mode)
        try:
            await venue.prepare(self._instruments, self.config.leverage, self.config.exchange.margin_mode)
            state, problem = await self._read_book(mode)
            if mode is Mode.PAPER:
                capital = Decimal(repr(self.config.initial_capital_usd))
            else:
                # The wallet is capital plus everything booked so far, so the identity holds.
                wallet = await venue.balance()
                booked = (state.realized - state.fees + state.funding) if state else ZERO
                capital = wallet - booked
            risk = self.config.risk
            book = ModeBook(mode, venue, Portfolio(mode, capital), Breakers(risk.daily_loss_limit, risk.max_drawdown),
                            self.config.leverage)
            if problem:
                book.restoring = problem
                self._error(f"{mode.value}: not trading until the book is read back from the store: {problem}")
                self._restore_tasks.append(asyncio.ensure_future(self._restore_later(book)))
            elif state is not None:
                apply_state(book, state)
            if mode is not Mode.PAPER and not problem:
                await self._recover(book, state)
                await self._operator.reconcile(book, announce_ok=True)
            return book
        except BaseException:
            with contextlib.suppress(Exception):
                await venue.close()
            raise

    async def _read_book(self, mode: Mode):
        """(the store's state of `mode` or None, "" or why it could not be read)."""
        if self.store is None:
            return None, ""
        try:
            return await asyncio.wait_for(self.store.load_state(mode.value), STORE_READ_WAIT_S), ""
        except Exception as e:  # noqa: BLE001 - any failure means: we do not know the book
            return None, str(e) or type(e).__name__

    async def _restore_later(self, book: ModeBook) -> None:
        wait, longest = RESTORE_RETRY_S
        attempt = 1
        while book.restoring:
            attempt += 1
            await asyncio.sleep(wait)
            state, problem = await self._read_book(book.mode)
            if problem:
                book.restoring = f"{problem} (attempt {attempt}, next in {min(wait * 2, longest):.0f} s)"
                log.warning("%s book: %s", book.mode.value, book.restoring)
                wait = min(wait * 2, longest)
                continue
            async with self._gate.command():
                if state is not None:
                    apply_state(book, state)
                    if book.mode is not Mode.PAPER:
                        # The wallet was read before the book's history was known: re-base on it.
                        book.portfolio.capital -= state.realized - state.fees + state.funding
                book.restoring = ""
                if book.mode is not Mode.PAPER:
                    await self._recover(book, state)
                    await self._operator.reconcile(book, announce_ok=True)
            self._publish(CommandResult("restore", True, f"{book.mode.value}: book read back from the store "
                                                         f"({len(book.portfolio.open_positions())} open position(s)); "
                                                         f"trading resumes", ts=self._clock()))
            self._publish_state()

    async def _recover(self, book: ModeBook, state) -> None:
        """Bring what the exchange did while we were away into the book; no order goes out before."""
        def report(why: str) -> None:
            self._recovery = why
            if why:
                self._error(why)
            self._publish_state()

        async def pause(seconds: float) -> None:  # a stop ends the wait at once
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), seconds)

        summary = await recover(book, state, self._orders, self._publish, self.market_time, report=report,
                                stopped=self._stop.is_set, sleep=pause)
        log.info("recover: %s", summary)
        self._publish(CommandResult("recover", True, summary, ts=self._clock()))

    async def _warm_up(self) -> None:
        wanted = (self.config.data_fetch_limit if self.market == "binance"
                  else max(self.config.sim.warmup_bars, self._runner.warmup_bars))
        history = await self._warm_history(wanted)
        release = getattr(self.feed, "release_warmup", None)
        if release is not None:
            release()
        symbols = self.symbols
        for t, j in np.argwhere(history.bad()).tolist():
            bar = history.bar(symbols[j], t, j)
            self._error(f"{bar.symbol}: bad bar at {bar.ts:%Y-%m-%d %H:%M} skipped: {bar_problem(bar)}", bar.symbol)
            history.present[t, j] = False
        stamps, present = history.stamps, history.present
        if not stamps or self._stop.is_set():
            return
        self._catch_up_warm_funding(history)
        # The whole history but its last minute in one pass (in slices, so the desk stays responsive),
        # then the last minute as a live one would be, for the signals shown at start.
        last = len(stamps) - 1
        begin, size = 0, 8
        while begin < last:
            if self._stop.is_set():
                return
            end = min(begin + size, last)
            started = time.perf_counter()
            self._runner.warm(stamps[begin:end], history.strategy_inputs(begin, end), present[begin:end])
            spent = time.perf_counter() - started
            # A minute costs what the universe's size and kernel make it: slices are sized by time.
            size = max(1, min(2 * size, round(size * WARM_TURN_S / max(spent, 1e-6))))
            begin = end
            await asyncio.sleep(0)
        final = {symbols[j]: history.bar(symbols[j], last, j) for j in np.flatnonzero(present[last]).tolist()}
        results, errors = self._runner.update(final)
        for symbol, message in errors.items():
            self._error(f"{symbol}: warm-up: {message}", symbol)
        closes, rates = history.fields[:, CLOSE], history.fields[:, FUNDING]
        latest, previous = history.last_index(), history.previous_index()
        for j, symbol in enumerate(symbols):
            if latest[j] >= 0:
                self._prices[symbol] = Decimal(repr(float(closes[latest[j], j])))
                self._funding_rates[symbol] = float(rates[latest[j], j])
            if previous[j] >= 0:
                self._prev_close[symbol] = float(closes[previous[j], j])
        self._market_time = max(self._market_time or stamps[last], stamps[last] + MINUTE)
        ts = self.market_time()
        self._note_signals([s for s in symbols if s in self._prices], results, {}, self._book, ts)
        self._publish_signals(ts)

    async def _warm_history(self, wanted: int) -> WarmHistory:
        from_arrays = getattr(self.feed, "warmup_history", None)
        if from_arrays is not None:
            return from_arrays(wanted)

        async def history(symbol: str) -> list[Bar]:
            try:
                return await self.feed.warmup(symbol, wanted)
            except Exception as e:  # noqa: BLE001 - one symbol's history must not stop the rest
                self._error(f"{symbol}: warm-up history unavailable: {e}", symbol)
                return []

        histories = await asyncio.gather(*(history(s) for s in self.symbols))
        return WarmHistory.from_bars(self.symbols, histories)

    def _catch_up_warm_funding(self, history: WarmHistory) -> None:
        """The funding times the warm-up history crosses, each settled at the bar opening on (or
        first after) it, with the prices and rates known then, as minute-by-minute would."""
        book = self._book
        stamps, symbols = history.stamps, self.symbols
        for t, ts in enumerate(stamps):
            crossed = not t or t == len(stamps) - 1 or any(funding_times(stamps[t - 1], ts))
            if not crossed and book.funding_clock.settled_upto is not None:
                continue  # nothing to settle here: minute by minute would change nothing either
            carried = history.carried(t)
            for j in np.flatnonzero(carried >= 0).tolist():
                self._prices[symbols[j]] = Decimal(repr(float(history.fields[carried[j], CLOSE, j])))
                self._funding_rates[symbols[j]] = float(history.fields[carried[j], FUNDING, j])
            self._catch_up_funding(book, ts)

    # -- the live loop -------------------------------------------------------------

    async def _live_loop(self, max_bars: int | None) -> None:
        stream = self.feed.stream()
        stopping = asyncio.ensure_future(self._stop.wait())
        watching = asyncio.ensure_future(self._watch_feed_status())
        try:
            while not self._stop.is_set():
                following = asyncio.ensure_future(anext(stream))
                await asyncio.wait({following, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not following.done():
                    following.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await following
                    break
                try:
                    bars = following.result()
                except StopAsyncIteration:
                    break
                try:
                    await self._process_minute(bars)
                except Exception as e:  # noqa: BLE001 - one bad minute must not end trading
                    log.exception("processing a minute failed")
                    self._error(f"processing the bars of {self.market_time():%Y-%m-%d %H:%M} failed: {e}")
                self._live_bars += 1
                if max_bars is not None and self._live_bars >= max_bars:
                    break
            await self.bus.commit()  # the last minutes' events are delivered before the run ends
        finally:
            stopping.cancel()
            watching.cancel()
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def _watch_feed_status(self) -> None:
        # A feed can go stale or reconnect while no bar arrives; the operator should see it then.
        take_notices = getattr(self.feed, "take_notices", None)
        while True:
            await asyncio.sleep(FEED_STATUS_CHECK_S)
            for message, symbol in take_notices() if take_notices else ():
                self._error(message, symbol)  # logged, drawn on the desk and printed by headless runs
            if self.feed.status != self._feed_status or self._ban_changed():
                self._publish_state()

    def _usable(self, bars: dict[str, Bar] | list[Bar]) -> dict[str, Bar]:
        out: dict[str, Bar] = {}
        for bar in (bars.values() if isinstance(bars, dict) else bars):
            if bar.symbol not in self._instruments:
                continue
            problem = bar_problem(bar)
            if problem:
                self._error(f"{bar.symbol}: bad bar at {bar.ts:%Y-%m-%d %H:%M} skipped: {problem}", bar.symbol)
                continue
            out[bar.symbol] = bar
        return out

    def _note_bars(self, bars: dict[str, Bar]) -> None:
        prices, rates = self._prices, self._funding_rates
        for symbol, bar in bars.items():
            prices[symbol] = Decimal(repr(bar.close))
            rates[symbol] = bar.funding_rate
        close = max(bar.ts for bar in bars.values()) + MINUTE
        if self._market_time is None or close > self._market_time:
            self._market_time = close

    async def _process_minute(self, minute: list[Bar]) -> None:
        bars = self._usable(minute)
        if self.feed.status != self._feed_status:
            self._publish_state()
        if not bars:
            return
        book = self._book
        self._note_bars(bars)
        if book.restoring:
            await self._signals_only(bars, book)
            return
        ts = self.market_time()
        equity = await self._book_minute(book, min(bar.ts for bar in bars.values()))

        results, errors = self._runner.update(bars)
        for symbol, message in errors.items():
            self._error(f"{symbol}: {message}", symbol)
        # A minute of many symbols is cut into steps, so the desk's keys and redraws (same loop)
        # and operator commands get in between.
        await asyncio.sleep(0)
        if self._book is not book:
            return  # the operator switched modes: this minute's plan is void
        ready, blocked = self._runner.ready, self._untradable()
        factors = {s: float(r["target_factor"]) for s, r in results.items()
                   if r is not None and s not in blocked and ready(s)}
        targets = self._targets(book, factors, equity)
        if not await self._rebalance_all(book, targets, factors):
            return  # the operator switched modes mid-minute: this minute's plan is void
        symbols = list(bars)
        for start in range(0, len(symbols), SIGNALS_PER_STEP):
            self._note_signals(symbols[start:start + SIGNALS_PER_STEP], results, targets, book, ts)
            await asyncio.sleep(0)
        self._publish_signals(ts)
        if self._book is not book:
            return
        # Positions were published as they changed; their marks move with the prices in the signals.
        self._publish(book.equity_update(ts))
        # The next minute may start while this one's events are being made durable (a group commit: at
        # full replay speed minutes share fsyncs); it waits for the round before this one. Nothing is
        # shown, or stored, before it is durable, and a paper book rebuilt after a crash is the one
        # its durable fills left.
        await self.bus.commit_behind()

    async def _book_minute(self, book: ModeBook, bar_open: datetime) -> Decimal:
        """Mark the book at this minute's prices, settle every funding time crossed up to
        `bar_open` and check the breakers; returns the equity the minute is sized on. The
        backtest runs the same step."""
        portfolio = book.portfolio
        book.funding_clock.note_held(bar_open, portfolio)
        portfolio.mark_all(self._prices)
        ts = self.market_time()
        self._settle_funding(book, bar_open)
        equity = portfolio.equity
        tripped = book.breakers.update(ts, equity)
        if tripped:
            await self._operator.trip_breakers(tripped)
            equity = portfolio.equity
        return equity

    def _targets(self, book: ModeBook, factors: dict[str, float], equity: Decimal,
                 only: Container[str] | None = None) -> dict[str, Decimal]:
        """The target notional of each symbol with a factor (or of `only` those); positions without
        one use up gross budget."""
        held = sum((abs(p.notional) for s, p in book.portfolio.open_positions().items() if s not in factors), ZERO)
        return target_notionals(factors, equity, self._limits, held, only)

    async def _rebalance_all(self, book: ModeBook, targets: dict[str, Decimal], factors: dict[str, float]) -> bool:
        """Send what each symbol needs to reach its target; False when the operator switched modes meanwhile."""
        portfolio = book.portfolio
        band, entries = self._limits.band_usd, not self._halted
        instruments, prices = self._instruments, self._prices
        for symbol, target in targets.items():
            # Most symbols, most minutes, have nothing to do: decide that without queueing at the gate.
            if plan_orders(instruments[symbol], portfolio.quantity(symbol), prices[symbol], target, band,
                           entries_allowed=entries).wanted:
                await self._rebalance(book, symbol, target, factors[symbol])
                if self._book is not book:
                    return False
            else:
                self._skipping.pop(symbol, None)
        return True

    async def _signals_only(self, bars: dict[str, Bar], book: ModeBook) -> None:
        """A book not yet read back: the strategy runs and is shown, nothing is traded or booked."""
        results, errors = self._runner.update(bars)
        for symbol, message in errors.items():
            self._error(f"{symbol}: {message}", symbol)
        ts = self.market_time()
        self._note_signals(list(bars), results, {}, book, ts)
        self._publish_signals(ts)
        await self.bus.commit()

    def _tradable(self, symbol: str) -> bool:
        return (symbol not in self._paused and symbol not in self._mismatched
                and symbol not in self._orders.uncertain and not self._operator.flattening_symbol(symbol))

    def _untradable(self) -> set[str]:
        """The symbols `_tradable` refuses now, in one set (asked once a minute rather than per symbol)."""
        blocked = self._paused | self._mismatched | self._orders.uncertain.symbols
        if self._operator.flattening:
            blocked |= {s for s in self._instruments if self._operator.flattening_symbol(s)}
        return blocked

    def _publish_signals(self, ts: datetime) -> None:
        """The minute's SignalBatch: every symbol's newest update (those without a bar carry their last)."""
        self._publish(SignalBatch(ts, tuple(self._signals.values())))

    def _note_signals(self, symbols, results: dict, targets: dict[str, Decimal], book: ModeBook,
                      ts: datetime) -> None:
        """A SignalUpdate per symbol: the strategy's mapping, its status and the notional wanted and held.

        It runs for every symbol every minute, hence the local names.
        """
        paused, mismatched, halted = self._paused, self._mismatched, self._halted
        uncertain = self._orders.uncertain.symbols
        flagged = mismatched or uncertain or paused  # most minutes none is: one test instead of three
        ready, progress = self._runner.ready, self._runner.progress
        prices, prev_closes, signals = self._prices, self._prev_close, self._signals
        quantity = book.portfolio.quantity
        instruments, band, skipping = self._instruments, self._limits.band_usd, self._skipping
        make = tuple.__new__  # SignalUpdate's generated __new__ is a Python call per symbol each minute
        for symbol in symbols:
            result = results.get(symbol)
            price = prices[symbol]
            close = float(price)
            prev = prev_closes.get(symbol)
            prev_closes[symbol] = close
            current = quantity(symbol) * price
            target = targets.get(symbol, current)
            if flagged and symbol in mismatched:
                status = "mismatch"
            elif flagged and symbol in uncertain:
                status = "uncertain"
            elif flagged and symbol in paused:
                status = "paused"
            elif result is None or not ready(symbol):
                status = "warming"
            elif halted:
                status = "halted"
            else:
                status = idle_status(target, current, instruments[symbol].min_notional, band, symbol in skipping)
            if result is None:
                result, final, target_factor = {}, 0.0, 0.0
            else:
                final, target_factor = float(result["final_factor"]), float(result["target_factor"])
            signals[symbol] = make(SignalUpdate, (symbol, ts, close, close / prev - 1.0 if prev else 0.0, status,
                                                  progress(symbol), result, final, target_factor, target, current))

    def _catch_up_funding(self, book: ModeBook, bar_open: datetime) -> None:
        """Warm-up history can span time the engine was down: the paper book still pays what it held
        then. A real venue's wallet already holds what the exchange settled meanwhile (its income
        history is read by the start-up recovery). A book not yet read back from the store settles
        nothing: its last settled time comes with it."""
        if book.restoring:
            return
        if book.mode is Mode.PAPER:
            self._settle_funding(book, bar_open, mark=True)
        else:
            book.funding_clock.skip_to(bar_open)

    def _settle_funding(self, book: ModeBook, bar_open: datetime, mark: bool = False) -> None:
        times = book.funding_clock.due(bar_open)
        if not times:
            return
        if book.mode is not Mode.PAPER:
            for funding_time in times:
                self._exchange_funding.due(book, funding_time)  # the exchange's own fees, not our estimate
            return
        if mark:
            book.portfolio.mark_all(self._prices)
        for payment in settle(book.mode, book.portfolio, times, self._funding_rates, book.funding_clock.held_at):
            self._publish(payment)

    # -- orders --------------------------------------------------------------------

    async def _rebalance(self, book: ModeBook, symbol: str, target: Decimal, factor: float) -> None:
        inst = self._instruments[symbol]
        band = self._limits.band_usd
        # At most two orders (a flip: close, then open), each planned afresh under the gate so a
        # command that ran in between (flatten, pause, halt) is respected.
        for _ in range(2):
            async with self._gate.strategy():
                if self._book is not book or not self._tradable(symbol) or self._stop.is_set():
                    return
                price = self._prices[symbol]
                plan = plan_orders(inst, book.portfolio.quantity(symbol), price, target, band,
                                   entries_allowed=not self._halted)
                if plan.skipped and self._skipping.get(symbol) is not plan.skipped_side:
                    self._skipping[symbol] = plan.skipped_side  # reported once, not every minute it lasts
                    self._orders.report_skip(book, symbol, plan)
                if not plan.orders:
                    return
                self._skipping.pop(symbol, None)
                await self._orders.send(book, symbol, plan.orders[0], "rebalance", price, factor)
            # A paper fill never waits: without this, a minute of many orders would hold the event
            # loop (and any key press) until its last order.
            await asyncio.sleep(0)
            if len(plan.orders) == 1:
                return

    # -- operator commands (engine.operator does the work) --------------------------

    async def flatten_all(self) -> CommandResult:
        """Close everything until the venue says flat (or stop_flatten); entries stay halted."""
        return await self._operator.flatten_all()

    async def flatten(self, symbol: str) -> CommandResult:
        return await self._operator.flatten(symbol)

    async def stop_flatten(self) -> CommandResult:
        return await self._operator.stop_flatten()

    async def pause(self, symbol: str) -> CommandResult:
        return await self._operator.pause(symbol)

    async def resume(self, symbol: str) -> CommandResult:
        return await self._operator.resume(symbol)

    async def halt_entries(self) -> CommandResult:
        return await self._operator.halt_entries()

    async def resume_entries(self) -> CommandResult:
        return await self._operator.resume_entries()

    async def set_mode(self, mode: str, confirm: str | None = None) -> CommandResult:
        return await self._operator.set_mode(mode, confirm)

    def can_trade(self, mode: str) -> tuple[bool, str]:
        return self._operator.can_trade(mode)

    def confirm_live(self, word: str) -> None:
        """The operator typed LIVE before the start: an explicit live mode may start."""
        self._live_confirmed = word == "LIVE"

    # -- what the operator's commands may use (engine.operator.EngineLink) ----------

    @property
    def book(self) -> ModeBook | None:
        return self._book

    @property
    def books(self) -> dict[Mode, ModeBook]:
        return self._books

    @property
    def instruments(self) -> dict[str, Instrument]:
        return self._instruments

    @property
    def prices(self) -> dict[str, Decimal]:
        return self._prices

    @property
    def gate(self) -> CommandGate:
        return self._gate

    @property
    def paused(self) -> set[str]:
        return self._paused

    @property
    def mismatched(self) -> set[str]:
        return self._mismatched

    @property
    def halted(self) -> bool:
        return self._halted

    def set_halt(self, halted: bool, reason: str = "") -> None:
        self._halted, self._halt_reason = halted, reason if halted else ""
        self.persist_controls()
        self._publish_state()

    def persist_controls(self) -> None:
        if self.state_file is None:
            return
        try:
            self.state_file.update(paused=sorted(self._paused), halted=self._halted,
                                   halt_reason=self._halt_reason or None, mode=self.mode.value)
        except OSError as e:
            self._error(f"could not save the controls to {self.state_file.path}: {e}")

    def publish(self, event: Event) -> None:
        self._publish(event)

    def publish_state(self) -> None:
        self._publish_state()

    def report_error(self, message: str, symbol: str | None = None) -> None:
        self._error(message, symbol)

    def now(self) -> datetime:
        return self._clock()

    async def send_order(self, book: ModeBook, symbol: str, planned: PlannedOrder, reason: str,
                         price: Decimal) -> OrderResult:
        return await self._orders.send(book, symbol, planned, reason, price)

    async def settle_uncertain(self, wanted) -> None:
        await self._orders.uncertain.try_all(wanted)

    def is_uncertain(self, symbol: str) -> bool:
        return symbol in self._orders.uncertain

    async def open_book(self, mode: Mode) -> ModeBook:
        return await self._open_book(mode)
