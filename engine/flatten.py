"""Flatten until flat: rounds of cancel, reduce-only closes and a fresh position read.

A round cancels the open orders (conditional ones too), sends a reduce-only close for
everything still held and reads the positions again. Only that fresh read can end the
flatten as flat; a failed read never counts as flat. Between rounds it waits 0.2 s, doubling
to 5 s, or as long as the exchange asked (Retry-After, however long), counting down. The
operator can stop it; an error no retry can fix (a rejected key) stops it at once. A position
too small for any order (below the exchange's minimum quantity) is not retried either: it is
reported as dust to close on the exchange, and the flatten ends once everything else is flat.

Resending a close is safe: reduce-only orders never open or flip a position.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Awaitable, Callable

from engine.events import FlattenProgress
from engine.model import OrderResult
from engine.venues.base import Venue, VenueError

log = logging.getLogger(__name__)
COUNTDOWN_STEP_S = 1.0  # how often a waiting flatten says how long is left
COUNTDOWN_EVERY_S = 10.0  # a long wait is re-announced this often in printed progress


@dataclass(frozen=True)
class Backoff:
    first_s: float = 0.2
    max_s: float = 5.0

    def delay(self, failures: int, retry_after: float = 0.0) -> float:
        """The wait after the `failures`-th failed round in a row (1, 2, ...), at least `retry_after`."""
        wait = min(self.max_s, self.first_s * 2 ** max(0, failures - 1))
        return max(wait, retry_after)


@dataclass(frozen=True)
class FlattenOutcome:
    state: str  # flat, stopped, failed
    message: str
    details: dict[str, str] = field(default_factory=dict)  # symbol -> what became of it
    still_open: dict[str, Decimal] = field(default_factory=dict)  # as the last read, or our guess, had them
    confirmed: bool = False  # the last position read succeeded, so `still_open` is the venue's word
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.state == "flat"


def _closed(result: OrderResult) -> bool:
    return result.status in ("filled", "partially_filled")


def _permanent(exc: BaseException) -> bool:
    return isinstance(exc, VenueError) and exc.permanent


def _plain(exc: BaseException) -> str:
    # A venue's own errors are already sentences; anything else (a bug, a garbled answer) is named.
    return str(exc) if isinstance(exc, VenueError) else f"{type(exc).__name__}: {exc}"


class FlattenRun:
    """One flatten of `symbol` (None: everything the venue holds) on one venue.

    `close(symbol, quantity)` sends the reduce-only order for a signed position; `progress`
    receives one FlattenProgress per symbol whenever its state changes and while it waits.
    """

    def __init__(self, venue: Venue, symbol: str | None, first_guess: dict[str, Decimal],
                 close: Callable[[str, Decimal], Awaitable[OrderResult]],
                 progress: Callable[[FlattenProgress], None], *, backoff: Backoff = Backoff(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.venue, self.symbol = venue, symbol
        self._close, self._progress, self.backoff, self._clock = close, progress, backoff, clock
        self._open = {s: q for s, q in first_guess.items() if q and self._wanted(s)}
        self._seen = set(self._open)  # every symbol this flatten has reported on
        self._errors: dict[str, str] = {}
        self._details: dict[str, str] = {}
        self._dust: dict[str, tuple[Decimal, str]] = {}  # symbol -> (quantity, why no order can close it)
        self._stop = asyncio.Event()
        self._stopped_by = ""
        self._read = False  # a position read has succeeded
        self.attempt = 0

    def _wanted(self, symbol: str) -> bool:
        return self.symbol is None or symbol == self.symbol

    def covers(self, symbol: str) -> bool:
        return self._wanted(symbol)

    def stop(self, why: str = "stopped by the operator") -> None:
        self._stopped_by = why
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self) -> FlattenOutcome:
        cancelled = confirmed = False
        failures = 0
        while not self._stop.is_set():
            self.attempt += 1
            self._errors.clear()
            general = ""  # an error of the round rather than of one symbol
            try:
                if not cancelled:
                    await self.venue.cancel_all(self.symbol)
                    cancelled = True
            except Exception as e:  # noqa: BLE001 - whatever went wrong, the next round tries again
                if _permanent(e):
                    return self._failed(str(e))
                general = f"cancelling open orders failed: {_plain(e)}"
            sent = set(self._open) - set(self._dust)
            if sent:
                failure = await self._send_closes()
                if failure:
                    return self._failed(failure)
            try:
                held = await self.venue.positions()
            except Exception as e:  # noqa: BLE001 - a failed read is never taken for flat
                if _permanent(e):
                    return self._failed(str(e))
                general = general or f"reading the positions failed: {_plain(e)}"
                confirmed = False
            else:
                confirmed = self._read = True
                self._open = {s: p.quantity for s, p in held.items() if p.quantity and self._wanted(s)}
                for symbol in self._seen - set(self._open):
                    self._report(symbol, "flat")
                self._seen |= set(self._open)
                # Dust that changed size (a fill elsewhere) may be closable now.
                self._dust = {s: d for s, d in self._dust.items() if self._open.get(s) == d[0]}
                if not set(self._open) - set(self._dust) and cancelled:
                    return self._dust_left(confirmed) if self._open else self._outcome("flat", confirmed)
                if not (self._errors or general) and not set(self._open) & sent:
                    continue  # only positions our book did not know of are left: close them now
            failures = failures + 1 if (self._errors or general) else 1
            wait = self.backoff.delay(failures, self.venue.rate_limited_for())
            first_error = general or next(iter(self._errors.values()), "")
            log.warning("flatten attempt %d: %d position(s) still open; next try in %.1f s%s", self.attempt,
                        len(self._open), wait, f" ({first_error})" if first_error else "")
            await self._count_down(wait, general)
        return self._stopped(confirmed)

    async def _send_closes(self) -> str:
        """Closes for everything still open, all at once; the message of a permanent failure, if any."""
        for symbol in self._open:
            self._report(symbol, "closing")
        symbols = list(self._open)
        results = await asyncio.gather(*(self._close(s, self._open[s]) for s in symbols), return_exceptions=True)
        for symbol, result in zip(symbols, results):
            if isinstance(result, BaseException):
                self._errors[symbol] = f"{symbol}: {_plain(result)}"
            elif _closed(result):
                self._details[symbol] = f"closed {result.filled_qty:f}"
            elif result.status == "skipped":
                self._dust[symbol] = (self._open[symbol], result.message or f"{symbol}: too small for an order")
                self._report(symbol, "failed", self._dust[symbol][1])
            else:
                self._errors[symbol] = result.message or f"{symbol}: close {result.status}"
                if result.permanent:
                    return result.message
        return ""

    async def _count_down(self, wait: float, general: str) -> None:
        end = self._clock() + wait
        while not self._stop.is_set():
            left = end - self._clock()
            if left <= 0:
                return
            for symbol in self._open:
                self._report(symbol, "waiting", self._errors.get(symbol, general), left)
            try:
                await asyncio.wait_for(self._stop.wait(), min(COUNTDOWN_STEP_S, left))
            except asyncio.TimeoutError:
                pass

    def _report(self, symbol: str, state: str, error: str = "", next_try_in_s: float = 0.0) -> None:
        self._progress(FlattenProgress(symbol, state, self.attempt, self._open.get(symbol, Decimal(0)), error,
                                       round(next_try_in_s, 1)))

    def _details_with_open(self) -> dict[str, str]:
        details = dict(self._details)
        for symbol, qty in self._open.items():
            error = (self._dust[symbol][1] if symbol in self._dust
                     else self._errors.get(symbol) or details.get(symbol, "no answer"))
            details[symbol] = f"still open: {qty:f} ({error})"
        return details

    def _outcome(self, state: str, confirmed: bool, message: str = "") -> FlattenOutcome:
        if not message:
            closed = sum(1 for v in self._details.values() if v.startswith("closed"))
            message = f"flat: {closed} position(s) closed" if closed else "flat: nothing was open"
            if self.attempt > 1:
                message += f" (after {self.attempt} attempts)"
        return FlattenOutcome(state, message, self._details_with_open(), dict(self._open), confirmed, self.attempt)

    def _still_open(self) -> str:
        if not self._open:
            return "no position is open" if self._read else "no position could be read"
        return f"{len(self._open)} position(s) still open: {', '.join(sorted(self._open))}"

    def _stopped(self, confirmed: bool) -> FlattenOutcome:
        for symbol in self._open:
            self._report(symbol, "stopped", self._errors.get(symbol, ""))
        return self._outcome("stopped", confirmed, f"flatten {self._stopped_by} after {self.attempt} attempt(s); "
                                                   f"{self._still_open()}")

    def _dust_left(self, confirmed: bool) -> FlattenOutcome:
        for symbol in self._open:
            self._report(symbol, "failed", self._dust[symbol][1])
        return self._outcome("failed", confirmed, f"flatten ended with dust no order can close: "
                                                  f"{self._still_open()}; close it on the exchange")

    def _failed(self, why: str) -> FlattenOutcome:
        for symbol in self._open:
            self._report(symbol, "failed", why)
        return self._outcome("failed", False, f"flatten stopped: {why}; retrying cannot fix this; "
                                              f"{self._still_open()}")


def flatten_line(p: FlattenProgress) -> str:
    """One line of a flatten's progress, as headless runs and `trifactor ctl flatten` print it."""
    if p.state == "waiting":
        error = f" (last error: {p.last_error})" if p.last_error else ""
        return f"flatten {p.symbol}: attempt {p.attempt} did not finish; next try in {p.next_try_in_s:.1f} s{error}"
    if p.state == "closing":
        return f"flatten {p.symbol}: closing {p.quantity:f} (attempt {p.attempt})"
    why = f": {p.last_error}" if p.last_error else ""
    return f"flatten {p.symbol}: {p.state} after {p.attempt} attempt(s){why}"


class FlattenLines:
    """The progress lines worth printing: each change of state, and a long wait every ten seconds."""

    def __init__(self) -> None:
        self._shown: dict[str, tuple[str, int, float]] = {}  # symbol -> state, attempt, wait shown

    def line(self, p: FlattenProgress) -> str | None:
        shown = self._shown.get(p.symbol)
        if p.state == "closing" and shown is not None and shown[0] == "waiting":
            return None  # the retry was announced by its wait already
        if shown is not None and shown[:2] == (p.state, p.attempt) and (
                p.state != "waiting" or shown[2] - p.next_try_in_s < COUNTDOWN_EVERY_S):
            return None
        self._shown[p.symbol] = (p.state, p.attempt, p.next_try_in_s)
        return flatten_line(p)
