"""Running the engine without the desk: one short line per bar (or every N bars), a final
summary, and a clean exit on SIGINT or SIGTERM after the orders in flight are handled.
"""
from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TextIO

from engine.engine import Engine
from engine.events import CommandResult, EngineError, EngineState, EquityUpdate, Event, FlattenProgress

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
COUNTDOWN_EVERY_S = 10.0  # a long wait is re-announced this often


def flatten_line(p: FlattenProgress) -> str:
    if p.state == "waiting":
        error = f" (last error: {p.last_error})" if p.last_error else ""
        return f"flatten {p.symbol}: attempt {p.attempt} did not finish; next try in {p.next_try_in_s:.1f} s{error}"
    if p.state == "closing":
        return f"flatten {p.symbol}: closing {p.quantity:f} (attempt {p.attempt})"
    why = f": {p.last_error}" if p.last_error else ""
    return f"flatten {p.symbol}: {p.state} after {p.attempt} attempt(s){why}"


def bar_line(update: EquityUpdate, positions: int, halted: bool) -> str:
    pnl = update.equity - update.capital
    flag = "  HALTED" if halted else ""
    return (f"{update.ts:%Y-%m-%d %H:%M}  {update.mode.value:<7} equity {update.equity:,.2f}  "
            f"pnl {pnl:+,.2f}  positions {positions}  trades {update.trade_count}  "
            f"drawdown {update.drawdown:.2%}{flag}")


def summary(engine: Engine) -> str:
    snap = engine.snapshot()
    eq = snap.equity
    if eq is None:
        return f"stopped before trading started ({engine.live_bars} live bars)"
    return (f"done: {engine.live_bars} live bars in {eq.mode.value} on {engine.market}; equity {eq.equity:,.2f} "
            f"(capital {eq.capital:,.2f}, realized {eq.realized:+,.2f}, unrealized {eq.unrealized:+,.2f}, "
            f"fees {eq.fees:,.2f}, funding {eq.funding:+,.2f}); {eq.trade_count} trades; "
            f"{len(snap.positions)} open positions")


class _Printer:
    def __init__(self, engine: Engine, out: TextIO, every: int) -> None:
        self.engine, self.out, self.every = engine, out, max(1, every)
        self.bars = 0
        self._flatten_shown: dict[str, tuple[str, int, float]] = {}  # symbol -> state, attempt, wait shown
        self._banned = False

    def _show_flatten(self, p: FlattenProgress) -> None:
        shown = self._flatten_shown.get(p.symbol)
        if p.state == "closing" and p.attempt > 1:
            return  # every retry is announced by its wait already
        if shown is not None and shown[:2] == (p.state, p.attempt) and (
                p.state != "waiting" or shown[2] - p.next_try_in_s < COUNTDOWN_EVERY_S):
            return
        self._flatten_shown[p.symbol] = (p.state, p.attempt, p.next_try_in_s)
        print(flatten_line(p), file=self.out)

    def _show_ban(self, state: EngineState) -> None:
        banned = state.rate_limited_until is not None
        if banned and not self._banned:
            left = (state.rate_limited_until - state.ts).total_seconds()
            print(f"! rate-limited by Binance: no request goes out for {left:.0f} s", file=self.out)
        elif self._banned and not banned:
            print("rate limit over: requests go out again", file=self.out)
        self._banned = banned

    def show(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, EquityUpdate):
                self.bars += 1
                if self.bars % self.every == 0:
                    snap = self.engine.snapshot()
                    print(bar_line(event, len(snap.positions), snap.state.halted), file=self.out)
            elif isinstance(event, CommandResult):
                print(f"{'ok' if event.ok else 'REFUSED'} {event.command}: {event.message}", file=self.out)
            elif isinstance(event, EngineError):
                print(f"! {event.message}", file=self.out)
            elif isinstance(event, FlattenProgress):
                self._show_flatten(event)
            elif isinstance(event, EngineState):
                self._show_ban(event)
        self.out.flush()


async def run_headless(engine: Engine, max_bars: int | None = None, *, out: TextIO | None = None,
                       every: int = 1) -> int:
    """Run until `max_bars` live bars, a signal or the end of the feed; returns the exit code."""
    out = out or sys.stdout
    loop = asyncio.get_running_loop()
    subscription = engine.bus.subscribe("headless", maxsize=2_000, coalesce=True)
    printer = _Printer(engine, out, every)
    stopping: list[asyncio.Task] = []

    def on_signal() -> None:
        if not stopping:
            print("stopping: finishing the orders in flight...", file=out, flush=True)
            stopping.append(asyncio.ensure_future(engine.stop()))

    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)

    async def pump() -> None:
        while True:
            printer.show(await subscription.get_batch())

    pumping = asyncio.ensure_future(pump())
    code = 0
    try:
        await engine.run(max_bars)
    except Exception as e:  # noqa: BLE001 - the operator gets a sentence, not a traceback
        print(f"trifactor: {e}", file=sys.stderr)
        code = 1
    finally:
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        if stopping:
            await stopping[0]
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pumping
        printer.show(subscription.drain())
        engine.bus.unsubscribe(subscription)
        flush = getattr(engine.store, "flush", None)
        if flush is not None:
            try:
                await flush()
            except Exception as e:  # noqa: BLE001
                print(f"trifactor: flushing the store failed: {e}", file=sys.stderr)
                code = code or 1
    print(summary(engine), file=out, flush=True)
    return code
