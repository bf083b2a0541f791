"""The embedded simulated market: deterministic by seed, on its own accelerated clock.

Bar times run on a simulated clock: the first live bar opens at 2026-01-01 00:00 UTC plus
(seed mod 8) hours, so different seeds meet the 8-hourly funding at different moments, and the
warm-up history ends just before it. A session after an earlier one on the same store carries on
the minute after that session's last recorded bar, from its last prices, with new moves. Funding settles at 00:00, 08:00 and 16:00 of that clock: a
bar's funding_rate is the last settled rate, so it changes only on the bar opening at a funding
time, as on the exchange's funding history. Each tick of the accelerated clock (`speed` bars per
second) closes one minute for every symbol.

Faults can be injected for tests and demonstrations: a gap (a symbol's bars missing), stale
data (flat bars with no volume, feed status `stale`) and bad values (a NaN or negative price).
"""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import repeat
from typing import AsyncIterator, Mapping

import numpy as np

from engine.config import Config
from engine.feeds.base import FeedError
from engine.feeds.sim_market import SimMarket
from engine.feeds.sim_specs import sim_universe, spec_for
from engine.funding import is_funding_time
from engine.model import Bar, Instrument
from engine.warmup import CLOSE, WarmHistory

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
FAULTS = ("gap", "stale", "bad")
# The warm-up history is generated this many symbol-minutes at a time: enough for numpy's cost
# per call to be spread thin, little enough for the arrays to stay in cache (measured at 500
# symbols: 900 minutes took 1.0 s in one go, 0.12 s in chunks of 12).
HISTORY_CHUNK = 6000


def sim_symbols(config: Config) -> list[str]:
    """The traded symbols: the list, or with `universe.type: all` the first `sim.symbols` of the
    simulated market's universe."""
    if config.universe.type != "all":
        return config.symbols()
    excluded = set(config.universe.exclude_symbols)
    return [s for s in sim_universe(config.sim.symbols) if s not in excluded]


def first_live_bar(seed: int) -> datetime:
    return EPOCH + timedelta(hours=seed % 8)


@dataclass
class _Fault:
    kind: str
    symbol: str
    bars: int
    value: float


