"""``FactorPanel``: FactorStream for many symbols at once, vectorised with numpy.

One ``update`` advances every symbol that has a bar in the cycle with a
handful of array operations, instead of one Python pass per symbol. Symbols
without a bar keep their state. Results equal per-symbol FactorStreams.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter

import numpy as np

from . import params as k
from .errors import InvalidBarError
from .panel_rolling import VCount, VEwm, VMax, VMean, VQuantile, VStd
from .params import StrategyParams, resolve_params, warmup_bars
from .panel_row import CycleTable, PanelRow
from .schema import FLOAT_KEYS, INPUT_COLUMNS
from .validation import bar_values

_NAN = np.nan
_MIN_STD = k.MIN_STD_DEV
_INPUT_GETTER = itemgetter(*INPUT_COLUMNS)


def _safe_div(num, den):
    """The seed's safe_division: zero denominators become 1e-12, NaN and inf become 0."""
    q = num / np.where(den == 0, k.ZERO_DENOMINATOR, den)
    return np.where(np.isfinite(q), q, 0.0)


def _clip(x, lower, upper):
    return np.minimum(np.maximum(x, lower), upper)


def _floor(x, lower):
    return np.where(x < lower, lower, x)


def _finite(x):
    return np.where(np.isfinite(x), x, 0.0)


class _VZScore:
    __slots__ = ("_mean", "_std")

    def __init__(self, n: int, window: int) -> None:
        self._mean = VMean(n, window)
        self._std = VStd(n, window)

    def update(self, sel, rows, seen, x):
        mean = self._mean.update(sel, rows, seen, x)
        std = self._std.update(sel, rows, seen, x)
        return _safe_div(x - mean, _floor(std, _MIN_STD))


class _Lanes:
    """``k`` copies of one window function side by side: lane ``c * n + row`` is copy ``c`` of
    symbol ``row``. The copies advance in one call on ``k * n`` lanes instead of ``k`` calls on
    ``n`` (numpy's cost is mostly per call at these sizes), and each lane computes exactly what
    its own object would."""

    __slots__ = ("k", "_offsets", "_all")

    def __init__(self, n: int, k: int) -> None:
        self.k = k
        self._offsets = (np.arange(k) * n)[:, None]
        self._all = np.arange(n * k)

    def args(self, sel, rows, seen):
        """(sel, rows, seen) of the lanes of the symbols ``rows``, for the window function's update."""
        if isinstance(sel, slice):  # every symbol, in order
            return sel, self._all, np.tile(seen, self.k)
        lanes = (rows + self._offsets).ravel()
        return lanes, lanes, np.tile(seen, self.k)


class _VZScores:
    """``k`` z-scores over one window (the taker flow's three inputs) on stacked lanes."""

    __slots__ = ("_lanes", "_z")

    def __init__(self, n: int, window: int, k: int) -> None:
        self._lanes = _Lanes(n, k)
        self._z = _VZScore(n * k, window)

    def update(self, sel, rows, seen, xs):
        z = self._z.update(*self._lanes.args(sel, rows, seen), np.concatenate(xs))
        return np.split(z, self._lanes.k)


