"""Which minutes cannot change anything, so the backtest need not step them.

Between two stepped minutes the book is fixed (quantities, costs, cash), so equity is a linear
function of the prices and every symbol's wanted change can be bounded in floats, many minutes
at once. A minute must be stepped when any of these may hold (each test is conservative: its
margin is far wider than the float error, plus the cent the sizing rounds away):

- it is a funding time, or the first minute of a new UTC day (the breakers re-base);
- equity may reach a new high (the drawdown breaker's peak moves) or a breaker's limit;
- some symbol's wanted change may reach max(min notional, band) and one quantity step (or
  the whole position), or its target may be zero or change side while it holds a position.

A skipped minute would only have re-marked the book and remembered prices, which the next
stepped minute does anyway (`refresh_prices`). At a stepped minute the same bound says which
symbols may send an order; the others are not handed to the engine's order loop, which would
only plan them to do nothing. The decisions themselves are never made here.
"""
from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from engine.backtest.data import MINUTE_NS, DecimalPrices, MarketData
from engine.backtest.factors import Targets
from engine.model import Fill

DAY_NS = 86_400 * 1_000_000_000
HOUR_NS = 3_600 * 1_000_000_000
FIRST_WINDOW, LONGEST_WINDOW = 8, 4096
RELATIVE_MARGIN = 1e-9  # floats carry ~1e-16; this is seven orders of magnitude wider
CENT_MARGIN = 0.02  # targets are rounded toward zero to the cent
EPOCH_DAY = date(1970, 1, 1)
# From this many symbols, planning the ones that cannot trade costs more than a one-minute screen.
FILTER_FROM_SYMBOLS = 24
# Below this many, a loop over Python floats (a few microseconds a minute) beats numpy's per-call cost.
SCAN_IN_PYTHON_BELOW = 16


