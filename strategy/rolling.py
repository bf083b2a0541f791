"""One-value-at-a-time versions of the pandas window functions the factor uses.

Each class reproduces the arithmetic of pandas' own online algorithm (same
operations in the same order, same state carried from the first row), so a
stream fed bar by bar gives the very floats ``Series.rolling``/``ewm`` give on
the whole history. Anything short of that would let a 1-ulp difference flip a
threshold comparison downstream.

Like pandas, non-finite inputs count as missing (pandas turns inf into NaN
before its window loops), and ``min_periods`` is the window length.
"""

from __future__ import annotations

import sys
from bisect import bisect_left, insort
from collections import deque
from math import copysign, nan, sqrt

__all__ = ["RollingMean", "RollingStd", "RollingQuantile", "RollingMax", "RollingCount", "Ewm"]

# pandas flags a variance update as ill-conditioned when the sum of squared
# deviations drops below this fraction of its previous value; it then
# recomputes the window from scratch, and so must we.
_INV_COND_TOL = sys.float_info.epsilon * 1e3


class RollingMean:
    """``Series.rolling(window).mean()``: Kahan sums with separate add/remove
    compensation, the negative-count sign fix-up and the constant-run rule."""

    __slots__ = ("window", "_buf", "_pos", "_nobs", "_sum", "_comp_add", "_comp_rem",
                 "_neg", "_run", "_prev")

    def __init__(self, window: int) -> None:
        self.window = window
        self._buf = [nan] * window
        self._pos = 0
        self._nobs = 0
        self._sum = 0.0
        self._comp_add = 0.0
        self._comp_rem = 0.0
        self._neg = 0
        self._run = 0
        self._prev = nan

    def update(self, x: float) -> float:
        buf = self._buf
        pos = self._pos
        old = buf[pos]
        buf[pos] = x
        pos += 1
        self._pos = 0 if pos == self.window else pos
        nobs = self._nobs
        total = self._sum
        if old - old == 0.0:
            nobs -= 1
            y = -old - self._comp_rem
            t = total + y
            self._comp_rem = t - total - y
            total = t
            if old < 0.0 or (old == 0.0 and copysign(1.0, old) < 0.0):
                self._neg -= 1
        if x - x == 0.0:
            nobs += 1
            y = x - self._comp_add
            t = total + y
            self._comp_add = t - total - y
            total = t
            if x < 0.0 or (x == 0.0 and copysign(1.0, x) < 0.0):
                self._neg += 1
            self._run = self._run + 1 if x == self._prev else 1
            self._prev = x
        self._nobs = nobs
        self._sum = total
        if nobs < self.window:
            return nan
        result = total / nobs
        if self._run >= nobs:
            return self._prev
        neg = self._neg
        if neg == 0 and result < 0.0:
            return 0.0
        if neg == nobs and result > 0.0:
            return 0.0
        return result


class RollingStd:
    """``Series.rolling(window).std()`` (ddof=1): Welford with Kahan
    compensation, recomputing the window when an update is ill-conditioned;
    negative variances read as 0 like pandas' ``zsqrt``."""

    __slots__ = ("window", "_buf", "_pos", "_nobs", "_mean", "_ssq", "_comp_add",
                 "_comp_rem", "_unstable")

    def __init__(self, window: int) -> None:
        self.window = window
        self._buf = [nan] * window
        self._pos = 0
        self._nobs = 0.0
        self._mean = 0.0
        self._ssq = 0.0
        self._comp_add = 0.0
        self._comp_rem = 0.0
        self._unstable = False

    def update(self, x: float) -> float:
        buf = self._buf
        pos = self._pos
        old = buf[pos]
        buf[pos] = x
        pos += 1
        self._pos = 0 if pos == self.window else pos
        nobs = self._nobs
        mean = self._mean
        ssq = self._ssq
        if old - old == 0.0:
            nobs -= 1.0
            if nobs:
                prev_ssq = ssq
                comp = self._comp_rem
                prev_mean = mean - comp
                y = old - comp
                t = y - mean
                self._comp_rem = t + mean - y
                mean = mean - t / nobs
                ssq = ssq - (old - prev_mean) * (old - mean)
                if prev_ssq * _INV_COND_TOL > ssq:
                    self._unstable = True
            else:
                mean = 0.0
                ssq = 0.0
                self._unstable = False
        if x - x == 0.0:
            nobs += 1.0
            prev_ssq = ssq
            comp = self._comp_add
            prev_mean = mean - comp
            y = x - comp
            t = y - mean
            self._comp_add = t + mean - y
            mean = mean + t / nobs
            ssq = ssq + (x - prev_mean) * (x - mean)
            if prev_ssq * _INV_COND_TOL > ssq:
                self._unstable = True
        if self._unstable:
            nobs, mean, ssq = self._recompute()
        self._nobs = nobs
        self._mean = mean
        self._ssq = ssq
        if nobs < self.window or nobs <= 1.0:
            return nan
        var = ssq / (nobs - 1.0)
        return sqrt(var) if var > 0.0 else 0.0 if var == var else nan

    def _recompute(self) -> tuple[float, float, float]:
        pos = self._pos
        nobs = mean = ssq = comp = 0.0
        for x in self._buf[pos:] + self._buf[:pos]:
            if x - x == 0.0:
                nobs += 1.0
                prev_mean = mean - comp
                y = x - comp
                t = y - mean
                comp = t + mean - y
                mean = mean + t / nobs
                ssq = ssq + (x - prev_mean) * (x - mean)
        self._comp_add = comp
        self._comp_rem = 0.0
        self._unstable = False
        return nobs, mean, ssq