class SimFeed:
    name = "sim"

    def __init__(self, config: Config, *, paced: bool = True, speed: float | None = None,
                 start: datetime | None = None) -> None:
        """`paced=False` yields bars as fast as the consumer takes them (tests, benchmarks)."""
        self.symbols = sim_symbols(config)
        self.seed = config.sim.seed
        self.warmup_bars = config.sim.warmup_bars
        self.speed = speed if speed is not None else config.sim.speed
        self.paced = paced
        self._next_ts = start or first_live_bar(self.seed)
        self._status = "connecting"
        self._market: SimMarket | None = None
        self._history_stamps: list[datetime] = []
        self._history = np.empty((0, 7, len(self.symbols)))  # (minutes, fields in a Bar's order, symbols)
        self._index: dict[str, int] = {}
        self._last: dict[str, float] = {}
        self._faults: list[_Fault] = []
        self._closed = asyncio.Event()
        self._clock_started: float | None = None  # event-loop time at which the accelerated clock began
        self._resumed: datetime | None = None  # when this session carries on after an earlier one
        self._recorded_until: datetime | None = None  # the close of that session's last bar
        self._carried: dict[str, tuple[float, float | None]] = {}

    @property
    def status(self) -> str:
        return self._status

    def now(self) -> datetime:
        """The simulated clock: the close time of the last bar given out."""
        return self._next_ts

    def resume_after(self, ts: datetime) -> None:
        """Carry on after `ts`, the newest market time an earlier session recorded (its last bar's
        close), with moves of its own rather than the earlier session's again. The first live bar
        opens a minute after it: this session's starting row (at the close of its warm-up) must
        not take the place of that session's last one."""
        self._not_started()
        first = ts.replace(second=0, microsecond=0) + MINUTE
        if first > self._next_ts:
            self._next_ts = first
            self._resumed = first
            self._recorded_until = ts

    def carry_on_from(self, last: Mapping[str, tuple[float, float | None]]) -> None:
        """Start each symbol from its last recorded (close, funding rate): the generated warm-up
        history is scaled to end on the close, so an earlier session's open positions go on from
        their last mark, and the rate stays until the next funding time settles another."""
        self._not_started()
        self._carried = dict(last)

    def _not_started(self) -> None:
        if self._market is not None:
            raise FeedError("the simulated market already started; it cannot move its clock")

    async def start(self) -> dict[str, Instrument]:
        # The accelerated clock ticks from here: its first tick, as the market starts, closes the
        # first live minute (whose history is all there), and each later one the next minute. The
        # first live bar so comes as soon as the engine has warmed up, not an interval after that.
        self._clock_started = asyncio.get_running_loop().time()
        specs = [spec_for(s) for s in self.symbols]
        self._index = {s: i for i, s in enumerate(self.symbols)}
        run = "" if self._resumed is None else f"{self._resumed:%Y-%m-%dT%H:%M}"
        self._market = SimMarket(specs, self.seed, run)
        first = self._next_ts - self.warmup_bars * MINUTE
        stamps = self._history_stamps = [first + n * MINUTE for n in range(self.warmup_bars)]
        self._history = np.empty((len(stamps), 7, len(specs)))
        chunk = max(1, HISTORY_CHUNK // max(1, len(specs)))
        for begin in range(0, len(stamps), chunk):
            end = begin + chunk
            self._history[begin:end] = self._market.minutes([is_funding_time(ts) for ts in stamps[begin:end]])
            await asyncio.sleep(0)  # a long warm-up must not freeze the desk
        if self._carried and self._recorded_until is not None:
            self._carry_on()
        if stamps:
            self._last = dict(zip(self.symbols, self._history[-1, CLOSE].tolist()))
        self._status = "live"
        return {s.instrument.symbol: s.instrument for s in specs}

    def _carry_on(self) -> None:
        assert self._market is not None and self._recorded_until is not None
        missing = (math.nan, None)
        closes = np.array([self._carried.get(s, missing)[0] for s in self.symbols], dtype=np.float64)
        rates = np.array([math.nan if (r := self._carried.get(s, missing)[1]) is None else r for s in self.symbols],
                         dtype=np.float64)
        # The recorded rate is carried from the newest funding time in the history on, unless the
        # earlier session never reached that time: then it is a new settlement of this market's own.
        seen_until = self._recorded_until - MINUTE  # the open of that session's last bar
        settled_at = [i for i, ts in enumerate(self._history_stamps) if is_funding_time(ts)]
        since = settled_at[-1] if settled_at else 0
        if settled_at and self._history_stamps[since] > seen_until:
            rates[:] = math.nan
        self._market.carry_on_from(closes, rates, self._history, len(self._history) - since)

    async def warmup(self, symbol: str, bars: int) -> list[Bar]:
        i = self._index.get(symbol)
        if i is None:
            raise FeedError(f"{symbol}: not part of the simulated universe")
        if bars <= 0:
            return []
        return [Bar(symbol, ts, *values)
                for ts, values in zip(self._history_stamps[-bars:], self._history[-bars:, :, i].tolist())]

    def warmup_history(self, bars: int) -> WarmHistory:
        """The last `bars` minutes of warm-up history for the whole universe, as arrays (the same
        numbers `warmup` gives as Bars)."""
        stamps, fields = (self._history_stamps[-bars:], self._history[-bars:]) if bars > 0 else ([], self._history[:0])
        return WarmHistory(stamps, fields, np.ones((len(stamps), len(self.symbols)), dtype=bool))

    def release_warmup(self) -> None:
        """Drop the pre-generated history once the engine has consumed it."""
        self._history_stamps, self._history = [], self._history[:0].copy()

    def inject(self, kind: str, symbol: str, bars: int = 1, value: float = math.nan) -> None:
        """Make the next `bars` bars of `symbol` faulty (kind: gap, stale or bad)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r} (known: {', '.join(FAULTS)})")
        if symbol not in self._index:
            raise FeedError(f"{symbol}: not part of the simulated universe")
        self._faults.append(_Fault(kind, symbol, bars, value))

    async def stream(self) -> AsyncIterator[list[Bar]]:
        if self._market is None:
            raise FeedError("the simulated market was not started")
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.speed
        deadline = loop.time() if self._clock_started is None else self._clock_started - interval
        while not self._closed.is_set():
            if self.paced:
                deadline += interval
                delay = deadline - loop.time()
                if delay < -interval:
                    deadline = loop.time()  # fell behind: carry on from now rather than burst
                await asyncio.sleep(max(delay, 0))
            else:
                await asyncio.sleep(0)
            if self._closed.is_set():
                break
            yield self._next_minute()

    def _next_minute(self) -> list[Bar]:
        ts = self._next_ts
        arrays = self._market.step(is_funding_time(ts))
        self._next_ts = ts + MINUTE
        cols = (arrays.open.tolist(), arrays.high.tolist(), arrays.low.tolist(), arrays.close.tolist(),
                arrays.volume.tolist(), arrays.taker_buy_volume.tolist(), arrays.funding_rate.tolist())
        # Built by tuple.__new__ itself: Bar's generated __new__ is a Python call per symbol each minute.
        bars = list(map(tuple.__new__, repeat(Bar), zip(self.symbols, repeat(ts), *cols)))
        stale = False
        if self._faults:
            bars, stale = self._apply_faults(bars)
        if not self._closed.is_set():
            self._status = "stale" if stale else "live"
        for bar in bars:
            if bar.close > 0 and math.isfinite(bar.close):
                self._last[bar.symbol] = bar.close
        return bars

    def _apply_faults(self, bars: list[Bar]) -> tuple[list[Bar], bool]:
        out: list[Bar] = []
        active = {f.symbol: f for f in self._faults}
        stale = False
        for bar in bars:
            fault = active.get(bar.symbol)
            if fault is None:
                out.append(bar)
                continue
            fault.bars -= 1
            if fault.kind == "bad":
                out.append(Bar(bar.symbol, bar.ts, bar.open, bar.high, bar.low, fault.value, bar.volume,
                               bar.taker_buy_volume, bar.funding_rate))
            elif fault.kind == "stale":
                stale = True
                p = self._last.get(bar.symbol, bar.open)
                out.append(Bar(bar.symbol, bar.ts, p, p, p, p, 0.0, 0.0, bar.funding_rate))
            # a gap: nothing for this symbol this minute
        self._faults = [f for f in self._faults if f.bars > 0]
        return out, stale

    def last_price(self, symbol: str) -> float | None:
        return self._last.get(symbol)

    async def close(self) -> None:
        self._closed.set()
        self._status = "stopped"
