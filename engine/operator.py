"""The operator's commands: flatten, pause/resume, halt/resume entries, mode switch.

Every command returns a CommandResult and publishes it (the audit log), takes the command
gate so it runs ahead of strategy orders, and answers a command given at the wrong moment
with ok=False and a clear message instead of raising. Breaker trips and reconciliations
report through the same CommandResult stream.

A flatten runs as its own task until the venue says flat or the operator stops it, so the
engine loop and the other commands carry on meanwhile; the strategy sends nothing for a
symbol being flattened. The engine owns one Operator and reaches it only through its own
command methods; the Operator reaches the engine only through `EngineLink`.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from decimal import Decimal
from typing import Callable, Mapping, Protocol

from engine.book import ModeBook
from engine.commands import CommandGate
from engine.config import MODES
from engine.events import CommandResult, Event
from engine.book_flatten import book_flatten, settle_flat_book
from engine.flatten import Backoff, FlattenOutcome, FlattenRun
from engine.model import Instrument, Mode, OrderResult
from engine.reconcile import mismatches, outside_universe
from engine.secrets import Secrets
from engine.sizing import PlannedOrder
from engine.tasks import cancel_and_wait

log = logging.getLogger(__name__)
LIQUIDATION_READ_AFTER_S = 2.0  # after a fill: long enough for a burst of fills to share one read
KEY_NAMES = {"live": "TRIFACTOR_API_KEY and TRIFACTOR_API_SECRET",
             "testnet": "TRIFACTOR_TESTNET_API_KEY and TRIFACTOR_TESTNET_API_SECRET"}


class EngineLink(Protocol):
    """What the operator's commands use of the engine, and nothing more."""

    mode: Mode
    market: str
    started: bool

    @property
    def book(self) -> ModeBook | None: ...

    @property
    def books(self) -> dict[Mode, ModeBook]: ...

    @property
    def instruments(self) -> Mapping[str, Instrument]: ...

    @property
    def prices(self) -> Mapping[str, Decimal]: ...

    @property
    def gate(self) -> CommandGate: ...

    @property
    def paused(self) -> set[str]: ...

    @property
    def mismatched(self) -> set[str]: ...

    @property
    def halted(self) -> bool: ...

    def set_halt(self, halted: bool, reason: str = "") -> None:
        """Halt or resume entries, saved and published."""

    def persist_controls(self) -> None: ...

    def publish(self, event: Event) -> None: ...

    def publish_state(self) -> None: ...

    def report_error(self, message: str, symbol: str | None = None) -> None: ...

    def now(self) -> datetime: ...

    def market_time(self) -> datetime: ...

    async def send_order(self, book: ModeBook, symbol: str, planned: PlannedOrder, reason: str,
                         price: Decimal) -> OrderResult: ...

    async def open_book(self, mode: Mode) -> ModeBook: ...

    async def settle_uncertain(self, wanted: Callable[[str], bool]) -> None:
        """Look up every order of unknown outcome among the `wanted` symbols."""

    def is_uncertain(self, symbol: str) -> bool: ...


