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
from typing import Sequence

import numpy as np

from engine.feeds.sim_specs import SimSpec

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = 0x9E3779B97F4A7C15
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
        # np.round(x, d) is rint(x * 10**d) / 10**d: with each symbol's own 10**d, one pass for all
        self._tick_scale = np.array([10.0 ** _decimals(t) for t in self._tick])
        self._last_close = self._round(start)

    def carry_on_from(self, closes: np.ndarray, rates: np.ndarray, minutes: np.ndarray, carrying: int) -> None:
        """Go on from an earlier session's last closes and settled funding rates (NaN: leave a
        symbol as it is). Each symbol's prices, the market's own and those of the `minutes` it
        generated ((minutes, 7, symbols), as `minutes()` gives them), move by one ratio, so that
        its last close is the recorded one and the path's moves stay what the process drew. The
        recorded rate is settled for the future, and the last `carrying` minutes carry it too
        (those since the funding time it settled at)."""
        usable = np.isfinite(closes) & (closes > 0)
        ratio = np.where(usable, closes, 1.0) / np.where(usable, self._last_close, 1.0)
        self._logp += np.log(ratio)
        self._last_close = self._round(self._last_close * ratio)
        prices = minutes[:, :4]  # open, high, low, close
        prices[...] = self._round(prices * ratio)
        known = np.isfinite(rates)
        self._settled = np.where(known, rates, self._settled)
        if carrying:
            funding = minutes[len(minutes) - carrying:, 6]
            funding[...] = np.where(known, np.round(rates, 8), funding)

    def _round(self, prices: np.ndarray) -> np.ndarray:
        # On the tick grid, and printed without binary noise (0.3 rather than 0.30000000000000004).
        snapped = np.maximum(np.round(prices / self._tick) * self._tick, self._tick)
        return np.rint(snapped * self._tick_scale) / self._tick_scale

    def _uniforms(self, minutes: int) -> np.ndarray:
        """(minutes, symbols, draws) uniforms in (0, 1) for the next `minutes` minutes."""
        counters = np.arange(self._minute, self._minute + minutes, dtype=np.uint64) * np.uint64(_GOLDEN)  # wraps
        x = _mix(_mix(self._keys ^ counters[:, None])[:, :, None] + self._draw_ids * np.uint64(_GOLDEN))
        return ((x >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53

    @staticmethod
    def _normal(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)

    def step(self, settles_funding: bool = False) -> MinuteArrays:
        """Advance one minute and return its bars' fields for every symbol.

        `settles_funding`: this minute opens on a funding time, so the estimate as it stands now
        settles and this bar and the following ones carry it.
        """
        return MinuteArrays(*self.minutes([settles_funding])[0])

    def minutes(self, settles: Sequence[bool]) -> np.ndarray:
        """Advance `len(settles)` minutes and return their bars' fields, (minutes, 7, symbols) in a
        Bar's order (open, high, low, close, volume, taker_buy_volume, funding_rate); `settles[t]`
        as `step`'s `settles_funding` for minute t.

        Everything that does not carry state from one minute to the next is computed for all the
        minutes at once; only the price, volatility and funding recursions go minute by minute.
        Elementwise, the arithmetic is step's own, so many minutes equal one at a time to the bit.
        """
        count = len(settles)
        u = self._uniforms(count)
        z_ret, z_jump = self._normal(u[..., 0], u[..., 1]), self._normal(u[..., 2], u[..., 3])
        z_vol, z_flow = self._normal(u[..., 4], u[..., 5]), self._normal(u[..., 6], u[..., 7])
        z_fund = self._normal(u[..., 8], u[..., 9])
        regime, trend_dir = self._regimes(u[..., 10], u[..., 11])
        sigma = self._sigma
        jump = np.where(u[..., 12] < JUMP_P, JUMP_SIZE * sigma * z_jump, 0.0)
        drift = np.where(regime == 1, TREND_DRIFT * sigma * trend_dir, 0.0)
        calm_var = (1 - GARCH_A - GARCH_B) * (sigma * REGIME_VOL[regime]) ** 2

        vols, rets, logps, settled = (np.empty_like(z_ret) for _ in range(4))
        logp, var, funding = self._logp, self._var, self._funding
        for t, settles_now in enumerate(settles):
            if settles_now:
                self._settled = funding  # rebound below, never changed in place
            vol = np.sqrt(var)
            shock = vol * z_ret[t]
            ret = drift[t] + shock + jump[t] - ANCHOR_PULL * (logp - self._anchor)
            logp = logp + ret
            var = calm_var[t] + GARCH_A * (shock + jump[t]) ** 2 + GARCH_B * var
            funding = funding + (FUNDING_PULL * (FUNDING_MEAN - funding) + FUNDING_NOISE * z_fund[t]
                                 + FUNDING_TREND * ret)
            funding = np.clip(funding, -FUNDING_CAP, FUNDING_CAP)
            vols[t], rets[t], logps[t], settled[t] = vol, ret, logp, self._settled
        self._logp, self._var, self._funding = logp, var, funding
        self._regime, self._trend_dir = regime[-1], trend_dir[-1]
        self._minute += count

        close = self._round(np.exp(logps))
        open_ = np.concatenate([self._last_close[None], close[:-1]])
        self._last_close = close[-1]
        wick = vols * 0.6
        top, bottom = np.maximum(open_, close), np.minimum(open_, close)
        high = np.maximum(top, self._round(top * np.exp(-np.log(u[..., 13]) * wick)))
        low = np.minimum(bottom, self._round(bottom * np.exp(np.log(u[..., 14]) * wick)))
        surprise = np.abs(rets) / np.maximum(vols, 1e-12)
        volume = self._base_volume * REGIME_VOLUME[regime] * np.exp(0.35 * z_vol) * (0.6 + 0.5 * surprise)
        buy_share = np.clip(0.5 + 0.18 * np.tanh(rets / np.maximum(vols, 1e-12)) + 0.04 * z_flow, 0.03, 0.97)
        fields = np.empty((count, 7, len(sigma)))
        fields[:, 0], fields[:, 1], fields[:, 2], fields[:, 3] = open_, high, low, close
        fields[:, 4] = volume = np.round(volume, 3)
        fields[:, 5], fields[:, 6] = np.round(volume * buy_share, 3), np.round(settled, 8)
        return fields

    def _regimes(self, switch_u: np.ndarray, pick_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each minute's regime and trend direction, (minutes, symbols): now and then a symbol
        switches, to a regime and a direction drawn that minute, and keeps them until it switches
        again."""
        switch = switch_u < REGIME_SWITCH_P
        if not switch.any():  # most minutes (a live one above all): everyone keeps theirs (read-only views)
            return np.broadcast_to(self._regime, switch.shape), np.broadcast_to(self._trend_dir, switch.shape)
        pick = pick_u * 6.0  # which regime, and which way a trend goes
        drawn_regime = pick.astype(np.int64) % 3
        drawn_dir = np.where(pick % 1.0 < 0.5, -1.0, 1.0)
        # per minute and symbol, the minute of its latest switch so far (-1: none yet)
        latest = np.maximum.accumulate(np.where(switch, np.arange(len(switch))[:, None], -1), axis=0)
        switched = latest >= 0
        at = np.maximum(latest, 0), np.arange(switch.shape[1])
        regime = np.where(switched, drawn_regime[at], self._regime)
        trend_dir = np.where(switched, drawn_dir[at], self._trend_dir)
        return regime, trend_dir
