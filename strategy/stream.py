"""``FactorStream``: the factor pipeline for one symbol, one bar at a time.

The stream keeps every window and smoother of the formula as running state
from the first bar, so its numbers are those of ``compute_factors`` over the
whole history it has seen (not over a trimmed window), at O(log window) cost
per bar and memory bounded by the windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from typing import TYPE_CHECKING

import numpy as np

from . import params as k
from .params import StrategyParams, resolve_params, warmup_bars
from .rolling import Ewm, RollingCount, RollingMax, RollingMean, RollingQuantile, RollingStd
from .schema import FLOAT_KEYS, INPUT_COLUMNS, STREAM_KEYS
from .turnover import ChangeThreshold
from .validation import bar_values, check_frame

if TYPE_CHECKING:
    import pandas as pd

_NAN = float("nan")
_power = np.power
_MIN_STD = k.MIN_STD_DEV
_ZERO_DEN = k.ZERO_DENOMINATOR


def _safe_div(num: float, den: float) -> float:
    """The seed's safe_division: zero denominators become 1e-12, NaN and inf become 0."""
    q = num / (den if den != 0.0 else _ZERO_DEN)
    return q if q - q == 0.0 else 0.0


def _clip(x: float, lower: float, upper: float) -> float:
    return lower if x < lower else upper if x > upper else x


def _finite(x: float) -> float:
    return x if x - x == 0.0 else 0.0


class _ZScore:
    """``safe_division(x - rolling mean, rolling std clipped at 1e-8)``."""

    __slots__ = ("_mean", "_std")

    def __init__(self, window: int) -> None:
        self._mean = RollingMean(window).update
        self._std = RollingStd(window).update

    def update(self, x: float) -> float:
        mean = self._mean(x)
        std = self._std(x)
        return _safe_div(x - mean, _MIN_STD if std < _MIN_STD else std)