class RollingQuantile:
    """``Series.rolling(window).quantile(q)`` with linear interpolation between
    order statistics of a sorted window."""

    __slots__ = ("window", "_buf", "_pos", "_sorted", "_q")

    def __init__(self, window: int, q: float) -> None:
        self.window = window
        self._buf = [nan] * window
        self._pos = 0
        self._sorted: list[float] = []
        self._q = q

    def update(self, x: float) -> float:
        buf = self._buf
        pos = self._pos
        old = buf[pos]
        buf[pos] = x
        pos += 1
        self._pos = 0 if pos == self.window else pos
        ordered = self._sorted
        if x - x == 0.0:
            insort(ordered, x)
        if old - old == 0.0:
            del ordered[bisect_left(ordered, old)]
        n = len(ordered)
        if n < self.window:
            return nan
        if n == 1:
            return ordered[0]
        at = self._q * (n - 1)
        idx = int(at)
        low = ordered[idx]
        if at == idx:
            return low
        return low + (ordered[idx + 1] - low) * (at - idx)


class RollingMax:
    """``Series.rolling(window).max()`` for gap-free input (a monotonic deque)."""

    __slots__ = ("window", "_deque", "_seen")

    def __init__(self, window: int) -> None:
        self.window = window
        self._deque: deque[tuple[int, float]] = deque()
        self._seen = 0

    def update(self, x: float) -> float:
        dq = self._deque
        while dq and dq[-1][1] <= x:
            dq.pop()
        seen = self._seen
        dq.append((seen, x))
        if dq[0][0] <= seen - self.window:
            dq.popleft()
        self._seen = seen = seen + 1
        return dq[0][1] if seen >= self.window else nan


class RollingCount:
    """``Series.rolling(window).sum()`` of 0/1 flags: an exact integer count."""

    __slots__ = ("window", "_buf", "_pos", "_count", "_seen")

    def __init__(self, window: int) -> None:
        self.window = window
        self._buf = [0] * window
        self._pos = 0
        self._count = 0
        self._seen = 0

    def update(self, flag: bool) -> float:
        buf = self._buf
        pos = self._pos
        flag = 1 if flag else 0
        self._count += flag - buf[pos]
        buf[pos] = flag
        pos += 1
        self._pos = 0 if pos == self.window else pos
        self._seen += 1
        return float(self._count) if self._seen >= self.window else nan


class Ewm:
    """``Series.ewm(span=span, adjust=False).mean()``, including pandas' exact
    weight arithmetic (old weight, new weight, division by their sum) and its
    handling of missing values (``ignore_na=False``)."""

    __slots__ = ("_alpha", "_factor", "_com_is_one", "_old_wt", "value")

    def __init__(self, span: float) -> None:
        com = (span - 1) / 2
        self._alpha = 1.0 / (1.0 + com)
        self._factor = 1.0 - self._alpha
        self._com_is_one = com == 1
        self._old_wt = 1.0
        self.value = nan

    def update(self, x: float) -> float:
        w = self.value
        if w == w:
            old_wt = self._old_wt * self._factor
            if x - x == 0.0:
                if w != x:
                    new_wt = 1.0 - old_wt if self._com_is_one else self._alpha
                    w = (old_wt * w + new_wt * x) / (old_wt + new_wt)
                    self.value = w
                self._old_wt = 1.0
            else:
                self._old_wt = old_wt
        elif x - x == 0.0:
            self.value = w = x
        return w