class FactorPanel:
    """``update({symbol: bar, ...}) -> {symbol: PanelRow | None}`` for the
    symbols in the cycle: None while a symbol has fewer than lookback_long
    bars, else a PanelRow with the same keys and values as that symbol's
    FactorStream would return. A bad bar raises InvalidBarError naming the
    symbol, and no symbol's state changes."""

    def __init__(
        self, symbols: Iterable[str], params: StrategyParams | Mapping | None = None
    ) -> None:
        if isinstance(symbols, str):
            raise TypeError("symbols must be an iterable of symbol names, not one string")
        self.symbols: tuple[str, ...] = tuple(symbols)
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("duplicate symbols in panel")
        p = self.params = resolve_params(params)
        n = len(self.symbols)
        self._row = {s: i for i, s in enumerate(self.symbols)}
        self._all = np.arange(n)
        self.warmup_bars = warmup_bars(p)
        self._bars = np.zeros(n, dtype=np.int64)
        self._last_ts: list = [None] * n
        self._closes = np.full((n, p.lookback_short), _NAN)
        self._prev_vol = np.full(n, _NAN)
        self._prev_signals = np.full((3, n), _NAN)
        self._target = np.zeros(n)
        self._vol_std = VStd(n, k.VOL_WINDOW)
        self._vol_mean = VMean(n, p.lookback_long)
        self._vol_regime_ewm = VEwm(n, k.VOL_REGIME_SPAN)
        self._ma_fast = VMean(n, p.lookback_short)
        self._ma_slow = VMean(n, k.SLOW_MA_WINDOW)
        self._trend_ewm = VEwm(n, p.lookback_short)
        self._extreme_count = VCount(n, k.EXTREME_WINDOW)
        self._funding_z = _VZScore(n, p.funding_roll)
        self._funding_q = VQuantile(n, p.lookback_long, k.FUNDING_QUANTILE)
        self._funding_ewm = VEwm(n, k.FUNDING_SPAN)
        self._returns_std = VStd(n, p.mr_roll)
        self._volume_mean = VMean(n, k.VOLUME_WINDOW)
        self._flow_z = _VZScores(n, p.flow_roll, 3)  # buy ratio, dollar delta, volume
        self._flow_ewm = VEwm(n, k.FLOW_SPAN)
        self._flow_q = VQuantile(n, p.lookback_long, k.FLOW_QUANTILE)
        # funding, mean reversion, flow: each signal's performance on its own lanes
        self._perf_lanes = _Lanes(n, 3)
        self._perf_mean = VMean(3 * n, p.perf_roll)
        self._perf_ewm = VEwm(3 * n, p.perf_smooth_span)
        self._price_max = VMax(n, p.lookback_long)
        self._signal_q = VQuantile(n, p.lookback_long, k.SIGNAL_QUANTILE)
        self._smooth_ewm = VEwm(n, k.SMOOTH_SPAN)
        self._factor_std = VStd(n, p.lookback_medium)
        self._turnover_std = VStd(n, p.change_threshold_window)

    # -- per-symbol state --------------------------------------------------

    @property
    def bars_seen(self) -> dict[str, int]:
        return dict(zip(self.symbols, self._bars.tolist()))

    @property
    def progress(self) -> dict[str, float]:
        done = np.minimum(1.0, self._bars / self.warmup_bars)
        return dict(zip(self.symbols, done.tolist()))

    @property
    def ready(self) -> dict[str, bool]:
        return dict(zip(self.symbols, (self._bars >= self.params.lookback_long).tolist()))

    # -- per cycle ---------------------------------------------------------

    def update(self, bars: Mapping[str, Mapping]) -> dict[str, PanelRow | None]:
        names = list(bars)
        if not names:
            return {}
        return self._cycle(names, *self._read(names, bars))

    def update_columns(
        self, names: Sequence[str], values: np.ndarray, stamps: Sequence
    ) -> dict[str, PanelRow | None]:
        """``update`` for a cycle whose inputs are already in columns: ``values`` of shape
        (len(INPUT_COLUMNS), len(names)) in INPUT_COLUMNS order, ``stamps`` one per name (names
        distinct). The same checks, state and results as ``update`` with those bars; a caller that
        holds its bars as arrays or tuples skips building a mapping per bar."""
        names = list(names)
        if not names:
            return {}
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(INPUT_COLUMNS), len(names)) or len(stamps) != len(names):
            raise ValueError(
                f"update_columns: values of shape {values.shape} and {len(stamps)} stamps for {len(names)} names"
            )
        rows = self._rows(names)
        stamps = list(stamps)
        try:
            fine = self._fine(rows, values, stamps)
        except TypeError:  # timestamps that do not compare: the bar by bar check says which
            fine = False
        if not fine:
            self._name_culprit(names, rows, [dict(zip(INPUT_COLUMNS, column), timestamp=ts)
                                             for column, ts in zip(values.T.tolist(), stamps)])
        return self._cycle(names, rows, values, stamps)

    def _cycle(self, names: list[str], rows: np.ndarray, values: np.ndarray, stamps: list):
        if len(rows) == len(self._all) and (rows == self._all).all():
            sel = slice(None)
        else:
            sel = rows
        with np.errstate(all="ignore"):
            cycle, ready = self._step(sel, rows, values, stamps)
        last = self._last_ts
        for i, ts in zip(rows.tolist(), stamps):
            last[i] = ts
        return {
            name: PanelRow(cycle, j) if ok else None
            for j, (name, ok) in enumerate(zip(names, ready.tolist()))
        }

    def warm(self, stamps: Sequence, values: np.ndarray, present: np.ndarray | None = None) -> None:
        """Advance the panel through a history in one call.

        ``values[t]`` holds cycle t's inputs, shape (len(INPUT_COLUMNS), symbols) in the panel's
        symbol order; ``present[t]`` (bool, one per symbol; all when None) which symbols have a
        bar in it; ``stamps[t]`` its timestamp. The state afterwards is exactly that of calling
        ``update`` cycle by cycle, without building any cycle's results. Raises ValueError, with
        no state changed, for an unusable input among the present bars or a cycle that does not
        come after the symbol's last one.
        """
        values = np.asarray(values, dtype=np.float64)
        n_cycles, n = len(stamps), len(self.symbols)
        if values.shape != (n_cycles, len(INPUT_COLUMNS), n):
            raise ValueError(f"warm: values of shape {values.shape}, expected {(n_cycles, len(INPUT_COLUMNS), n)}")
        mask = np.ones((n_cycles, n), dtype=bool) if present is None else np.asarray(present, dtype=bool)
        if n_cycles == 0:
            return
        usable = np.isfinite(values).all(axis=1) & (values[:, 3] > 0)
        if (mask & ~usable).any():
            t, row = np.argwhere(mask & ~usable)[0]
            raise ValueError(f"{self.symbols[row]}: unusable input in warm-up cycle {t}")
        if any(b <= a for a, b in zip(stamps, stamps[1:])):
            raise ValueError("warm: cycle timestamps must increase")
        first_cycle = np.argmax(mask, axis=0).tolist()  # one call: a warm-up comes in many slices
        for row in np.flatnonzero(mask.any(axis=0)).tolist():
            last = self._last_ts[row]
            if last is not None and not stamps[first_cycle[row]] > last:
                raise ValueError(f"{self.symbols[row]}: warm-up history does not come after its last bar")
        everyone = mask.all(axis=1)
        with np.errstate(all="ignore"):
            for t in range(n_cycles):
                if everyone[t]:
                    self._step(slice(None), self._all, values[t], None, emit=False)
                else:
                    rows = np.flatnonzero(mask[t])
                    if len(rows):
                        self._step(rows, rows, values[t][:, rows], None, emit=False)
        seen = mask.any(axis=0)
        last_cycle = (n_cycles - 1 - np.argmax(mask[::-1], axis=0)).tolist()
        for row in np.flatnonzero(seen).tolist():
            self._last_ts[row] = stamps[last_cycle[row]]

    def _rows(self, names: Sequence[str]) -> np.ndarray:
        row_of = self._row
        try:
            return np.array(list(map(row_of.__getitem__, names)), dtype=np.int64)
        except KeyError as unknown:
            raise ValueError(f"unknown symbol {unknown.args[0]!r}") from None

    def _fine(self, rows: np.ndarray, values: np.ndarray, stamps: list) -> bool:
        """Whether every bar of a cycle is usable: finite inputs, a positive close, each after its
        symbol's last bar. The usual cycle in a few array operations."""
        fine = bool(np.isfinite(values).all() and (values[3] > 0).all())
        return fine and self._in_order(stamps, [self._last_ts[i] for i in rows.tolist()])

    def _name_culprit(self, names: Sequence[str], rows: np.ndarray, bars: Sequence[Mapping]) -> list[tuple]:
        """Bar by bar: InvalidBarError naming the first bad one, else every bar's checked values."""
        checked = []
        for s, i, bar in zip(names, rows.tolist(), bars):
            try:
                checked.append(bar_values(bar, self._last_ts[i]))
            except InvalidBarError as err:
                raise InvalidBarError(f"{s}: {err}") from None
        return checked

    def _read(self, names: Sequence[str], bars: Mapping[str, Mapping]):
        """Rows, input columns and timestamps of a cycle, all checked before any state moves."""
        rows = self._rows(names)
        try:
            cycle = [bars[s] for s in names]
            values = np.array(list(map(_INPUT_GETTER, cycle)), dtype=np.float64).T
            stamps = [b["timestamp"] for b in cycle]
            fine = self._fine(rows, values, stamps)
        except (KeyError, TypeError, ValueError, OverflowError):
            fine = False
        if not fine:
            # bar by bar, to name the culprit (or to read bars the quick path could not)
            checked = self._name_culprit(names, rows, [bars[s] for s in names])
            stamps = [c[0] for c in checked]
            values = np.array([c[1:] for c in checked], dtype=np.float64).T
        return rows, values, stamps

    @staticmethod
    def _in_order(stamps: list, previous: list) -> bool:
        first, before = stamps[0], previous[0]
        if all(t is first for t in stamps) and all(t is before for t in previous):
            # the usual cycle: one shared timestamp after one shared previous one
            return first is not None and first == first and (before is None or first > before)
        return all(
            ts is not None and ts == ts and (prev is None or ts > prev)
            for ts, prev in zip(stamps, previous)
        )

    def _step(self, sel, rows, values, stamps, emit: bool = True):
        p = self.params
        seen = self._bars[rows]
        bars = seen + 1
        self._bars[sel] = bars
        _o, _h, _l, close, volume, funding, taker_buy, delta = values
        args = (sel, rows, seen)

        # market regime
        pos = seen % p.lookback_short
        past = self._closes[rows, pos]
        self._closes[rows, pos] = close
        returns = close / past - 1
        vol = _floor(self._vol_std.update(*args, returns), _MIN_STD)
        vol_regime = _clip(_safe_div(vol, self._vol_mean.update(*args, vol)) - 1, -2.0, 2.0)
        vol_regime = self._vol_regime_ewm.update(*args, vol_regime)
        trend_ratio = (
            _safe_div(self._ma_fast.update(*args, close), self._ma_slow.update(*args, close)) - 1
        )
        trend = self._trend_ewm.update(*args, _clip(trend_ratio, -0.10, 0.10))
        extreme_move = np.abs(_safe_div(returns, self._prev_vol[sel])) > k.EXTREME_SIGMA
        self._prev_vol[sel] = vol
        extreme_market = (self._extreme_count.update(*args, extreme_move) > k.EXTREME_COUNT) * 1.0
        extreme_factor = _clip(1 - extreme_market * k.EXTREME_DAMPING, 0.3, 1.0)

        # funding rate
        funding_z = self._funding_z.update(*args, funding)
        funding_raw = -1 * funding_z
        funding_threshold = self._funding_q.update(*args, np.abs(funding_z))
        funding_signal = self._funding_ewm.update(
            *args, funding_raw * (np.abs(funding_raw) > funding_threshold)
        )

        # short-term mean reversion
        returns_z = _safe_div(returns, _floor(self._returns_std.update(*args, returns), _MIN_STD))
        mr_threshold = 1.8 + 0.3 * np.abs(vol_regime)
        trend_filter_mr = 1.0 - _clip(np.abs(trend) * 5.0, 0.0, 0.8)
        volume_ratio = _safe_div(volume, self._volume_mean.update(*args, volume))
        volume_filter = (volume_ratio > 0.8) * 1.0
        mr_signal = (
            -1 * returns_z * (np.abs(returns_z) > mr_threshold) * trend_filter_mr * volume_filter
        )

        # taker flow
        buy_ratio = _safe_div(taker_buy, _floor(volume, _MIN_STD))
        buy_ratio_z, delta_z, volume_z = self._flow_z.update(*args, (buy_ratio, delta, volume))
        flow_combined = self._flow_ewm.update(*args, buy_ratio_z * 0.7 + delta_z * 0.3)
        flow_threshold = self._flow_q.update(*args, np.abs(flow_combined))
        volume_scale = _clip(1.0 + 0.2 * volume_z, 0.8, 1.3)
        flow_signal = flow_combined * (np.abs(flow_combined) > flow_threshold) * volume_scale

        # performance-tilted weights; each signal is scored on the bar after it
        lagged = self._prev_signals[:, sel].copy()  # sel may be a view-making slice
        signals = (funding_signal, mr_signal, flow_signal)
        self._prev_signals[:, sel] = signals
        lanes = self._perf_lanes.args(*args)
        m = self._perf_mean.update(*lanes, (lagged * returns).ravel())
        perf_f, perf_m, perf_l = np.split(self._perf_ewm.update(*lanes, np.where(m == m, m, 0.0)), 3)
        perf_sum = _floor(np.abs(perf_f) + np.abs(perf_m) + np.abs(perf_l), _MIN_STD)
        adj = k.PERF_ADJ_BASE
        w_f = _clip(p.funding_weight_base + _safe_div(adj * perf_f, perf_sum), 0.4, 0.6)
        w_m = _clip(p.mr_weight_base + _safe_div(adj * perf_m, perf_sum), 0.25, 0.4)
        w_l = _clip(p.flow_weight_base + _safe_div(adj * perf_l, perf_sum), 0.15, 0.25)
        w_sum = w_f + w_m + w_l
        w_f = _safe_div(w_f, w_sum)
        w_m = _safe_div(w_m, w_sum)
        w_l = _safe_div(w_l, w_sum)
        raw = funding_signal * w_f + mr_signal * w_m + flow_signal * w_l
        raw = np.where(raw == raw, raw, 0.0)

        # risk scaling and the asymmetric trend filter
        drawdown = _safe_div(close, self._price_max.update(*args, close)) - 1
        severity = _clip(drawdown, -0.25, 0.0) / -0.25
        vol_risk_scale = _clip(1.0 / (1.0 + np.abs(vol_regime) * 0.8), 0.4, 1.2)
        drawdown_scale = _clip(1.0 - severity * 0.6, 0.5, 1.0)
        risk_scale = vol_risk_scale * 0.7 + drawdown_scale * 0.3
        risk_scale = np.where(risk_scale == risk_scale, risk_scale, 1.0)
        up = (trend > k.TREND_THRESHOLD) & (raw < 0)
        down = (trend < -k.TREND_THRESHOLD) & (raw > 0)
        trend_filter = np.where(up, 1.0 - trend * 3.0, 1.0)
        trend_filter = np.where(down, trend_filter - np.abs(trend) * 3.0, trend_filter)
        trend_filter = _clip(trend_filter, 0.0, 1.0)
        filtered = raw * trend_filter * risk_scale * extreme_factor

        # conviction, smoothing, volatility standardisation
        abs_filtered = np.abs(filtered)
        signal_threshold = self._signal_q.update(*args, abs_filtered)
        signal_threshold = np.where(signal_threshold == signal_threshold, signal_threshold, _MIN_STD)
        ratio = _safe_div(abs_filtered, _floor(signal_threshold, _MIN_STD))
        conviction_scale = _clip(np.power(ratio, 1.5), 0.0, 1.5)
        conviction = filtered * conviction_scale
        smoothed = self._smooth_ewm.update(*args, conviction)
        factor_std = _floor(self._factor_std.update(*args, smoothed), _MIN_STD)
        final = _finite(_safe_div(smoothed, factor_std) * p.target_signal_volatility)

        # change-threshold filter, over the reported factor only
        ready = bars >= p.lookback_long
        target = self._target[rows]
        threshold = np.full(len(rows), _NAN)
        changed = np.zeros(len(rows), dtype=bool)
        if ready.any():
            live = np.flatnonzero(ready)
            live_rows = rows[live]
            std = self._turnover_std.update(
                live_rows, live_rows, seen[live] - (p.lookback_long - 1), final[live]
            )
            threshold[live] = std * p.change_threshold_mult
            flip = (threshold[live] == threshold[live]) & (
                np.abs(final[live] - target[live]) > threshold[live]
            )
            changed[live] = flip
            target[live] = np.where(flip, final[live], target[live])
            self._target[live_rows] = target[live]

        if not emit:
            return None, ready
        results = {
            "raw_factor": raw,
            "filtered_factor": filtered,
            "final_factor": final,
            "funding_signal": funding_signal,
            "mr_signal": mr_signal,
            "flow_signal": flow_signal,
            "vol_regime": vol_regime,
            "trend_regime": trend,
            "risk_scale": risk_scale,
            "extreme_market_factor": extreme_factor,
            "funding_weight": w_f,
            "mr_weight": w_m,
            "flow_weight": w_l,
            "target_factor": target,
            "returns": returns,
            "funding_rate": funding,
            "funding_z": funding_z,
            "funding_threshold": funding_threshold,
            "funding_signal_raw": funding_raw,
            "returns_z": returns_z,
            "mr_threshold": mr_threshold,
            "trend_filter_mr": trend_filter_mr,
            "volume_ratio": volume_ratio,
            "volume_filter": volume_filter,
            "buy_ratio": buy_ratio,
            "buy_ratio_z": buy_ratio_z,
            "dollar_delta_z": delta_z,
            "flow_combined": flow_combined,
            "flow_threshold": flow_threshold,
            "volume_scale": volume_scale,
            "vol_risk_scale": vol_risk_scale,
            "drawdown_scale": drawdown_scale,
            "trend_filter": trend_filter,
            "signal_threshold": signal_threshold,
            "conviction_scale": conviction_scale,
            "conviction_factor": conviction,
            "smoothed_factor": smoothed,
            "factor_std": factor_std,
            "change_threshold": threshold,
        }
        table = _finite(np.array([results[key] for key in FLOAT_KEYS]))
        return CycleTable(table, stamps, changed, bars), ready


__all__ = ["FactorPanel", "PanelRow"]