class FactorStream:
    """Feed bars with ``update(bar)``; get the factor and its parts.

    ``update`` returns None until ``lookback_long`` bars were seen (as the
    seed), then a dict with the keys of ``strategy.STREAM_KEYS``: timestamp,
    the 13 factor keys, ``target_factor``, the intermediates, ``target_changed``
    and ``bars_seen``. A value whose window is not full yet reads 0, as the
    seed reports it; until ``warmup_bars`` bars were seen some values still
    rest on such placeholders upstream (``progress`` says how far along).

    A bad bar raises InvalidBarError and leaves the stream as it was.
    """

    __slots__ = (
        "params", "_warmup", "_bars", "_last_ts", "_last", "_closes", "_close_pos",
        "_prev_vol", "_prev_signals",
        "_vol_std", "_vol_mean", "_vol_regime_ewm", "_ma_fast", "_ma_slow", "_trend_ewm",
        "_extreme_count", "_funding_z", "_funding_q", "_funding_ewm", "_returns_std",
        "_volume_mean", "_buy_z", "_delta_z", "_volume_z", "_flow_ewm", "_flow_q",
        "_perf_means", "_perf_ewms", "_price_max", "_signal_q", "_smooth_ewm",
        "_factor_std", "_turnover",
    )

    def __init__(self, params: StrategyParams | Mapping | None = None) -> None:
        p = self.params = resolve_params(params)
        self._warmup = warmup_bars(p)
        self._bars = 0
        self._last_ts = None
        self._last: dict | None = None
        self._closes = [_NAN] * p.lookback_short
        self._close_pos = 0
        self._prev_vol = _NAN
        self._prev_signals = (_NAN, _NAN, _NAN)
        self._vol_std = RollingStd(k.VOL_WINDOW).update
        self._vol_mean = RollingMean(p.lookback_long).update
        self._vol_regime_ewm = Ewm(k.VOL_REGIME_SPAN).update
        self._ma_fast = RollingMean(p.lookback_short).update
        self._ma_slow = RollingMean(k.SLOW_MA_WINDOW).update
        self._trend_ewm = Ewm(p.lookback_short).update
        self._extreme_count = RollingCount(k.EXTREME_WINDOW).update
        self._funding_z = _ZScore(p.funding_roll).update
        self._funding_q = RollingQuantile(p.lookback_long, k.FUNDING_QUANTILE).update
        self._funding_ewm = Ewm(k.FUNDING_SPAN).update
        self._returns_std = RollingStd(p.mr_roll).update
        self._volume_mean = RollingMean(k.VOLUME_WINDOW).update
        self._buy_z = _ZScore(p.flow_roll).update
        self._delta_z = _ZScore(p.flow_roll).update
        self._volume_z = _ZScore(p.flow_roll).update
        self._flow_ewm = Ewm(k.FLOW_SPAN).update
        self._flow_q = RollingQuantile(p.lookback_long, k.FLOW_QUANTILE).update
        self._perf_means = tuple(RollingMean(p.perf_roll).update for _ in range(3))
        self._perf_ewms = tuple(Ewm(p.perf_smooth_span).update for _ in range(3))
        self._price_max = RollingMax(p.lookback_long).update
        self._signal_q = RollingQuantile(p.lookback_long, k.SIGNAL_QUANTILE).update
        self._smooth_ewm = Ewm(k.SMOOTH_SPAN).update
        self._factor_std = RollingStd(p.lookback_medium).update
        self._turnover = ChangeThreshold(p.change_threshold_window, p.change_threshold_mult)

    # -- state -------------------------------------------------------------

    @property
    def bars_seen(self) -> int:
        return self._bars

    @property
    def warmup_bars(self) -> int:
        """Bars after which every reported value is the formula's, with no
        placeholder left upstream (956 with the default windows)."""
        return self._warmup

    @property
    def ready(self) -> bool:
        return self._bars >= self.params.lookback_long

    @property
    def progress(self) -> float:
        return min(1.0, self._bars / self._warmup)

    @property
    def last(self) -> dict | None:
        """The mapping the latest ``update`` returned."""
        return self._last

    @classmethod
    def from_history(
        cls, df: pd.DataFrame, params: StrategyParams | Mapping | None = None
    ) -> "FactorStream":
        """A stream that has seen every row of ``df`` (same checks as compute_factors)."""
        check_frame(df)
        stream = cls(params)
        inputs = np.column_stack([df[name].to_numpy(dtype=float) for name in INPUT_COLUMNS])
        stream.warm(list(df.index), inputs)
        return stream

    def warm(self, stamps: Sequence, inputs: np.ndarray) -> None:
        """Advance through a history in one call: ``inputs[t]`` holds bar t's INPUT_COLUMNS,
        ``stamps[t]`` its timestamp. The state afterwards is exactly that of calling ``update``
        bar by bar. Raises ValueError, with no state changed, for an unusable input or a bar
        that does not come after the last one."""
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.shape != (len(stamps), len(INPUT_COLUMNS)):
            raise ValueError(f"warm: inputs of shape {inputs.shape}, expected {(len(stamps), len(INPUT_COLUMNS))}")
        if not len(stamps):
            return
        bad = ~(np.isfinite(inputs).all(axis=1) & (inputs[:, 3] > 0))
        if bad.any():
            raise ValueError(f"unusable input in warm-up bar {int(np.argmax(bad))}")
        previous = self._last_ts
        for ts in stamps:
            if not (ts == ts and (previous is None or ts > previous)):
                raise ValueError(f"warm-up bar at {ts} does not come after the previous one at {previous}")
            previous = ts
        close, volume, funding, taker_buy, delta = inputs[:, 3:].T.tolist()
        step = self._step
        final = len(stamps) - 1
        for i in range(final):  # only the last bar's result is kept: the others are not built
            step(stamps[i], close[i], volume[i], funding[i], taker_buy[i], delta[i], False)
        self._last = step(stamps[final], close[final], volume[final], funding[final], taker_buy[final], delta[final])
        self._last_ts = stamps[final]

    # -- per bar -----------------------------------------------------------

    def update(self, bar: Mapping) -> dict | None:
        ts, _o, _h, _l, close, volume, funding, taker_buy, delta = bar_values(bar, self._last_ts)
        self._last_ts = ts
        out = self._last = self._step(ts, close, volume, funding, taker_buy, delta)
        return out

    def _step(self, ts, close, volume, funding, taker_buy, delta, emit: bool = True) -> dict | None:
        """Advance the state by one bar; its result (None while warming up), unless `emit` is false."""
        p = self.params
        self._bars = bars = self._bars + 1

        # market regime
        closes = self._closes
        pos = self._close_pos
        past = closes[pos]
        closes[pos] = close
        pos += 1
        self._close_pos = 0 if pos == p.lookback_short else pos
        returns = close / past - 1 if past == past else _NAN
        vol = self._vol_std(returns)
        if vol < _MIN_STD:
            vol = _MIN_STD
        vol_regime = _clip(_safe_div(vol, self._vol_mean(vol)) - 1, -2.0, 2.0)
        vol_regime = self._vol_regime_ewm(vol_regime)
        trend_ratio = _safe_div(self._ma_fast(close), self._ma_slow(close)) - 1
        trend = self._trend_ewm(_clip(trend_ratio, -0.10, 0.10))
        extreme_move = abs(_safe_div(returns, self._prev_vol)) > k.EXTREME_SIGMA
        self._prev_vol = vol
        extreme_market = 1.0 if self._extreme_count(extreme_move) > k.EXTREME_COUNT else 0.0
        extreme_factor = _clip(1 - extreme_market * k.EXTREME_DAMPING, 0.3, 1.0)

        # funding rate
        funding_z = self._funding_z(funding)
        funding_raw = -1 * funding_z
        funding_threshold = self._funding_q(abs(funding_z))
        funding_signal = self._funding_ewm(
            funding_raw * (1.0 if abs(funding_raw) > funding_threshold else 0.0)
        )

        # short-term mean reversion
        returns_std = self._returns_std(returns)
        returns_z = _safe_div(returns, _MIN_STD if returns_std < _MIN_STD else returns_std)
        mr_threshold = 1.8 + 0.3 * abs(vol_regime)
        trend_filter_mr = 1.0 - _clip(abs(trend) * 5.0, 0.0, 0.8)
        volume_ratio = _safe_div(volume, self._volume_mean(volume))
        volume_filter = 1.0 if volume_ratio > 0.8 else 0.0
        mr_signal = (
            -1 * returns_z * (1.0 if abs(returns_z) > mr_threshold else 0.0)
            * trend_filter_mr * volume_filter
        )

        # taker flow
        buy_ratio = _safe_div(taker_buy, _MIN_STD if volume < _MIN_STD else volume)
        buy_ratio_z = self._buy_z(buy_ratio)
        delta_z = self._delta_z(delta)
        flow_combined = self._flow_ewm(buy_ratio_z * 0.7 + delta_z * 0.3)
        flow_threshold = self._flow_q(abs(flow_combined))
        volume_scale = _clip(1.0 + 0.2 * self._volume_z(volume), 0.8, 1.3)
        flow_signal = (
            flow_combined * (1.0 if abs(flow_combined) > flow_threshold else 0.0) * volume_scale
        )

        # performance-tilted weights; each signal is scored on the bar after it
        f_lag, m_lag, l_lag = self._prev_signals
        self._prev_signals = (funding_signal, mr_signal, flow_signal)
        mean_f, mean_m, mean_l = self._perf_means
        ewm_f, ewm_m, ewm_l = self._perf_ewms
        perf_f = mean_f(f_lag * returns)
        perf_m = mean_m(m_lag * returns)
        perf_l = mean_l(l_lag * returns)
        perf_f = ewm_f(perf_f if perf_f == perf_f else 0.0)
        perf_m = ewm_m(perf_m if perf_m == perf_m else 0.0)
        perf_l = ewm_l(perf_l if perf_l == perf_l else 0.0)
        perf_sum = abs(perf_f) + abs(perf_m) + abs(perf_l)
        if perf_sum < _MIN_STD:
            perf_sum = _MIN_STD
        adj = k.PERF_ADJ_BASE
        w_f = _clip(p.funding_weight_base + _safe_div(adj * perf_f, perf_sum), 0.4, 0.6)
        w_m = _clip(p.mr_weight_base + _safe_div(adj * perf_m, perf_sum), 0.25, 0.4)
        w_l = _clip(p.flow_weight_base + _safe_div(adj * perf_l, perf_sum), 0.15, 0.25)
        # clipped weights sum to at least 0.8, so plain division is safe_division here
        w_sum = w_f + w_m + w_l
        w_f = w_f / w_sum
        w_m = w_m / w_sum
        w_l = w_l / w_sum
        raw = funding_signal * w_f + mr_signal * w_m + flow_signal * w_l
        if raw != raw:
            raw = 0.0

        # risk scaling and the asymmetric trend filter
        drawdown = _safe_div(close, self._price_max(close)) - 1
        severity = _clip(drawdown, -0.25, 0.0) / -0.25
        vol_risk_scale = _clip(1.0 / (1.0 + abs(vol_regime) * 0.8), 0.4, 1.2)
        drawdown_scale = _clip(1.0 - severity * 0.6, 0.5, 1.0)
        risk_scale = vol_risk_scale * 0.7 + drawdown_scale * 0.3
        if risk_scale != risk_scale:
            risk_scale = 1.0
        trend_filter = 1.0
        if trend > k.TREND_THRESHOLD and raw < 0:
            trend_filter = trend_filter - trend * 3.0
        if trend < -k.TREND_THRESHOLD and raw > 0:
            trend_filter = trend_filter - abs(trend) * 3.0
        trend_filter = _clip(trend_filter, 0.0, 1.0)
        filtered = raw * trend_filter * risk_scale * extreme_factor

        # conviction, smoothing, volatility standardisation
        abs_filtered = abs(filtered)
        signal_threshold = self._signal_q(abs_filtered)
        if signal_threshold != signal_threshold:
            signal_threshold = _MIN_STD
        ratio = _safe_div(
            abs_filtered, _MIN_STD if signal_threshold < _MIN_STD else signal_threshold
        )
        # numpy's pow, as pandas uses it: Python's ** (libm) can differ in the
        # last bit, and the standardisation below can magnify that. Ratios of 2
        # and more clip to 1.5 anyway.
        conviction_scale = _clip(float(_power(ratio, 1.5)), 0.0, 1.5) if ratio < 2.0 else 1.5
        conviction = filtered * conviction_scale
        smoothed = self._smooth_ewm(conviction)
        factor_std = self._factor_std(smoothed)
        if factor_std < _MIN_STD:
            factor_std = _MIN_STD
        final = _safe_div(smoothed, factor_std) * p.target_signal_volatility

        if bars < p.lookback_long:
            return None
        final = _finite(final)
        target, change_threshold, changed = self._turnover.update(final)
        if not emit:
            return None
        floats = (
            raw, filtered, final, funding_signal, mr_signal, flow_signal, vol_regime, trend,
            risk_scale, extreme_factor, w_f, w_m, w_l, target,
            returns, funding, funding_z, funding_threshold, funding_raw, returns_z,
            mr_threshold, trend_filter_mr, volume_ratio, volume_filter, buy_ratio, buy_ratio_z,
            delta_z, flow_combined, flow_threshold, volume_scale, vol_risk_scale,
            drawdown_scale, trend_filter, signal_threshold, conviction_scale, conviction,
            smoothed, factor_std, change_threshold,
        )  # fmt: skip
        check = sum(floats)
        if check - check != 0.0:
            # some value is undefined (a window not full yet) or overflowed: report 0 like the seed
            floats = tuple([x if x - x == 0.0 else 0.0 for x in floats])
        return dict(zip(STREAM_KEYS, (ts, *floats, changed, bars)))


assert STREAM_KEYS == ("timestamp", *FLOAT_KEYS, "target_changed", "bars_seen")

__all__ = ["FactorStream"]
