"""The trading engine: bar-close driven, one book per trading mode, operator commands first.

Each closed minute: mark positions, settle funding at 00/08/16 UTC, check the breakers, run
the strategy for the whole universe, size and send orders one at a time (stepping aside
for any operator command), then publish signals, positions and equity. Everything the engine
does is published on its event bus; commands also return their CommandResult.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable

from engine.book import ModeBook
from engine.commands import CommandGate
from engine.config import Config
from engine.events import (BarClosed, CommandResult, EngineError, EngineState, EquityUpdate, Event, EventBus,
                           FillEvent, FundingPayment, OrderUpdate, PositionUpdate, SignalUpdate, utcnow)
from engine.feeds.base import Feed
from engine.ids import OrderIds
from engine.model import Bar, Fill, Instrument, Mode, OrderRequest, OrderResult, Side
from engine.operator import OperatorCommands
from engine.portfolio import Portfolio
from engine.restore import apply_state, merge_controls
from engine.risk import Breakers
from engine.secrets import Secrets
from engine.signals import StrategyRunner, bar_problem
from engine.sizing import PlannedOrder, SizingLimits, plan_orders, target_notionals
from engine.statefile import StateFile
from engine.store import StateStore
from engine.venues.base import Venue, VenueError

log = logging.getLogger(__name__)
ZERO = Decimal(0)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class EngineSnapshot:
    state: EngineState
    signals: dict[str, SignalUpdate]
    positions: dict[str, PositionUpdate]
    equity: EquityUpdate | None
    fills: list[FillEvent]
    equity_history: list[tuple[datetime, Decimal]]


def is_funding_time(ts: datetime) -> bool:
    return ts.hour % 8 == 0 and ts.minute == 0 and ts.second == 0


class Engine(OperatorCommands):
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
        self._clock = clock or utcnow
        self._gate = CommandGate()
        self._ids = OrderIds(self._clock())
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
        self._reconcile_task: asyncio.Task | None = None
        self._restored_mode: str | None = None
        self._skipping: dict[str, Side] = {}  # symbols whose wanted order is below the exchange minimum
        self._resources_open = False

    # -- reading -------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        return list(self._instruments)

    @property
    def live_bars(self) -> int:
        return self._live_bars

    def market_time(self) -> datetime:
        """The close time of the last processed bar (the sim's own clock), else the wall clock."""
        return self._market_time or self._clock()

    @property
    def _book(self) -> ModeBook | None:
        return self._books.get(self.mode)

    def state(self) -> EngineState:
        book = self._book
        return EngineState(mode=self.mode, market=self.market, halted=self._halted, halt_reason=self._halt_reason,
                           paused=frozenset(self._paused),
                           breakers=dict(book.breakers.tripped) if book else {},
                           mismatched=frozenset(self._mismatched), feed_status=self.feed.status,
                           ts=self._clock())

    def snapshot(self) -> EngineSnapshot:
        book = self._book
        return EngineSnapshot(
            state=self.state(), signals=dict(self._signals),
            positions=dict(book.positions) if book else {}, equity=book.last_equity if book else None,
            fills=list(book.fills) if book else [], equity_history=list(book.equity_history) if book else [])

    def _publish(self, event: Event) -> None:
        self.bus.publish(event)

    def _publish_state(self) -> None:
        self._feed_status = self.feed.status
        self._publish(self.state())

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
        if self._reconcile_task is not None:
            self._reconcile_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconcile_task
            self._reconcile_task = None
        with contextlib.suppress(Exception):
            await self.feed.close()
        for book in self._books.values():
            try:
                await book.venue.close()
            except Exception as e:  # noqa: BLE001 - closing must reach every venue
                log.warning("closing the %s venue failed: %s", book.mode.value, e)
        self._publish_state()

    async def _start_up(self) -> None:
        self._instruments = await self.feed.start()
        self._runner = StrategyRunner(self.symbols, self.config.strategy_params())
        await self._restore_controls()
        await self._activate_start_mode()
        await self._warm_up()
        book = self._book
        for symbol, price in self._prices.items():
            book.portfolio.mark(symbol, price)
        ts = self.market_time()
        book.breakers.update(ts, book.portfolio.equity)
        for symbol in book.portfolio.open_positions():
            self._publish(book.position_update(symbol, ts))
        self._publish(book.equity_update(ts))
        # What is alive now (libraries, instruments, strategy state) lives for the whole run. A full
        # collection walks all of it (tens of ms with pandas loaded) and would stall a live bar; clear
        # the warm-up's garbage now and leave the rest out of later passes.
        gc.collect()
        gc.freeze()

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
            if allowed:
                try:
                    self._books[wanted] = await self._open_book(wanted)
                    self.mode = wanted
                    self._start_reconcile_loop()
                    return
                except Exception as e:  # noqa: BLE001 - fall back to paper with a clear reason
                    why = f"could not start {wanted.value}: {e}"
            self._error(f"{why}; running in paper mode instead")
            self._publish(CommandResult("set_mode", False, f"{why}; running in paper mode instead"))
        self.mode = Mode.PAPER
        self._books[Mode.PAPER] = await self._open_book(Mode.PAPER)

    async def _open_book(self, mode: Mode) -> ModeBook:
        """Create the venue for `mode`, set it up and load what the store knows of the mode."""
        venue = self._venue_factory(mode)
        try:
            await venue.prepare(self._instruments, self.config.leverage, self.config.exchange.margin_mode)
            state = None
            if self.store is not None:
                try:
                    state = await self.store.load_state(mode.value)
                except Exception as e:  # noqa: BLE001
                    self._error(f"could not read the {mode.value} state from the store: {e}")
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
            if state is not None:
                apply_state(book, state)
            if mode is not Mode.PAPER:
                await self._reconcile(book, announce_ok=True)
            return book
        except BaseException:
            with contextlib.suppress(Exception):
                await venue.close()
            raise

    async def _warm_up(self) -> None:
        wanted = (self.config.data_fetch_limit if self.market == "binance"
                  else max(self.config.sim.warmup_bars, self._runner.warmup_bars))

        async def history(symbol: str) -> list[Bar]:
            try:
                return await self.feed.warmup(symbol, wanted)
            except Exception as e:  # noqa: BLE001 - one symbol's history must not stop the rest
                self._error(f"{symbol}: warm-up history unavailable: {e}", symbol)
                return []

        histories = await asyncio.gather(*(history(s) for s in self.symbols))
        minutes: dict[datetime, dict[str, Bar]] = {}
        for bars in histories:
            for bar in bars:
                minutes.setdefault(bar.ts, {})[bar.symbol] = bar
        release = getattr(self.feed, "release_warmup", None)
        if release is not None:
            release()
        del histories
        last_results: dict = {}
        for ts in sorted(minutes):
            if self._stop.is_set():
                return
            bars = self._usable(minutes.pop(ts))
            results, errors = self._runner.update(bars)
            for symbol, message in errors.items():
                self._error(f"{symbol}: warm-up: {message}", symbol)
            last_results.update(results)
            for symbol, bar in bars.items():
                if symbol in self._prices:
                    self._prev_close[symbol] = float(self._prices[symbol])
                self._note_bar(bar)
            await asyncio.sleep(0)  # keep the desk responsive during a long warm-up
        book = self._book
        for symbol in self.symbols:
            if symbol in self._prices:
                result = last_results.get(symbol)
                readings = (float(result["final_factor"]), float(result["target_factor"])) if result else None
                self._publish_signal(symbol, result, readings, None, book, self.market_time())

    # -- the live loop -------------------------------------------------------------

    async def _live_loop(self, max_bars: int | None) -> None:
        stream = self.feed.stream()
        stopping = asyncio.ensure_future(self._stop.wait())
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
        finally:
            stopping.cancel()
            with contextlib.suppress(Exception):
                await stream.aclose()

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

    def _note_bar(self, bar: Bar) -> None:
        self._prices[bar.symbol] = Decimal(repr(bar.close))
        self._funding_rates[bar.symbol] = bar.funding_rate
        close = bar.ts + MINUTE
        if self._market_time is None or close > self._market_time:
            self._market_time = close

    async def _process_minute(self, minute: list[Bar]) -> None:
        bars = self._usable(minute)
        if self.feed.status != self._feed_status:
            self._publish_state()
        if not bars:
            return
        book = self._book
        portfolio = book.portfolio
        for bar in bars.values():
            self._publish(BarClosed(bar))
            self._note_bar(bar)
            portfolio.mark(bar.symbol, self._prices[bar.symbol])
        ts = self.market_time()
        if is_funding_time(ts):
            self._settle_funding(book, ts)
        tripped = book.breakers.update(ts, portfolio.equity)
        if tripped:
            await self._trip_breakers(tripped)

        results, errors = self._runner.update(bars)
        for symbol, message in errors.items():
            self._error(f"{symbol}: {message}", symbol)
        # (final factor, target factor) of each symbol with a result, read once.
        readings = {s: (float(r["final_factor"]), float(r["target_factor"]))
                    for s, r in results.items() if r is not None}
        ready = self._runner.ready
        factors = {s: target for s, (_, target) in readings.items() if ready(s) and self._tradable(s)}
        held = sum((abs(p.notional) for s, p in portfolio.open_positions().items() if s not in factors), ZERO)
        targets = target_notionals(factors, portfolio.equity, self._limits, held)
        band, entries = self._limits.band_usd, not self._halted
        instruments, prices = self._instruments, self._prices
        for symbol, target in targets.items():
            # Most symbols, most minutes, have nothing to do: decide that without queueing at the gate.
            if plan_orders(instruments[symbol], portfolio.quantity(symbol), prices[symbol], target, band,
                           entries_allowed=entries).wanted:
                await self._rebalance(book, symbol, target, factors[symbol])
                if self._book is not book:
                    return  # the operator switched modes mid-minute: this minute's plan is void
            else:
                self._skipping.pop(symbol, None)
        for symbol in bars:
            self._publish_signal(symbol, results.get(symbol), readings.get(symbol), targets.get(symbol), book, ts)
        for symbol in portfolio.open_positions():
            self._publish(book.position_update(symbol, ts))
        self._publish(book.equity_update(ts))

    def _tradable(self, symbol: str) -> bool:
        return symbol not in self._paused and symbol not in self._mismatched

    def _status(self, symbol: str, result) -> str:
        if symbol in self._mismatched:
            return "mismatch"
        if symbol in self._paused:
            return "paused"
        if result is None or not self._runner.ready(symbol):
            return "warming"
        return "halted" if self._halted else "active"

    def _publish_signal(self, symbol: str, result, readings: tuple[float, float] | None, target: Decimal | None,
                        book: ModeBook, ts: datetime) -> None:
        price = self._prices[symbol]
        close = float(price)
        prev = self._prev_close.get(symbol)
        self._prev_close[symbol] = close
        current = book.portfolio.quantity(symbol) * price
        final, target_factor = readings or (0.0, 0.0)
        update = SignalUpdate(
            symbol=symbol, ts=ts, price=close, ret=(close / prev - 1.0) if prev else 0.0,
            status=self._status(symbol, result), progress=self._runner.progress(symbol),
            components=result if result is not None else {}, final_factor=final, target_factor=target_factor,
            target_notional=target if target is not None else current, current_notional=current)
        self._signals[symbol] = update
        self._publish(update)

    def _settle_funding(self, book: ModeBook, ts: datetime) -> None:
        for symbol, pos in book.portfolio.open_positions().items():
            rate = Decimal(repr(self._funding_rates.get(symbol, 0.0)))
            quantity = pos.quantity
            amount = book.portfolio.apply_funding(symbol, rate, pos.mark)
            self._publish(FundingPayment(book.mode, symbol, ts, rate, quantity, pos.mark, amount))

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
                    self._report_skip(book, symbol, plan, price)  # once, not every minute it persists
                if not plan.orders:
                    return
                self._skipping.pop(symbol, None)
                await self._execute(book, symbol, plan.orders[0], "rebalance", factor)
                if len(plan.orders) == 1:
                    return

    def _report_skip(self, book: ModeBook, symbol: str, plan, price: Decimal) -> None:
        self._skipping[symbol] = plan.skipped_side
        ts = self.market_time()
        self._publish(OrderUpdate(book.mode, self._ids.next(book.mode.value), symbol, plan.skipped_side.value,
                                  plan.skipped_quantity, "skipped", False, "rebalance", ts, message=plan.skipped))

    async def _execute(self, book: ModeBook, symbol: str, planned: PlannedOrder, reason: str,
                       factor: float | None = None) -> OrderResult:
        """Record the intent, send one order, book its fills and publish every step."""
        mode = book.mode
        price = self._prices.get(symbol, ZERO)
        request = OrderRequest(self._ids.next(mode.value), symbol, planned.side, planned.quantity,
                               planned.reduce_only, reason, mark_price=price)
        new = OrderUpdate(mode, request.client_order_id, symbol, planned.side.value, planned.quantity, "new",
                          planned.reduce_only, reason, self.market_time())
        if self.store is not None:
            try:
                self.store.record_order_intent(new)
            except Exception as e:  # noqa: BLE001 - no durable intent, no order
                message = f"{symbol}: order not sent, its intent could not be recorded: {e}"
                self._publish(replace(new, status="error", message=message))
                self._error(message, symbol)
                return OrderResult(request, "error", message=message)
        self._publish(new)
        try:
            result = await book.venue.submit(request)
        except VenueError as e:
            result = OrderResult(request, "error", message=str(e))
        except Exception as e:  # noqa: BLE001 - a venue bug must not kill the loop
            log.exception("order submission failed")
            result = OrderResult(request, "error", message=f"{symbol}: {type(e).__name__}: {e}")
        for fill in result.fills:
            self._book_fill(book, fill, factor)
        self._publish(replace(new, status=result.status, exchange_order_id=result.exchange_order_id,
                              message=result.message, ts=self.market_time()))
        if result.status in ("rejected", "error"):
            self._error(result.message or f"{symbol}: order {result.status}", symbol)
        return result

    def _book_fill(self, book: ModeBook, fill: Fill, factor: float | None) -> None:
        realized = book.portfolio.apply_fill(fill)
        event = FillEvent(replace(fill, realized_pnl=realized, factor=factor))
        book.fills.append(event)
        self._publish(event)
        self._publish(book.position_update(fill.symbol, self.market_time()))

    def _close_order(self, quantity: Decimal) -> PlannedOrder:
        return PlannedOrder(Side.SELL if quantity > 0 else Side.BUY, abs(quantity), True)