class Operator:
    def __init__(self, engine: EngineLink, *, secrets: Secrets, reconcile_interval_s: float,
                 backoff: Backoff = Backoff()) -> None:
        self.engine = engine
        self.secrets = secrets
        self.reconcile_interval_s = reconcile_interval_s
        self.backoff = backoff
        self._flattens: dict[str | None, tuple[FlattenRun, asyncio.Task]] = {}  # symbol (None: all) -> run
        self._reconcile_task: asyncio.Task | None = None
        self._liquidation_task: asyncio.Task | None = None
        self._reporting: set[asyncio.Task] = set()

    def _answer(self, command: str, ok: bool, message: str, symbol: str | None = None,
                details: dict | None = None) -> CommandResult:
        result = CommandResult(command, ok, message, symbol, details or {}, ts=self.engine.now())
        (log.info if ok else log.warning)("%s: %s", command, message)
        self.engine.publish(result)
        return result

    def _refusal(self, command: str, symbol: str | None = None) -> CommandResult | None:
        """The answer to a command given at the wrong moment, or None when it may run."""
        if not self.engine.started:
            return self._answer(command, False, "the engine is still starting (or has stopped); try again "
                                                "once signals show", symbol)
        if symbol is not None and symbol not in self.engine.instruments:
            return self._answer(command, False, f"unknown symbol {symbol!r}: it is not in the traded universe",
                                symbol)
        return None

    # -- flatten -------------------------------------------------------------------

    @property
    def flattening(self) -> bool:
        return bool(self._flattens)

    def flattening_symbol(self, symbol: str) -> bool:
        """A running flatten covers `symbol`: the strategy must not trade it meanwhile."""
        return any(run.covers(symbol) for run, _ in self._flattens.values())

    async def flatten_all(self) -> CommandResult:
        refused = self._refusal("flatten_all")
        if refused:
            return refused
        async with self.engine.gate.command():  # lets the strategy's order in flight finish first
            self.engine.set_halt(True, "flatten all")
            task = self._start_flatten(None)
        outcome = await asyncio.shield(task)
        return self._answer("flatten_all", outcome.ok, f"{outcome.message}; entries halted until resumed",
                            details=outcome.details)

    async def flatten(self, symbol: str) -> CommandResult:
        refused = self._refusal("flatten", symbol)
        if refused:
            return refused
        async with self.engine.gate.command():
            task = self._start_flatten(symbol)
        outcome = await asyncio.shield(task)
        message = outcome.message
        if symbol not in self.engine.paused and not self.engine.halted:
            message += f" (the strategy may trade {symbol} again: pause it to keep it flat)"
        return self._answer("flatten", outcome.ok, message, symbol, outcome.details)

    async def stop_flatten(self) -> CommandResult:
        running = [(run, task) for run, task in self._flattens.values() if not run.stopping]
        if not running:
            return self._answer("stop_flatten", False, "no flatten is running")
        for run, _ in running:
            run.stop()
        outcomes = await asyncio.gather(*(asyncio.shield(task) for _, task in running))
        still = sorted({s for o in outcomes for s in o.still_open})
        left = f"; still open: {', '.join(still)}" if still else "; nothing is left open"
        return self._answer("stop_flatten", True, f"flatten stopped{left}")

    def _start_flatten(self, symbol: str | None) -> asyncio.Task:
        """The running flatten of `symbol` (None: all), or a new one; its task ends with the outcome."""
        for scope in (symbol, None):  # a flatten of everything covers one symbol too
            if scope in self._flattens and not self._flattens[scope][0].stopping:
                return self._flattens[scope][1]
        engine, book = self.engine, self.engine.book
        run = book_flatten(book, symbol, engine.send_order, lambda s: engine.prices.get(s, Decimal(0)),
                           engine.publish, self.backoff)
        task = asyncio.ensure_future(self._flatten(run, book))
        self._flattens[symbol] = (run, task)
        engine.publish_state()
        return task

    async def _flatten(self, run: FlattenRun, book: ModeBook) -> FlattenOutcome:
        try:
            # An order of unknown outcome may have changed what is open: settle it before closing.
            await self.engine.settle_uncertain(run.covers)
            outcome = await run.run()
        except Exception as e:  # noqa: BLE001 - a bug here must still end the flatten with an answer
            log.exception("the flatten failed")
            outcome = FlattenOutcome("failed", f"the flatten failed: {type(e).__name__}: {e}")
        finally:
            if self._flattens.get(run.symbol, (None,))[0] is run:
                del self._flattens[run.symbol]
            self.engine.publish_state()
        if outcome.confirmed:
            self._settle_flat_book(book, run.covers, outcome.still_open)
        self.engine.publish(book.equity_update(self.engine.market_time()))
        return outcome

    def _settle_flat_book(self, book: ModeBook, wanted, venue_open: dict[str, Decimal]) -> None:
        # After an explicit flatten the venue's answer is the truth, and a symbol it reports flat
        # is no longer a mismatch either.
        settle_flat_book(book, wanted, venue_open, self.engine.market_time(), self.engine.publish,
                         self.engine.report_error)
        mismatched = self.engine.mismatched
        settled = {s for s in mismatched if wanted(s) and s not in venue_open}
        if settled:
            mismatched -= settled
            self.engine.publish_state()

    async def trip_breakers(self, reasons: list[str]) -> None:
        """Halt entries and start flattening everything; the answers follow when the flatten ends."""
        async with self.engine.gate.command():
            self.engine.set_halt(True, "breaker: " + "; ".join(reasons))
            task = self._start_flatten(None)
        reporting = asyncio.ensure_future(self._answer_breakers(reasons, task))
        self._reporting.add(reporting)
        reporting.add_done_callback(self._reporting.discard)

    async def flattens_finished(self) -> None:
        """Return once no flatten is running (a backtest steps on only after its breaker flatten)."""
        while self._flattens:
            await asyncio.gather(*(asyncio.shield(task) for _, task in list(self._flattens.values())))

    async def _answer_breakers(self, reasons: list[str], task: asyncio.Task) -> None:
        outcome = await asyncio.shield(task)
        for reason in reasons:
            self._answer("breaker", outcome.ok, f"{reason}; flattened ({outcome.message}); entries halted until "
                                                f"resumed", details=outcome.details)

    # -- pause, halt ---------------------------------------------------------------

    async def pause(self, symbol: str) -> CommandResult:
        refused = self._refusal("pause", symbol)
        if refused:
            return refused
        engine = self.engine
        async with engine.gate.command():
            if symbol in engine.paused:
                return self._answer("pause", True, f"{symbol} was already paused", symbol)
            engine.paused.add(symbol)
            engine.persist_controls()
            engine.publish_state()
        held = engine.book.portfolio.quantity(symbol)
        keeps = f"; it keeps its position {held:f}" if held else ""
        return self._answer("pause", True, f"{symbol} paused: no new orders for it{keeps}", symbol)

    async def resume(self, symbol: str) -> CommandResult:
        refused = self._refusal("resume", symbol)
        if refused:
            return refused
        engine = self.engine
        async with engine.gate.command():
            if symbol in engine.mismatched:
                return await self._adopt_venue_quantity(symbol)
            if symbol not in engine.paused:
                return self._answer("resume", False, f"{symbol} is not paused", symbol)
            engine.paused.discard(symbol)
            engine.persist_controls()
            engine.publish_state()
        return self._answer("resume", True, f"{symbol} resumed: the strategy trades it again", symbol)

    async def _adopt_venue_quantity(self, symbol: str) -> CommandResult:
        engine = self.engine
        book = engine.book
        try:
            venue_positions = await book.venue.positions()
        except Exception as e:  # noqa: BLE001
            return self._answer("resume", False, f"{symbol}: could not read the exchange's position: {e}", symbol)
        book.note_venue_positions(venue_positions)
        pos = venue_positions.get(symbol)
        qty = pos.quantity if pos else Decimal(0)
        entry = pos.entry_price if pos else Decimal(0)
        book.portfolio.adopt(symbol, qty, entry, engine.prices.get(symbol))
        engine.mismatched.discard(symbol)
        engine.paused.discard(symbol)
        engine.persist_controls()
        engine.publish_state()
        engine.publish(book.position_update(symbol, engine.market_time()))
        engine.publish(book.equity_update(engine.market_time()))
        return self._answer("resume", True, f"{symbol}: adopted the exchange's quantity {qty:f}; trading resumed",
                            symbol, {"quantity": str(qty), "entry_price": str(entry)})

    async def halt_entries(self) -> CommandResult:
        refused = self._refusal("halt")
        if refused:
            return refused
        async with self.engine.gate.command():
            self.engine.set_halt(True, "operator")
        return self._answer("halt", True, "entries halted: positions are kept and may still be reduced")

    async def resume_entries(self) -> CommandResult:
        refused = self._refusal("resume_entries")
        if refused:
            return refused
        async with self.engine.gate.command():
            book = self.engine.book
            cleared = book.breakers.reset(book.portfolio.equity)
            self.engine.set_halt(False)
        extra = f"; cleared breaker(s) {', '.join(cleared)} (re-based on the current equity)" if cleared else ""
        return self._answer("resume_entries", True, f"entries resumed{extra}")

    # -- modes ---------------------------------------------------------------------

    def can_trade(self, mode: str) -> tuple[bool, str]:
        if mode not in MODES:
            return False, f"unknown mode {mode!r} (one of {', '.join(MODES)})"
        if mode == "paper":
            return True, ""
        market = self.engine.market
        if market != "binance":
            return False, (f"{mode} trading needs market `binance`: the {market} market's prices would not "
                           f"match the exchange's")
        if self.secrets.keys_for(mode) is None:
            return False, f"{mode} trading needs API keys: set {KEY_NAMES[mode]} (or put them in the secrets file)"
        return True, ""

    async def set_mode(self, mode: str, confirm: str | None = None) -> CommandResult:
        refused = self._refusal("set_mode")
        if refused:
            return refused
        allowed, why = self.can_trade(mode)
        if not allowed:
            return self._answer("set_mode", False, why)
        if mode == "live" and confirm != "LIVE":
            return self._answer("set_mode", False, "switching to live trades real money: type LIVE to confirm")
        engine = self.engine
        target = Mode(mode)
        if target is engine.mode:
            return self._answer("set_mode", True, f"already in {mode} mode")
        if self.flattening:
            return self._answer("set_mode", False, f"a flatten is running in {engine.mode.value}: let it finish "
                                                   f"or stop it before switching modes")
        async with engine.gate.command():
            books = engine.books
            try:
                if target not in books:
                    books[target] = await engine.open_book(target)
                elif target is not Mode.PAPER:
                    await self.reconcile(books[target], announce_ok=True)  # it may have moved meanwhile
            except Exception as e:  # noqa: BLE001 - stay where we are, say why
                return self._answer("set_mode", False, f"could not switch to {mode}: {e}; still in "
                                                       f"{engine.mode.value}")
            previous = engine.mode
            engine.mode = target
            if target is Mode.PAPER:
                self._stop_reconcile_loop()
            else:
                self.start_reconcile_loop()
            engine.persist_controls()
            engine.publish_state()
            book = engine.book
            ts = engine.market_time()
            book.portfolio.mark_all(engine.prices)
            for update in book.open_positions(ts).values():
                engine.publish(update)
            engine.publish(book.equity_update(ts))
        return self._answer("set_mode", True, f"switched from {previous.value} to {mode}; each mode keeps its own "
                                              f"positions ({len(book.portfolio.open_positions())} open in {mode})")

    # -- reconciliation (testnet, live) --------------------------------------------

    async def reconcile(self, book: ModeBook, announce_ok: bool = False) -> None:
        engine = self.engine
        try:
            venue_positions = await book.venue.positions()
        except Exception as e:  # noqa: BLE001
            engine.report_error(f"reconciliation with the exchange failed: {e}")
            return
        for symbol in book.note_venue_positions(venue_positions):
            engine.publish(book.position_update(symbol, engine.market_time()))
        ours = {s: p.quantity for s, p in book.portfolio.positions.items()}
        # A symbol with an order of unknown outcome is frozen already; its lookup settles the book.
        found = [m for m in mismatches(ours, venue_positions, engine.instruments)
                 if not engine.is_uncertain(m.symbol)]
        for symbol in outside_universe(venue_positions, engine.instruments):
            engine.report_error(f"{symbol}: the exchange holds a position outside the traded universe; left alone",
                                symbol)
        new = [m for m in found if m.symbol not in engine.mismatched]
        for m in new:
            engine.mismatched.add(m.symbol)
            engine.report_error(m.describe(book.mode.value), m.symbol)
            self._answer("reconcile", False, m.describe(book.mode.value), m.symbol,
                         {"ours": str(m.ours), "venue": str(m.venue)})
        if new:
            engine.publish_state()
        elif announce_ok and not found:
            self._answer("reconcile", True, f"{book.mode.value}: our book matches the exchange "
                                            f"({len([q for q in ours.values() if q])} open position(s))")

    def fill_booked(self, book: ModeBook) -> None:
        """Testnet/live: a fill moved a position, and the exchange's liquidation price read for the
        old quantity is no longer shown. Read the positions again soon, not at the next
        reconciliation a minute away: the risk pane should not show "—" for a new position."""
        if book.mode is Mode.PAPER or (self._liquidation_task is not None and not self._liquidation_task.done()):
            return
        self._liquidation_task = asyncio.ensure_future(self._read_liquidation(book))

    async def _read_liquidation(self, book: ModeBook) -> None:
        await asyncio.sleep(LIQUIDATION_READ_AFTER_S)
        if self.engine.book is not book or self.flattening or book.venue.rate_limited_for():
            return  # a flatten reads the venue itself; during a ban the next reconciliation will
        try:
            held = await book.venue.positions()
        except Exception as e:  # noqa: BLE001 - only the figure waits: the next reconciliation reads it
            log.warning("reading the exchange's liquidation prices failed: %s", e)
            return
        # Only the figures: a read between an order and its fill is no reconciliation, and a figure
        # read for another quantity than our book's is not shown anyway.
        for symbol in book.note_venue_positions(held):
            self.engine.publish(book.position_update(symbol, self.engine.market_time()))

    def start_reconcile_loop(self) -> None:
        if self._reconcile_task is None or self._reconcile_task.done():
            self._reconcile_task = asyncio.ensure_future(self._reconcile_periodically())

    def _stop_reconcile_loop(self) -> None:
        if self._reconcile_task is not None:
            self._reconcile_task.cancel()
            self._reconcile_task = None

    async def _reconcile_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_interval_s)
            book = self.engine.book
            if book is None or book.mode is Mode.PAPER or self.flattening or book.venue.rate_limited_for():
                # A flatten re-reads the venue itself (its closes would look like mismatches); during
                # a ban the read would wait inside the gate that a flatten needs.
                continue
            with contextlib.suppress(Exception):
                async with self.engine.gate.strategy():
                    await self.reconcile(book)

    async def close(self) -> None:
        """Stop the flattens (their requests in flight finish) and the reconciliation loop."""
        for run, _ in list(self._flattens.values()):
            run.stop("stopped: the engine is shutting down")
        tasks = [task for _, task in self._flattens.values()] + list(self._reporting)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await cancel_and_wait(self._reconcile_task, self._liquidation_task)
        self._reconcile_task = self._liquidation_task = None
