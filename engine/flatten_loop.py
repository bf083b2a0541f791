"""Closing positions until a fresh position read says flat, whatever the venue does meanwhile.

Each round reads the venue's positions, cancels the open orders of every symbol still open,
sends a reduce-only close for each, then reads again. A round with a failure waits first:
0.2 s doubling to 5 s, or as long as the exchange's Retry-After says. An error more tries
cannot fix (a rejected key) stops it at once. It is never "flat" without a fresh read.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Awaitable, Callable

from engine.book import ModeBook
from engine.execution import OrderSender
from engine.sizing import close_order

BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 5.0
Progress = Callable[[str], None]


@dataclass
class FlattenReport:
    ok: bool
    message: str
    details: dict[str, str] = field(default_factory=dict)
    closed: dict[str, Decimal] = field(default_factory=dict)  # symbol -> quantity closed by our orders


def permanent_problem(error: BaseException) -> str | None:
    """A failure retrying cannot fix, as one sentence; None when another try may succeed."""
    cause = getattr(error, "cause", None)
    if cause is None:
        return None
    import ccxt

    if isinstance(cause, (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended)):
        return str(error)
    return None


def _wait_for(error: BaseException | None, backoff: float) -> float:
    asked = getattr(getattr(error, "cause", None), "retry_after", None)
    return max(backoff, float(asked)) if asked else backoff


async def flatten_until_flat(book: ModeBook, sender: OrderSender, wanted: Callable[[str], bool],
                             prices: dict[str, Decimal], progress: Progress,
                             sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> FlattenReport:
    report = FlattenReport(False, "")
    unclosable: dict[str, str] = {}  # symbol -> why a market order cannot close it (below the minimum)
    backoff, attempt = BACKOFF_START_S, 0
    while True:
        attempt += 1
        try:
            positions = await book.venue.positions()
        except Exception as e:  # noqa: BLE001 - the loop decides: stop, or wait and read again
            problem = permanent_problem(e)
            if problem:
                report.message = f"stopped: {problem}"
                return report
            wait = _wait_for(e, backoff)
            progress(f"attempt {attempt}: reading the positions failed: {e}; next try in {wait:.1f} s")
            await sleep(wait)
            backoff = min(backoff * 2, BACKOFF_MAX_S)
            continue
        still_open = {s: p.quantity for s, p in positions.items() if p.quantity and wanted(s)}
        to_close = {s: q for s, q in still_open.items() if s not in unclosable}
        if not to_close:
            return _final(report, still_open, unclosable)
        failure: BaseException | None = None
        for symbol in to_close:
            try:
                await book.venue.cancel_all(symbol)
            except Exception as e:  # noqa: BLE001 - closing the position matters more
                progress(f"{symbol}: cancelling open orders failed: {e}")
        results = await asyncio.gather(
            *(sender.send(book, s, close_order(q), "flatten", prices.get(s, Decimal(0))) for s, q in to_close.items()),
            return_exceptions=True)
        failed = False
        for symbol, result in zip(to_close, results):
            if isinstance(result, BaseException):  # the sender reports its own failures; not this
                failed, failure = True, result
                report.details[symbol] = f"attempt {attempt}: {result}"
                progress(f"{symbol}: attempt {attempt}: {result}")
            elif result.status == "skipped":
                unclosable[symbol] = result.message
            elif result.status in ("filled", "partially_filled"):
                report.closed[symbol] = report.closed.get(symbol, Decimal(0)) + result.filled_qty
            else:
                failed = True
                report.details[symbol] = f"attempt {attempt}: {result.message or result.status}"
        if failed:
            wait = _wait_for(failure, backoff)
            progress(f"{len(to_close)} position(s) not yet confirmed flat; next try in {wait:.1f} s")
            await sleep(wait)
            backoff = min(backoff * 2, BACKOFF_MAX_S)
        else:
            backoff = BACKOFF_START_S  # every close went through: confirm with a fresh read at once


def _final(report: FlattenReport, still_open: dict[str, Decimal], unclosable: dict[str, str]) -> FlattenReport:
    for symbol, qty in report.closed.items():
        report.details[symbol] = f"closed {qty:f}"
    for symbol, qty in still_open.items():
        report.details[symbol] = f"still open: {qty:f} ({unclosable.get(symbol, 'no close possible')})"
    if still_open:
        report.message = (f"{len(still_open)} position(s) too small for a market order remain open: "
                          f"{', '.join(sorted(still_open))}")
        return report
    report.ok = True
    report.message = f"flat: {len(report.closed)} position(s) closed" if report.closed else "flat: nothing was open"
    return report