class QuietScreen:
    def __init__(self, engine, book, data: MarketData, targets: Targets, exact: DecimalPrices,
                 fills: list[tuple[int, Fill]]) -> None:
        """`fills`: every fill of the run so far, as the run records them (the book starts flat)."""
        self.engine, self.book, self.data, self.exact = engine, book, data, exact
        self._fills, self._fills_read = fills, 0
        self.q = np.zeros(len(data.symbols))  # each symbol's quantity held, in floats
        self._cost = np.zeros(len(data.symbols))  # and its position's cost
        close = data.fields["close"]
        # Each symbol's latest price at each minute, 0 before its first bar (prices are positive).
        self.prices = pd.DataFrame(close).ffill().fillna(0.0).to_numpy()
        self.funding_ff = pd.DataFrame(data.fields["funding_rate"]).ffill().to_numpy()
        self.target = targets.target
        closes_at = data.times + MINUTE_NS  # the engine's clock is each bar's close time
        self.day = closes_at // DAY_NS
        # A funding time is settled by the first bar opening at or after it (gaps included).
        period = data.times // (8 * HOUR_NS)
        self.funding_time = np.r_[True, period[1:] != period[:-1]]
        limits = engine._limits
        self.leverage = float(limits.leverage)
        self.per_symbol = float(limits.per_symbol)
        self.gross = float(limits.gross)
        instruments = engine._instruments
        band = limits.band_usd
        self.threshold = np.array([float(max(instruments[s].min_notional, band)) for s in data.symbols])
        self.step = np.array([float(instruments[s].step_size) for s in data.symbols])
        self.min_notional = np.array([float(instruments[s].min_notional) for s in data.symbols])
        self.symbols = data.symbols
        self.column = {s: j for j, s in enumerate(data.symbols)}
        self._single = None
        if len(data.symbols) == 1:
            # One symbol: a plain loop over Python floats beats numpy's per-call cost by far.
            wanted = np.clip(self.target[:, 0], -1.0, 1.0) * self.leverage
            most = min(self.per_symbol, self.gross) * self.leverage
            self._single = (self.prices[:, 0].tolist(), np.clip(wanted, -most, most).tolist(),
                            (self.funding_time | np.r_[True, self.day[1:] != self.day[:-1]]).tolist())
        else:
            # What does not depend on the book, once for the whole run: each symbol's capped target
            # per unit of equity (0 without a factor), their sum, the prices of the symbols with a
            # factor, and those of the others (their positions use up gross budget).
            self.has = ~np.isnan(self.target)
            per = self.per_symbol * self.leverage
            self.per_equity = np.where(self.has, np.clip(np.clip(np.nan_to_num(self.target), -1.0, 1.0)
                                                         * self.leverage, -per, per), 0.0)
            self.total_per_equity = np.abs(self.per_equity).sum(axis=1)
            self.traded_prices = np.where(self.has, close, 0.0)
            self.other_prices = np.where(self.has, 0.0, self.prices)
        self._dirty = True
        self._window = FIRST_WINDOW
        self._busy: np.ndarray | None = None
        self._candidates: tuple[int, np.ndarray] | None = None
        self._rest = 0  # minutes to step without screening (few symbols, busy lately)
        self._misses = 0
        self._filter_pays = len(data.symbols) >= FILTER_FROM_SYMBOLS
        self._few = 1 < len(data.symbols) < SCAN_IN_PYTHON_BELOW

    def stepped(self) -> None:
        self._dirty = True

    def _read_book(self) -> None:
        portfolio, breakers = self.book.portfolio, self.book.breakers
        # A position changes only by a fill: only the symbols filled since the last read are read again.
        fills, positions, column = self._fills, portfolio.positions, self.column
        for symbol in {fill.symbol for _, fill in fills[self._fills_read:]}:
            pos = positions[symbol]
            self.q[column[symbol]] = float(pos.quantity)
            self._cost[column[symbol]] = float(pos.cost) if pos.quantity else 0.0
        self._fills_read = len(fills)
        self.holding = bool(self.q.any())
        # In floats: the margins are far wider than the rounding of a hundred terms.
        self.cash = (float(portfolio.capital + portfolio.realized - portfolio.fees + portfolio.funding)
                     - float(self._cost.sum()))
        # Flat, equity is a constant, known exactly; holding, it moves with the prices (floats above).
        self.equity = None if self.holding else portfolio.equity
        self.peak = float(breakers.peak) if breakers.peak is not None else None
        self.exact_peak = breakers.peak
        self.day_open = float(breakers.day_open) if breakers.day_open is not None else None
        self.current_day = breakers.day
        self.daily_limit = float(breakers.daily_limit) if not breakers.tripped["daily_loss"] else 0.0
        self.drawdown_limit = float(breakers.drawdown_limit) if not breakers.tripped["max_drawdown"] else 0.0
        self.halted = self.engine._halted
        self._dirty = False

    def quiet_until(self, i: int, end: int) -> int:
        """The first minute from `i` (before `end`) that must be stepped; `end` when none must."""
        self._candidates = None
        if self._rest:
            self._rest -= 1
            return i
        if self._dirty:
            self._read_book()
        if self._single is not None:
            return self._scan_single(i, end)
        hi = min(end, i + self._window)
        self._busy = None
        if self._few:
            first = self._scan_few(i, hi) - i
            self._window = min(LONGEST_WINDOW, self._window * 2) if first == hi - i else FIRST_WINDOW
            return i + first
        must = self._must_step(i, hi)
        first = int(np.argmax(must)) if must.any() else hi - i
        if first == hi - i:
            self._window = min(LONGEST_WINDOW, self._window * 2)  # quiet: look further ahead next time
            self._misses = 0
        elif first > 0:
            self._window, self._misses = FIRST_WINDOW, 0
        elif self._filter_pays:
            # Busy, with many symbols: one minute at a time, whose per-symbol answer spares the
            # engine most symbols' plans (worth more than the screening costs).
            self._window = 1
        else:
            # Busy, with few symbols: screening costs more than it saves; step a while unscreened.
            self._window, self._misses = FIRST_WINDOW, self._misses + 1
            if self._misses > 3:
                self._rest = min(64, 2 ** (self._misses - 3))
        if first < hi - i and self._busy is not None:
            self._candidates = (i + first, self._busy[first])
        return i + first

    def candidates(self, i: int) -> np.ndarray | None:
        """At a stepped minute `i`: which symbols may send an order (by column), or None when not known."""
        if self._candidates is None or self._candidates[0] != i:
            return None
        return self._candidates[1]

    def _must_step(self, lo: int, hi: int) -> np.ndarray:
        must = self.funding_time[lo:hi].copy()
        if self.current_day is None:
            return np.ones(hi - lo, dtype=bool)
        must |= self.day[lo:hi] != (self.current_day - EPOCH_DAY).days
        q = self.q
        if self.holding:
            prices = self.prices[lo:hi]
            equity = self.cash + prices @ q
            margin = RELATIVE_MARGIN * (abs(self.cash) + prices @ np.abs(q)) + 1e-6
            if self.peak is not None:
                must |= equity > self.peak - margin
                if self.drawdown_limit > 0:
                    must |= equity < self.peak * (1 - self.drawdown_limit) + margin
            if self.daily_limit > 0 and self.day_open is not None:
                must |= equity < self.day_open * (1 - self.daily_limit) + margin
            held = self.other_prices[lo:hi] @ np.abs(q)
        else:
            if self.exact_peak is None or self.equity > self.exact_peak:
                return np.ones(hi - lo, dtype=bool)
            equity = np.full(hi - lo, float(self.equity))
            margin = np.full(hi - lo, 1e-6)
            held = 0.0
        has = self.has[lo:hi]
        if not has.any():
            return must
        # target_notionals in floats: per-symbol caps, then the gross budget shared out.
        total = self.total_per_equity[lo:hi] * equity
        budget = np.maximum(0.0, self.gross * self.leverage * equity - held)
        scale = np.where(total > budget, budget / np.where(total > 0, total, 1.0), 1.0)
        target = self.per_equity[lo:hi] * (equity * scale)[:, None]
        close = self.traded_prices[lo:hi]
        position = close * q
        slack = (CENT_MARGIN + RELATIVE_MARGIN * (np.abs(target) + np.abs(position) + self.leverage * equity[:, None])
                 + margin[:, None])
        delta = target - position
        change = np.abs(delta)
        lot = self.step * close * (1 - RELATIVE_MARGIN)
        # Wanted, and big enough that an order goes out: a whole close, a reduction of at least one
        # step, or an opening of whole steps worth the minimum notional. Anything smaller is only
        # reported as skipped, which changes nothing.
        reducing = (position != 0) & ((delta > 0) != (position > 0))
        # With entries halted nothing opens or grows; only reductions and closes go out.
        if self.halted:
            opens = False
        else:
            lots = np.floor((change + slack) / np.where(lot > 0, lot, np.inf))
            opens = (lots >= 1) & (lots * self.step * close >= self.min_notional - slack)
        sends = np.where(reducing, (change >= np.abs(position) - slack) | (change >= lot - slack), opens)
        busy = (change >= self.threshold - slack) & sends
        holding = q != 0
        if self.holding:
            busy |= holding & (np.abs(target) <= slack)
            if self.halted:
                busy |= holding & (np.sign(target) != np.sign(q))
        self._busy = busy & has
        must |= self._busy.any(axis=1)
        return must

    def _scan_few(self, lo: int, hi: int) -> int:
        """`_must_step` over Python floats, minute by minute, for a few symbols: the first minute from
        `lo` that must be stepped, or `hi`. The same tests, in the same order of operations."""
        if self.current_day is None:
            return lo
        holding = self.holding
        if not holding and (self.exact_peak is None or self.equity > self.exact_peak):
            return lo
        today = (self.current_day - EPOCH_DAY).days
        breaks = (self.funding_time[lo:hi] | (self.day[lo:hi] != today)).tolist()
        prices, closes = self.prices[lo:hi].tolist(), self.traded_prices[lo:hi].tolist()
        per_equity, totals, has = self.per_equity[lo:hi].tolist(), self.total_per_equity[lo:hi].tolist(), \
            self.has[lo:hi].tolist()
        q = self.q.tolist()
        abs_q = [abs(x) for x in q]
        columns = range(len(q))
        threshold, step, min_notional = self.threshold.tolist(), self.step.tolist(), self.min_notional.tolist()
        cash, peak, leverage, gross, halted = self.cash, self.peak, self.leverage, self.gross, self.halted
        drawdown_limit, daily_limit, day_open = self.drawdown_limit, self.daily_limit, self.day_open
        flat_equity = None if holding else float(self.equity)
        for t in range(hi - lo):
            if breaks[t]:
                return lo + t
            if holding:
                p = prices[t]
                equity = cash + sum(p[j] * q[j] for j in columns)
                margin = RELATIVE_MARGIN * (abs(cash) + sum(p[j] * abs_q[j] for j in columns)) + 1e-6
                if peak is not None:
                    if equity > peak - margin:
                        return lo + t
                    if drawdown_limit > 0 and equity < peak * (1 - drawdown_limit) + margin:
                        return lo + t
                if daily_limit > 0 and day_open is not None and equity < day_open * (1 - daily_limit) + margin:
                    return lo + t
                held = sum(p[j] * abs_q[j] for j in columns if not has[t][j])
            else:
                equity, margin, held = flat_equity, 1e-6, 0.0
            present = has[t]
            if not any(present):
                continue
            # target_notionals in floats: per-symbol caps, then the gross budget shared out.
            total = totals[t] * equity
            budget = max(0.0, gross * leverage * equity - held)
            scaled = equity * (budget / total if total > budget else 1.0)
            wanted, close = per_equity[t], closes[t]
            for j in columns:
                if not present[j]:
                    continue
                target = wanted[j] * scaled
                position = close[j] * q[j]
                slack = (CENT_MARGIN + RELATIVE_MARGIN * (abs(target) + abs(position) + leverage * equity) + margin)
                delta = target - position
                change = abs(delta)
                if q[j] and (abs(target) <= slack or (halted and (target > 0) != (q[j] > 0))):
                    return lo + t  # a close, or (entries halted) a target on the other side
                if change < threshold[j] - slack:
                    continue
                lot = step[j] * close[j] * (1 - RELATIVE_MARGIN)
                if position != 0 and (delta > 0) != (position > 0):  # reducing: a whole close or a step
                    if change >= abs(position) - slack or change >= lot - slack:
                        return lo + t
                elif not halted and lot > 0:  # with entries halted nothing opens or grows
                    lots = math.floor((change + slack) / lot)
                    if lots >= 1 and lots * step[j] * close[j] >= min_notional[j] - slack:
                        return lo + t
        return hi

    def _scan_single(self, i: int, end: int) -> int:
        """`_must_step` for one symbol, minute by minute, stopping at the first that must be stepped."""
        prices, wanted, breaks = self._single
        if self.current_day is None or (not self.holding and self.equity <= 0):
            return i
        q = self.q[0]
        cash, peak = self.cash, self.peak
        holding = self.holding
        if not holding and (self.exact_peak is None or self.equity > self.exact_peak):
            return i
        flat_equity = 0.0 if holding else float(self.equity)
        floor = max(peak * (1 - self.drawdown_limit) if self.drawdown_limit > 0 else -1e300,
                    self.day_open * (1 - self.daily_limit) if self.daily_limit > 0 else -1e300)
        threshold, step, leverage, halted = float(self.threshold[0]), float(self.step[0]), self.leverage, self.halted
        min_notional = float(self.min_notional[0])
        for t in range(i, end):
            if breaks[t]:
                return t  # funding, or a new UTC day (all minutes since the last step share the breakers' day)
            p = prices[t]
            if holding:
                position = q * p
                equity = cash + position
                margin = RELATIVE_MARGIN * (abs(cash) + abs(position)) + 1e-6
                if equity > peak - margin or equity < floor + margin or equity <= margin:
                    return t
            else:
                position, equity, margin = 0.0, flat_equity, 1e-6
            a = wanted[t]
            if a != a:
                continue  # no bar, or not ready: nothing to trade
            target = a * equity
            change = abs(target - position)
            slack = CENT_MARGIN + RELATIVE_MARGIN * (abs(target) + abs(position) + leverage * abs(equity)) + margin
            if change >= threshold - slack:
                lot = step * p * (1 - RELATIVE_MARGIN)
                if position and (target > position) != (position > 0):  # reducing
                    if change >= abs(position) - slack or change >= lot - slack:
                        return t
                elif not halted:  # with entries halted nothing opens or grows
                    lots = math.floor((change + slack) / lot)
                    if lots >= 1 and lots * step * p >= min_notional - slack:
                        return t
            if holding and (abs(target) <= slack or (halted and (target > 0) != (q > 0))):
                return t
        return end

    def refresh_prices(self, i: int) -> None:
        """The latest price and funding rate of every symbol as of minute `i` (the skipped minutes' bars)."""
        prices, rates, last = self.engine._prices, self.engine._funding_rates, self.engine.feed.last
        row, rate_row, exact = self.prices[i].tolist(), self.funding_ff[i].tolist(), self.exact
        for symbol, price, rate in zip(self.symbols, row, rate_row):
            if price > 0:  # the symbol has had a bar
                prices[symbol] = exact[price]
                rates[symbol] = rate
                last[symbol] = price
