"""The window functions of ``strategy.rolling``, vectorised across symbols.

Each object holds the state of one window function for every symbol of a
panel (arrays indexed by symbol row, ring buffers of shape (symbols, window)).
``update(sel, rows, seen, x)`` advances the symbols ``rows`` (``sel`` is the
same selection as a slice when it covers every row in order) whose bars seen
so far are ``seen``, with one new value each, and returns their results. The
arithmetic is elementwise the same as the scalar versions, which is what keeps
panel, stream and batch equal to the last bit.

Callers run these under ``np.errstate(all="ignore")``: lanes that a mask
discards may compute with NaN.
"""

from __future__ import annotations

import numpy as np

from .rolling import _INV_COND_TOL

_NAN = np.nan


class VMean:
    """RollingMean for many symbols."""

    __slots__ = ("window", "buf", "state")

    def __init__(self, n: int, window: int) -> None:
        self.window = window
        self.buf = np.full((n, window), _NAN)
        # nobs, sum, add compensation, remove compensation, negatives, run, previous value
        self.state = np.zeros((7, n))
        self.state[6] = _NAN

    def update(self, sel, rows, seen, x):
        pos = seen % self.window
        old = self.buf[rows, pos]
        self.buf[rows, pos] = x
        nobs, total, comp_add, comp_rem, neg, run, prev = self.state[:, sel]
        drop = np.isfinite(old)
        y = -old - comp_rem
        t = total + y
        comp_rem = np.where(drop, t - total - y, comp_rem)
        total = np.where(drop, t, total)
        nobs = nobs - drop
        neg = neg - (drop & np.signbit(old))
        take = np.isfinite(x)
        y = x - comp_add
        t = total + y
        comp_add = np.where(take, t - total - y, comp_add)
        total = np.where(take, t, total)
        nobs = nobs + take
        neg = neg + (take & np.signbit(x))
        run = np.where(take, np.where(x == prev, run + 1, 1.0), run)
        prev = np.where(take, x, prev)
        self.state[:, sel] = (nobs, total, comp_add, comp_rem, neg, run, prev)
        mean = total / nobs
        mean = np.where(
            run >= nobs,
            prev,
            np.where(((neg == 0) & (mean < 0)) | ((neg == nobs) & (mean > 0)), 0.0, mean),
        )
        return np.where(nobs >= self.window, mean, _NAN)


class VStd:
    """RollingStd for many symbols, with pandas' ill-conditioning recompute."""

    __slots__ = ("window", "buf", "state")

    def __init__(self, n: int, window: int) -> None:
        self.window = window
        self.buf = np.full((n, window), _NAN)
        # nobs, mean, sum of squared deviations, add comp., remove comp., unstable
        self.state = np.zeros((6, n))

    def update(self, sel, rows, seen, x):
        w = self.window
        pos = seen % w
        old = self.buf[rows, pos]
        self.buf[rows, pos] = x
        nobs, mean, ssq, comp_add, comp_rem, unstable = self.state[:, sel]
        unstable = unstable != 0

        drop = np.isfinite(old)
        left = nobs - drop
        keep = drop & (left != 0)
        empty = drop & (left == 0)
        prev_mean = mean - comp_rem
        y = old - comp_rem
        t = y - mean
        new_comp = t + mean - y
        new_mean = mean - t / left
        new_ssq = ssq - (old - prev_mean) * (old - new_mean)
        unstable = np.where(keep, unstable | (ssq * _INV_COND_TOL > new_ssq), unstable)
        unstable = unstable & ~empty
        comp_rem = np.where(keep, new_comp, comp_rem)
        mean = np.where(keep, new_mean, np.where(empty, 0.0, mean))
        ssq = np.where(keep, new_ssq, np.where(empty, 0.0, ssq))
        nobs = left

        take = np.isfinite(x)
        nobs = nobs + take
        prev_mean = mean - comp_add
        y = x - comp_add
        t = y - mean
        new_comp = t + mean - y
        new_mean = mean + t / nobs
        new_ssq = ssq + (x - prev_mean) * (x - new_mean)
        unstable = unstable | (take & (ssq * _INV_COND_TOL > new_ssq))
        comp_add = np.where(take, new_comp, comp_add)
        mean = np.where(take, new_mean, mean)
        ssq = np.where(take, new_ssq, ssq)

        if unstable.any():
            nobs, mean, ssq, comp_add, comp_rem, unstable = self._recompute(
                rows, seen, unstable, nobs, mean, ssq, comp_add, comp_rem
            )
        self.state[:, sel] = (nobs, mean, ssq, comp_add, comp_rem, unstable)
        var = ssq / (nobs - 1.0)
        std = np.sqrt(np.where(var > 0, var, 0.0))
        return np.where((nobs >= w) & (nobs > 1), std, _NAN)

    def _recompute(self, rows, seen, unstable, nobs, mean, ssq, comp_add, comp_rem):
        """Rebuild the flagged rows from their windows, oldest value first."""
        w = self.window
        hit = np.flatnonzero(unstable)
        order = (seen[hit, None] + 1 + np.arange(w)) % w
        window = self.buf[rows[hit, None], order]
        r_nobs = np.zeros(len(hit))
        r_mean = np.zeros(len(hit))
        r_ssq = np.zeros(len(hit))
        comp = np.zeros(len(hit))
        for j in range(w):
            x = window[:, j]
            take = np.isfinite(x)
            r_nobs = r_nobs + take
            prev_mean = r_mean - comp
            y = x - comp
            t = y - r_mean
            new_comp = t + r_mean - y
            new_mean = r_mean + t / r_nobs
            r_ssq = np.where(take, r_ssq + (x - prev_mean) * (x - new_mean), r_ssq)
            comp = np.where(take, new_comp, comp)
            r_mean = np.where(take, new_mean, r_mean)
        nobs = nobs.copy()
        mean = mean.copy()
        ssq = ssq.copy()
        comp_add = comp_add.copy()
        comp_rem = comp_rem.copy()
        nobs[hit] = r_nobs
        mean[hit] = r_mean
        ssq[hit] = r_ssq
        comp_add[hit] = comp
        comp_rem[hit] = 0.0
        return nobs, mean, ssq, comp_add, comp_rem, np.zeros(len(nobs), dtype=bool)


