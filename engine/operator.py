"""The operator's commands: flatten, pause/resume, halt/resume entries, mode switch.

Every command returns a CommandResult and publishes it (the audit log), takes the command
gate so it runs ahead of strategy orders, and answers a command given at the wrong moment
with ok=False and a clear message instead of raising. Breaker trips and reconciliations
report through the same CommandResult stream.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.config import MODES
from engine.events import CommandResult
from engine.model import Mode
from engine.reconcile import mismatches, outside_universe
from engine.sizing import close_order

if TYPE_CHECKING:
    from engine.book import ModeBook
    from engine.engine import Engine

log = logging.getLogger(__name__)
FLATTEN_ROUNDS = 3
KEY_NAMES = {"live": "TRIFACTOR_API_KEY and TRIFACTOR_API_SECRET",
             "testnet": "TRIFACTOR_TESTNET_API_KEY and TRIFACTOR_TESTNET_API_SECRET"}


def _describe_close(result) -> str:
    if isinstance(result, BaseException):
        return f"failed: {result}"
    if result.status in ("filled", "partially_filled"):
        return f"closed {result.filled_qty:f}"
    return f"{result.status}: {result.message}"


class OperatorCommands:
    """Mixed into Engine; uses its books, gate and publishing."""

    def _answer(self: Engine, command: str, ok: bool, message: str, symbol: str | None = None,
                details: dict | None = None) -> CommandResult:
        result = CommandResult(command, ok, message, symbol, details or {}, ts=self._clock())
        (log.info if ok else log.warning)("%s: %s", command, message)
        self._publish(result)
        return result

    def _refusal(self: Engine, command: str, symbol: str | None = None) -> CommandResult | None:
        """The answer to a command given at the wrong moment, or None when it may run."""
        if not self.started:
            return self._answer(command, False, "the engine is still starting (or has stopped); try again "
                                                "once signals show", symbol)
        if symbol is not None and symbol not in self._instruments:
            return self._answer(command, False, f"unknown symbol {symbol!r}: it is not in the traded universe",
                                symbol)
        return None

    def _persist_controls(self: Engine) -> None:
        if self.state_file is None:
            return
        try:
            self.state_file.update(paused=sorted(self._paused), halted=self._halted,
                                   halt_reason=self._halt_reason or None, mode=self.mode.value)
        except OSError as e:
            self._error(f"could not save the controls to {self.state_file.path}: {e}")

    def _set_halt(self: Engine, halted: bool, reason: str = "") -> None:
        self._halted, self._halt_reason = halted, reason if halted else ""
        self._persist_controls()
        self._publish_state()

    # -- flatten -------------------------------------------------------------------

    async def flatten_all(self: Engine) -> CommandResult:
        refused = self._refusal("flatten_all")
        if refused:
            return refused
        async with self._gate.command():
            self._set_halt(True, "flatten all")
            ok, message, details = await self._flatten(self._book, None)
        return self._answer("flatten_all", ok, f"{message}; entries halted until resumed", details=details)

    async def flatten(self: Engine, symbol: str) -> CommandResult:
        refused = self._refusal("flatten", symbol)
        if refused:
            return refused
        async with self._gate.command():
            ok, message, details = await self._flatten(self._book, {symbol})
        if symbol not in self._paused and not self._halted:
            message += f" (the strategy may trade {symbol} again: pause it to keep it flat)"
        return self._answer("flatten", ok, message, symbol, details)

    async def _flatten(self: Engine, book: ModeBook, symbols: set[str] | None) -> tuple[bool, str, dict]:
        """Close positions at once with reduce-only orders, then re-query the venue until flat."""
        wanted = (lambda s: True) if symbols is None else (lambda s: s in symbols)
        details: dict[str, str] = {}
        # An order of unknown outcome may have changed what is open: settle it before closing.
        await self._orders.uncertain.try_all(wanted)
        try:
            await book.venue.cancel_all(None if symbols is None else next(iter(symbols)))
        except Exception as e:  # noqa: BLE001 - closing positions matters more than reporting this
            self._error(f"cancelling open orders failed: {e}")
        to_close = {s: p.quantity for s, p in book.portfolio.open_positions().items() if wanted(s)}
        confirmed = False
        for _ in range(FLATTEN_ROUNDS):
            if to_close:
                results = await asyncio.gather(
                    *(self._orders.send(book, s, close_order(q), "flatten", self._prices.get(s, Decimal(0)))
                      for s, q in to_close.items()), return_exceptions=True)
                for symbol, result in zip(to_close, results):
                    details[symbol] = _describe_close(result)
            try:
                venue_positions = await book.venue.positions()
            except Exception as e:  # noqa: BLE001
                self._error(f"could not confirm the positions after flattening: {e}")
                confirmed = False
                break
            confirmed = True
            to_close = {s: p.quantity for s, p in venue_positions.items() if p.quantity and wanted(s)}
            if not to_close:
                break
        if confirmed:
            self._settle_flat_book(book, wanted, to_close)
        self._publish(book.equity_update(self.market_time()))
        for symbol, qty in to_close.items():
            details[symbol] = f"still open: {qty:f} ({details.get(symbol, 'no answer')})"
        closed = sum(1 for v in details.values() if v.startswith("closed"))
        if not confirmed:
            return False, "could not confirm that the positions are closed", details
        if to_close:
            return False, f"{len(to_close)} position(s) still open: {', '.join(sorted(to_close))}", details
        return True, f"flat: {closed} position(s) closed" if closed else "flat: nothing was open", details

    def _settle_flat_book(self: Engine, book: ModeBook, wanted, venue_open: dict[str, Decimal]) -> None:
        # After an explicit flatten the venue's answer is the truth: a symbol it reports flat is
        # flat in our book too, and no longer a mismatch.
        ts = self.market_time()
        for symbol, pos in list(book.portfolio.open_positions().items()):
            if wanted(symbol) and symbol not in venue_open:
                self._error(f"{symbol}: the venue reports flat while our book held {pos.quantity:f}; "
                            f"booked as flat", symbol)
                book.portfolio.adopt(symbol, Decimal(0), Decimal(0))
                self._publish(book.position_update(symbol, ts))
        settled = {s for s in self._mismatched if wanted(s) and s not in venue_open}
        if settled:
            self._mismatched -= settled
            self._publish_state()

    async def _trip_breakers(self: Engine, reasons: list[str]) -> None:
        async with self._gate.command():
            self._set_halt(True, "breaker: " + "; ".join(reasons))
            ok, message, details = await self._flatten(self._book, None)
        for reason in reasons:
            self._answer("breaker", ok, f"{reason}; flattened ({message}); entries halted until resumed",
                         details=details)

    # -- pause, halt ---------------------------------------------------------------

    async def pause(self: Engine, symbol: str) -> CommandResult:
        refused = self._refusal("pause", symbol)
        if refused:
            return refused
        async with self._gate.command():
            if symbol in self._paused:
                return self._answer("pause", True, f"{symbol} was already paused", symbol)
            self._paused.add(symbol)
            self._persist_controls()
            self._publish_state()
        held = self._book.portfolio.quantity(symbol)
        keeps = f"; it keeps its position {held:f}" if held else ""
        return self._answer("pause", True, f"{symbol} paused: no new orders for it{keeps}", symbol)

    async def resume(self: Engine, symbol: str) -> CommandResult:
        refused = self._refusal("resume", symbol)
        if refused:
            return refused
        async with self._gate.command():
            if symbol in self._mismatched:
                return await self._adopt_venue_quantity(symbol)
            if symbol not in self._paused:
                return self._answer("resume", False, f"{symbol} is not paused", symbol)
            self._paused.discard(symbol)
            self._persist_controls()
            self._publish_state()
        return self._answer("resume", True, f"{symbol} resumed: the strategy trades it again", symbol)

    async def _adopt_venue_quantity(self: Engine, symbol: str) -> CommandResult:
        book = self._book
        try:
            venue_positions = await book.venue.positions()
        except Exception as e:  # noqa: BLE001
            return self._answer("resume", False, f"{symbol}: could not read the exchange's position: {e}", symbol)
        pos = venue_positions.get(symbol)
        qty = pos.quantity if pos else Decimal(0)
        entry = pos.entry_price if pos else Decimal(0)
        book.portfolio.adopt(symbol, qty, entry, self._prices.get(symbol))
        self._mismatched.discard(symbol)
        self._paused.discard(symbol)
        self._persist_controls()
        self._publish_state()
        self._publish(book.position_update(symbol, self.market_time()))
        self._publish(book.equity_update(self.market_time()))
        return self._answer("resume", True, f"{symbol}: adopted the exchange's quantity {qty:f}; trading resumed",
                            symbol, {"quantity": str(qty), "entry_price": str(entry)})

    async def halt_entries(self: Engine) -> CommandResult:
        refused = self._refusal("halt")
        if refused:
            return refused
        async with self._gate.command():
            self._set_halt(True, "operator")
        return self._answer("halt", True, "entries halted: positions are kept and may still be reduced")

    async def resume_entries(self: Engine) -> CommandResult:
        refused = self._refusal("resume_entries")
        if refused:
            return refused
        async with self._gate.command():
            book = self._book
            cleared = book.breakers.reset(book.portfolio.equity)
            self._set_halt(False)
        extra = f"; cleared breaker(s) {', '.join(cleared)} (re-based on the current equity)" if cleared else ""
        return self._answer("resume_entries", True, f"entries resumed{extra}")

    # -- modes ---------------------------------------------------------------------

    def can_trade(self: Engine, mode: str) -> tuple[bool, str]:
        if mode not in MODES:
            return False, f"unknown mode {mode!r} (one of {', '.join(MODES)})"
        if mode == "paper":
            return True, ""
        if self.market != "binance":
            return False, (f"{mode} trading needs market `binance`: the {self.market} market's prices would not "
                           f"match the exchange's")
        if self.secrets.keys_for(mode) is None:
            return False, f"{mode} trading needs API keys: set {KEY_NAMES[mode]} (or put them in the secrets file)"
        return True, ""

    async def set_mode(self: Engine, mode: str, confirm: str | None = None) -> CommandResult:
        refused = self._refusal("set_mode")
        if refused:
            return refused
        allowed, why = self.can_trade(mode)
        if not allowed:
            return self._answer("set_mode", False, why)
        if mode == "live" and confirm != "LIVE":
            return self._answer("set_mode", False, "switching to live trades real money: type LIVE to confirm")
        target = Mode(mode)
        if target is self.mode:
            return self._answer("set_mode", True, f"already in {mode} mode")
        async with self._gate.command():
            try:
                if target not in self._books:
                    self._books[target] = await self._open_book(target)
                elif target is not Mode.PAPER:
                    await self._reconcile(self._books[target], announce_ok=True)  # it may have moved meanwhile
            except Exception as e:  # noqa: BLE001 - stay where we are, say why
                return self._answer("set_mode", False, f"could not switch to {mode}: {e}; still in "
                                                       f"{self.mode.value}")
            previous = self.mode
            self.mode = target
            if target is Mode.PAPER:
                self._stop_reconcile_loop()
            else:
                self._start_reconcile_loop()
            self._persist_controls()
            self._publish_state()
            book = self._book
            ts = self.market_time()
            book.portfolio.mark_all(self._prices)
            for symbol in book.portfolio.open_positions():
                self._publish(book.position_update(symbol, ts))
            self._publish(book.equity_update(ts))
        return self._answer("set_mode", True, f"switched from {previous.value} to {mode}; each mode keeps its own "
                                              f"positions ({len(book.portfolio.open_positions())} open in {mode})")

    # -- reconciliation (testnet, live) --------------------------------------------

    async def _reconcile(self: Engine, book: ModeBook, announce_ok: bool = False) -> None:
        try:
            venue_positions = await book.venue.positions()
        except Exception as e:  # noqa: BLE001
            self._error(f"reconciliation with the exchange failed: {e}")
            return
        ours = {s: p.quantity for s, p in book.portfolio.positions.items()}
        # A symbol with an order of unknown outcome is frozen already; its lookup settles the book.
        found = [m for m in mismatches(ours, venue_positions, self._instruments)
                 if m.symbol not in self._orders.uncertain]
        for symbol in outside_universe(venue_positions, self._instruments):
            self._error(f"{symbol}: the exchange holds a position outside the traded universe; left alone", symbol)
        new = [m for m in found if m.symbol not in self._mismatched]
        for m in new:
            self._mismatched.add(m.symbol)
            self._error(m.describe(book.mode.value), m.symbol)
            self._answer("reconcile", False, m.describe(book.mode.value), m.symbol,
                         {"ours": str(m.ours), "venue": str(m.venue)})
        if new:
            self._publish_state()
        elif announce_ok and not found:
            self._answer("reconcile", True, f"{book.mode.value}: our book matches the exchange "
                                            f"({len([q for q in ours.values() if q])} open position(s))")

    def _start_reconcile_loop(self: Engine) -> None:
        if self._reconcile_task is None or self._reconcile_task.done():
            self._reconcile_task = asyncio.ensure_future(self._reconcile_periodically())

    def _stop_reconcile_loop(self: Engine) -> None:
        if self._reconcile_task is not None:
            self._reconcile_task.cancel()
            self._reconcile_task = None

    async def _reconcile_periodically(self: Engine) -> None:
        while True:
            await asyncio.sleep(self.config.exchange.reconcile_interval_s)
            book = self._book
            if book is None or book.mode is Mode.PAPER:
                continue
            with contextlib.suppress(Exception):
                async with self._gate.strategy():
                    await self._reconcile(book)
