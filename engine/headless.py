"""Running the engine without the desk: one short line per bar (or every N bars), one per
fill, a final summary, and a clean exit on SIGINT or SIGTERM after the orders in flight are
handled.

Lines appear only once the bus has delivered their events, that is once the ledger has them
on disk: a fill printed here survives a kill -9.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from typing import Callable, TextIO

from engine.control import ControlServer
from engine.flatten import FlattenLines
from engine.engine import Engine
from engine.events import (CommandResult, EngineError, EngineState, EquityUpdate, Event, FillEvent, FlattenProgress,
                           StoreStatus)
from engine.startup import StartError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for a tool whose reader went away
STOP_DEADLINE_S = 2.5  # the store then gets the rest of the 5 s a SIGTERM may take
EXIT_CANNOT_START = 2


def bar_line(update: EquityUpdate, positions: int, halted: bool, uncertain: frozenset[str] = frozenset()) -> str:
    pnl = update.equity - update.capital
    flag = "  HALTED" if halted else ""
    if uncertain:
        flag += f"  UNCERTAIN {','.join(sorted(uncertain))}"
    return (f"{update.ts:%Y-%m-%d %H:%M}  {update.mode.value:<7} equity {update.equity:,.2f}  "
            f"pnl {pnl:+,.2f}  positions {positions}  trades {update.trade_count}  "
            f"drawdown {update.drawdown:.2%}{flag}")


def fill_line(event: FillEvent) -> str:
    f = event.fill
    return f"fill {f.trade_id} {f.symbol} {f.side.value} {f.quantity:f} @ {f.price:f}"


def store_line(status: StoreStatus) -> str:
    if status.status == "up":
        # Up with a message: rows were set aside as conflicts, or the instance lock was lost.
        return f"! store: {status.message}" if status.message else "store: up, everything written"
    detail = f": {status.message}" if status.message and not status.message.startswith("db down") else ""
    if status.status == "down" and status.message.startswith("db down"):
        return f"store: {status.message}"
    return f"store: {status.status}, {status.spooled} rows waiting{detail}"


def summary(engine: Engine) -> str:
    snap = engine.snapshot()
    eq = snap.equity
    if eq is None and engine.live_bars:
        return (f"stopped after {engine.live_bars} live bars without trading: the book was never read back from "
                f"the store (everything shown is journaled and reaches it at the next start)")
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
        self.store: tuple[str, str] | None = None
        self.broken = False  # the reader went away (`| head`): stop quietly, as Unix tools do
        self.on_broken: Callable[[], None] = lambda: None
        self._flatten_lines = FlattenLines()
        self._banned = False

    def _show_flatten(self, p: FlattenProgress) -> None:
        line = self._flatten_lines.line(p)
        if line is not None:
            print(line, file=self.out)

    def _show_ban(self, state: EngineState) -> None:
        banned = state.rate_limited_until is not None
        if banned and not self._banned:
            left = (state.rate_limited_until - state.ts).total_seconds()
            print(f"! rate-limited by Binance: no request goes out for {left:.0f} s", file=self.out)
        elif self._banned and not banned:
            print("rate limit over: requests go out again", file=self.out)
        self._banned = banned

    def show(self, events: list[Event]) -> None:
        if self.broken:
            return
        try:
            self._show(events)
        except BrokenPipeError:
            self.broken = True
            with contextlib.suppress(AttributeError, OSError, ValueError):
                # What is still buffered, and the final summary, go nowhere instead of raising again.
                os.dup2(os.open(os.devnull, os.O_WRONLY), self.out.fileno())
            self.on_broken()

    def _show(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, EquityUpdate):
                self.bars += 1
                if self.bars % self.every == 0:
                    state = self.engine.state()
                    print(bar_line(event, self.engine.open_position_count, state.halted, state.uncertain),
                          file=self.out)
            elif isinstance(event, FillEvent):
                print(fill_line(event), file=self.out)
            elif isinstance(event, CommandResult):
                print(f"{'ok' if event.ok else 'REFUSED'} {event.command}: {event.message}", file=self.out)
            elif isinstance(event, EngineError):
                print(f"! {event.message}", file=self.out)
            elif isinstance(event, StoreStatus) and (event.status, event.message) != self.store:
                if self.store is not None or event.status != "up" or event.message:
                    print(store_line(event), file=self.out)
                self.store = (event.status, event.message)
            elif isinstance(event, FlattenProgress):
                self._show_flatten(event)
            elif isinstance(event, EngineState):
                self._show_ban(event)
        self.out.flush()


async def run_headless(engine: Engine, max_bars: int | None = None, *, out: TextIO | None = None,
                       every: int = 1, control: ControlServer | None = None) -> int:
    """Run until `max_bars` live bars, a signal or the end of the feed; returns the exit code.

    `control` (claimed by the caller) serves the engine's control socket for the run's length.
    """
    out = out or sys.stdout
    loop = asyncio.get_running_loop()
    subscription = engine.bus.subscribe("headless", maxsize=2_000, coalesce=True)
    printer = _Printer(engine, out, every)
    stopping: list[asyncio.Task] = []
    running: list[asyncio.Task] = []

    def on_signal(quiet: bool = False) -> None:
        if not stopping:
            if not quiet:
                print("stopping: finishing the orders in flight...", file=out, flush=True)
            stopping.append(asyncio.ensure_future(engine.stop()))
            # A service manager escalates to SIGKILL after a few seconds: whatever the engine
            # waits on (a frozen database at start-up, an exchange that does not answer), it is
            # cut short in time. Everything shown so far is already in the ledger.
            loop.call_later(STOP_DEADLINE_S, lambda: running and running[0].cancel())

    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
    printer.on_broken = lambda: on_signal(quiet=True)

    async def pump() -> None:
        while True:
            printer.show(await subscription.get_batch())

    pumping = asyncio.ensure_future(pump())
    code = 0
    try:
        if control is not None:
            await control.start(engine)
        running.append(asyncio.ensure_future(engine.run(max_bars)))
        try:
            await running[0]
        except asyncio.CancelledError:
            if not running[0].cancelled():
                raise
            print(f"stopped: the engine did not finish within {STOP_DEADLINE_S:g} s; its ledger holds "
                  f"everything shown", file=out, flush=True)
    except StartError as e:  # the asked-for mode cannot trade: like a usage error, for scripts too
        print(f"trifactor: {e}", file=sys.stderr)
        code = EXIT_CANNOT_START
    except Exception as e:  # noqa: BLE001 - the operator gets a sentence, not a traceback
        print(f"trifactor: {e}", file=sys.stderr)
        code = 1
    finally:
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        if stopping:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(stopping[0], 1.0)
        if control is not None:
            await control.close()
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pumping
        await engine.bus.commit()
        printer.show(subscription.drain())
        engine.bus.unsubscribe(subscription)
    if printer.broken:
        return code or EXIT_BROKEN_PIPE
    print(summary(engine), file=out, flush=True)
    return code