class VQuantile:
    """RollingQuantile for many symbols: sorts each full window (sorting a few
    hundred short rows at once beats maintaining sorted state)."""

    __slots__ = ("window", "buf", "nobs", "_idx", "_frac")

    def __init__(self, n: int, window: int, q: float) -> None:
        self.window = window
        self.buf = np.full((n, window), _NAN)
        self.nobs = np.zeros(n, dtype=np.int64)
        # the window is always full when a value is reported, so the
        # interpolation point is fixed
        at = q * (window - 1) if window > 1 else 0.0
        self._idx = int(at)
        self._frac = at - self._idx if at != self._idx else 0.0

    def update(self, sel, rows, seen, x):
        pos = seen % self.window
        old = self.buf[rows, pos]
        self.buf[rows, pos] = x
        nobs = self.nobs[sel] + np.isfinite(x) - np.isfinite(old)
        self.nobs[sel] = nobs
        full = nobs >= self.window
        if full.all():
            # every row of a whole-panel cycle: sort the buffer itself, no gather
            out = self._order_statistic(self.buf if isinstance(sel, slice) else self.buf[rows])
        else:
            out = np.full(len(x), _NAN)
            if full.any():
                out[full] = self._order_statistic(self.buf[rows[full]])
        return out

    def _order_statistic(self, windows):
        ordered = np.sort(windows, axis=1)
        low = ordered[:, self._idx]
        if self._frac:
            low = low + (ordered[:, self._idx + 1] - low) * self._frac
        return low


class VMax:
    """RollingMax for many symbols (gap-free input): a running maximum,
    rescanned only for rows whose maximum just left the window."""

    __slots__ = ("window", "buf", "top")

    def __init__(self, n: int, window: int) -> None:
        self.window = window
        self.buf = np.full((n, window), -np.inf)
        self.top = np.full(n, -np.inf)

    def update(self, sel, rows, seen, x):
        pos = seen % self.window
        old = self.buf[rows, pos]
        self.buf[rows, pos] = x
        top = self.top[sel]
        top = np.where(x > top, x, top)
        rescan = (old >= top) & (old != x)
        if rescan.any():
            top = top.copy()
            top[rescan] = self.buf[rows[rescan]].max(axis=1)
        self.top[sel] = top
        return np.where(seen + 1 >= self.window, top, _NAN)


class VCount:
    """RollingCount (sum of 0/1 flags) for many symbols."""

    __slots__ = ("window", "buf", "count")

    def __init__(self, n: int, window: int) -> None:
        self.window = window
        self.buf = np.zeros((n, window), dtype=np.int64)
        self.count = np.zeros(n, dtype=np.int64)

    def update(self, sel, rows, seen, flags):
        pos = seen % self.window
        flags = flags.astype(np.int64)
        count = self.count[sel] + flags - self.buf[rows, pos]
        self.buf[rows, pos] = flags
        self.count[sel] = count
        return np.where(seen + 1 >= self.window, count.astype(np.float64), _NAN)


class VEwm:
    """Ewm (adjust=False) for many symbols."""

    __slots__ = ("_alpha", "_factor", "_com_is_one", "state")

    def __init__(self, n: int, span: float) -> None:
        com = (span - 1) / 2
        self._alpha = 1.0 / (1.0 + com)
        self._factor = 1.0 - self._alpha
        self._com_is_one = com == 1
        self.state = np.empty((2, n))  # value, old weight
        self.state[0] = _NAN
        self.state[1] = 1.0

    def update(self, sel, rows, seen, x):
        value, old_wt = self.state[:, sel]
        started = value == value
        fin = np.isfinite(x)
        decayed = old_wt * self._factor
        new_wt = 1.0 - decayed if self._com_is_one else self._alpha
        blended = (decayed * value + new_wt * x) / (decayed + new_wt)
        value = np.where(
            started, np.where(fin & (value != x), blended, value), np.where(fin, x, value)
        )
        old_wt = np.where(started, np.where(fin, 1.0, decayed), old_wt)
        self.state[:, sel] = (value, old_wt)
        return value
