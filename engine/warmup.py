"""Warm-up history as arrays: one matrix per field for the whole universe, so the strategy
is warmed in one call instead of one cycle of Python objects per minute.

Column order of `fields`: open, high, low, close, volume, taker_buy_volume, funding_rate
(a Bar's order). The strategy's inputs add the dollar volume delta, computed elementwise
exactly as `Bar.dollar_volume_delta` does, so a warm-up from arrays equals one from Bars.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from engine.model import Bar

OPEN, HIGH, LOW, CLOSE, VOLUME, TAKER_BUY, FUNDING = range(7)


@dataclass
class WarmHistory:
    stamps: list[datetime]  # bar open times, increasing
    fields: np.ndarray  # (minutes, 7, symbols)
    present: np.ndarray  # (minutes, symbols) bool: the symbol has a usable bar that minute

    @classmethod
    def from_bars(cls, symbols: list[str], histories: list[list[Bar]]) -> "WarmHistory":
        stamps = sorted({bar.ts for bars in histories for bar in bars})
        at = {ts: t for t, ts in enumerate(stamps)}
        fields = np.full((len(stamps), 7, len(symbols)), np.nan)
        present = np.zeros((len(stamps), len(symbols)), dtype=bool)
        for j, bars in enumerate(histories):
            for bar in bars:
                t = at[bar.ts]
                fields[t, :, j] = (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.taker_buy_volume,
                                   bar.funding_rate)
                present[t, j] = True
        return cls(stamps, fields, present)

    def bad(self) -> np.ndarray:
        """(minutes, symbols): present bars that `engine.signals.bar_problem` would refuse."""
        f = self.fields
        with np.errstate(invalid="ignore"):
            fine = (np.isfinite(f).all(axis=1) & (f[:, OPEN:CLOSE + 1].min(axis=1) > 0)
                    & (f[:, HIGH] >= f[:, LOW]) & (f[:, VOLUME] >= 0) & (f[:, TAKER_BUY] >= 0))
        return self.present & ~fine

    def bar(self, symbol: str, t: int, j: int) -> Bar:
        return Bar(symbol, self.stamps[t], *self.fields[t, :, j].tolist())

    def strategy_inputs(self, begin: int = 0, end: int | None = None) -> np.ndarray:
        """(minutes, 8, symbols) in strategy.INPUT_COLUMNS order, of minutes `begin` to `end`. A
        warm-up asks a slice at a time: at 500 symbols, the whole history at once is some 50 MB of
        fresh memory, and the kernel's zeroing of it costs more than the arithmetic."""
        return strategy_inputs(self.fields[begin:end])

    def last_index(self) -> np.ndarray:
        """Per symbol: the index of its last present minute (-1 for none)."""
        seen = self.present.any(axis=0)
        last = len(self.stamps) - 1 - np.argmax(self.present[::-1], axis=0)
        return np.where(seen, last, -1)

    def previous_index(self) -> np.ndarray:
        """Per symbol: the index of its second-to-last present minute (-1 for none)."""
        counts = np.cumsum(self.present, axis=0)
        total = counts[-1] if len(self.stamps) else np.zeros(self.present.shape[1], dtype=int)
        # the first minute at which the running count reaches total - 1
        want = total - 1
        hit = (counts >= want) & self.present
        first = np.argmax(hit, axis=0)
        return np.where(want >= 1, first, -1)

    def carried(self, t: int) -> np.ndarray:
        """Per symbol: the index of its latest present minute at or before `t` (-1 for none)."""
        idx = np.where(self.present[:t + 1], np.arange(t + 1)[:, None], -1)
        return idx.max(axis=0) if t >= 0 else np.full(self.present.shape[1], -1)


def strategy_inputs(fields: np.ndarray) -> np.ndarray:
    """Fields in a Bar's order, (..., 7, symbols), as the strategy's inputs, (..., 8, symbols) in
    strategy.INPUT_COLUMNS order: a warm-up history, or one live minute."""
    o, c, v, tb = fields[..., OPEN, :], fields[..., CLOSE, :], fields[..., VOLUME, :], fields[..., TAKER_BUY, :]
    sell = v - tb
    delta = (tb - sell) * (o + c) / 2.0
    return np.concatenate([fields[..., [OPEN, HIGH, LOW, CLOSE, VOLUME, FUNDING, TAKER_BUY], :], delta[..., None, :]],
                          axis=-2)
