"""The simulated market's price process, one minute at a time for the whole universe at once.

Per symbol: a hidden regime (calm, trending, turbulent) that switches now and then; GARCH
volatility clustering on top of the regime's level; rare jumps; a slow pull toward the
starting price so long runs stay realistic; a funding rate that mean-reverts and leans with
the trend, settles at each funding time and is carried as the last settled rate; volume that
swells with large moves and taker-buy volume that leans with returns.

Random numbers are counter-based (a hash of seed, symbol, minute and draw), so each symbol's
path depends only on the seed and its name, not on which other symbols are simulated, and
each minute costs a handful of numpy operations over the universe. A market that carries on
after an earlier session's (`run` names it) draws its own numbers, so it never repeats that
session's moves.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from engine.feeds.sim_specs import SimSpec

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_DRAWS = 15  # independent uniforms per symbol and minute

REGIME_VOL = np.array([0.7, 1.0, 2.2])  # calm, trending, turbulent
REGIME_VOLUME = np.array([0.8, 1.0, 1.8])
REGIME_SWITCH_P = 1 / 720  # about twice a simulated day
TREND_DRIFT = 0.12  # per-minute drift in units of the minute's base volatility
JUMP_P = 1 / 1500
JUMP_SIZE = 6.0
GARCH_A, GARCH_B = 0.08, 0.90
ANCHOR_PULL = 1e-5
FUNDING_MEAN, FUNDING_PULL, FUNDING_NOISE, FUNDING_TREND = 1e-4, 2e-3, 1.3e-5, 0.02
FUNDING_CAP = 0.0075


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a good 64-bit hash, elementwise (uint64 wraps by design)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def _symbol_key(seed: int, symbol: str, run: str = "") -> int:
    name = f"{seed}:{symbol}" if not run else f"{seed}:{run}:{symbol}"
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")


def _decimals(tick: float) -> int:
    return max(0, -math.floor(math.log10(tick) + 1e-9))


@dataclass(slots=True)
class MinuteArrays:
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    taker_buy_volume: np.ndarray
    funding_rate: np.ndarray


class SimMarket:
    def __init__(self, specs: list[SimSpec], seed: int, run: str = "") -> None:
        n = len(specs)
        self.specs = specs
        self._keys = np.array([_symbol_key(seed, s.instrument.symbol, run) for s in specs], dtype=np.uint64)
        self._draw_ids = np.arange(_DRAWS, dtype=np.uint64)
        self._minute = 0
        start = np.array([s.price for s in specs])
        self._anchor = np.log(start)
        self._logp = self._anchor.copy()
        self._sigma = np.array([s.daily_vol for s in specs]) / math.sqrt(1440.0)
        self._var = self._sigma**2
        self._regime = np.zeros(n, dtype=np.int64)
        self._trend_dir = np.ones(n)
        self._funding = np.full(n, FUNDING_MEAN)  # the running estimate of the next settlement
        self._settled = self._funding.copy()
        self._base_volume = np.array([s.volume for s in specs])
        self._tick = np.array([float(s.instrument.tick_size) for s in specs])
        by_decimals: dict[int, list[int]] = {}
        for i, t in enumerate(self._tick):
            by_decimals.setdefault(_decimals(t), []).append(i)
        self._decimal_groups = [(d, np.array(idx)) for d, idx in by_decimals.items()]
        self._last_close = self._round(start)

    def carry_on_from(self, closes: np.ndarray, rates: np.ndarray, minutes: list[MinuteArrays],
                      carrying: int) -> None:
        """Go on from an earlier session's last closes and settled funding rates (NaN: leave a
        symbol as it is). Each symbol's prices, the market's own and those of the `minutes` it
        generated, move by one ratio, so that its last close is the recorded one and the path's
        moves stay what the process drew. The recorded rate is settled for the future, and the
        last `carrying` minutes carry it too (those since the funding time it settled at)."""
        usable = np.isfinite(closes) & (closes > 0)
        ratio = np.where(usable, closes, 1.0) / np.where(usable, self._last_close, 1.0)
        self._logp += np.log(ratio)
        self._last_close = self._round(self._last_close * ratio)
        for m in minutes:
            m.open, m.high = self._round(m.open * ratio), self._round(m.high * ratio)
            m.low, m.close = self._round(m.low * ratio), self._round(m.close * ratio)
        known = np.isfinite(rates)
        self._settled = np.where(known, rates, self._settled)
        for m in minutes[len(minutes) - carrying:] if carrying else ():
            m.funding_rate = np.where(known, np.round(rates, 8), m.funding_rate)

    def _round(self, prices: np.ndarray) -> np.ndarray:
        # On the tick grid, and printed without binary noise (0.3 rather than 0.30000000000000004).
        snapped = np.maximum(np.round(prices / self._tick) * self._tick, self._tick)
        for decimals, idx in self._decimal_groups:
            snapped[idx] = np.round(snapped[idx], decimals)
        return snapped

    def _uniforms(self) -> np.ndarray:
        counter = np.uint64((self._minute * _GOLDEN) & _MASK)
        x = _mix(_mix(self._keys ^ counter)[:, None] + self._draw_ids * np.uint64(_GOLDEN))
        return ((x >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53  # in (0, 1)

    @staticmethod
    def _normal(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)

    def step(self, settles_funding: bool = False) -> MinuteArrays:
        """Advance one minute and return its bars' fields for every symbol.

        `settles_funding`: this minute opens on a funding time, so the estimate as it stands now
        settles and this bar and the following ones carry it.
        """
        if settles_funding:
            self._settled = self._funding.copy()
        u = self._uniforms()
        z_ret, z_jump = self._normal(u[:, 0], u[:, 1]), self._normal(u[:, 2], u[:, 3])
        z_vol, z_flow = self._normal(u[:, 4], u[:, 5]), self._normal(u[:, 6], u[:, 7])
        z_fund = self._normal(u[:, 8], u[:, 9])
        switch = u[:, 10] < REGIME_SWITCH_P
        if switch.any():
            pick = u[switch, 11] * 6.0  # which regime, and which way a trend goes
            self._regime[switch] = pick.astype(np.int64) % 3
            self._trend_dir[switch] = np.where(pick % 1.0 < 0.5, -1.0, 1.0)
        jump = np.where(u[:, 12] < JUMP_P, JUMP_SIZE * self._sigma * z_jump, 0.0)

        vol = np.sqrt(self._var)
        shock = vol * z_ret
        drift = np.where(self._regime == 1, TREND_DRIFT * self._sigma * self._trend_dir, 0.0)
        ret = drift + shock + jump - ANCHOR_PULL * (self._logp - self._anchor)
        self._logp += ret
        target_var = (self._sigma * REGIME_VOL[self._regime]) ** 2
        self._var = (1 - GARCH_A - GARCH_B) * target_var + GARCH_A * (shock + jump) ** 2 + GARCH_B * self._var

        open_ = self._last_close
        close = self._round(np.exp(self._logp))
        wick = vol * 0.6
        top, bottom = np.maximum(open_, close), np.minimum(open_, close)
        high = np.maximum(top, self._round(top * np.exp(-np.log(u[:, 13]) * wick)))
        low = np.minimum(bottom, self._round(bottom * np.exp(np.log(u[:, 14]) * wick)))
        surprise = np.abs(ret) / np.maximum(vol, 1e-12)
        volume = self._base_volume * REGIME_VOLUME[self._regime] * np.exp(0.35 * z_vol) * (0.6 + 0.5 * surprise)
        buy_share = np.clip(0.5 + 0.18 * np.tanh(ret / np.maximum(vol, 1e-12)) + 0.04 * z_flow, 0.03, 0.97)
        self._funding += (FUNDING_PULL * (FUNDING_MEAN - self._funding) + FUNDING_NOISE * z_fund
                          + FUNDING_TREND * ret)
        self._funding = np.clip(self._funding, -FUNDING_CAP, FUNDING_CAP)

        self._last_close = close
        self._minute += 1
        volume = np.round(volume, 3)
        return MinuteArrays(open_, high, low, close, volume, np.round(volume * buy_share, 3),
                            np.round(self._settled, 8))
