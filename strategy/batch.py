"""``compute_factors``: the whole factor pipeline over a history, vectorised.

Window statistics go through pandas' own rolling/ewm code (the definition the
stream reproduces); elementwise steps run on numpy arrays. Every step is
causal, so row t equals the seed's ``calculate_signals`` on ``df.iloc[:t+1]``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import params as k
from .params import StrategyParams, resolve_params
from .schema import FLOAT_KEYS
from .turnover import change_threshold_filter
from .validation import check_frame

_NAN = np.nan


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """The seed's safe_division: zero denominators become 1e-12, NaN and inf become 0."""
    den = np.where(den == 0, k.ZERO_DENOMINATOR, den)
    with np.errstate(all="ignore"):
        out = num / den
    out[~np.isfinite(out)] = 0.0
    return out


def _floor(x: np.ndarray, lower: float) -> np.ndarray:
    # like Series.clip(lower=...): NaN stays NaN
    return np.where(x < lower, lower, x)


def _fillna(x: np.ndarray, value: float) -> np.ndarray:
    return np.where(np.isnan(x), value, x)


def _flag(cond: np.ndarray) -> np.ndarray:
    return cond.astype(np.float64)


def _rolling(x: np.ndarray, window: int):
    return pd.Series(x, copy=False).rolling(window)


def _mean(x: np.ndarray, window: int) -> np.ndarray:
    return _rolling(x, window).mean().to_numpy()


def _std(x: np.ndarray, window: int) -> np.ndarray:
    return _rolling(x, window).std().to_numpy()


def _quantile(x: np.ndarray, window: int, q: float) -> np.ndarray:
    return _rolling(x, window).quantile(q).to_numpy()


def _ewm(x: np.ndarray, span: float) -> np.ndarray:
    return pd.Series(x, copy=False).ewm(span=span, adjust=False).mean().to_numpy()


def _zscore(x: np.ndarray, window: int) -> np.ndarray:
    return _safe_div(x - _mean(x, window), _floor(_std(x, window), k.MIN_STD_DEV))


def factor_series(df: pd.DataFrame, p: StrategyParams) -> dict[str, np.ndarray]:
    """Every series of the formula over the whole frame (no masking)."""
    close = df["close"].to_numpy(dtype=np.float64)
    volume = df["volume"].to_numpy(dtype=np.float64)
    funding = df["funding_rate"].to_numpy(dtype=np.float64)
    taker_buy = df["taker_buy_volume"].to_numpy(dtype=np.float64)
    dollar_delta = df["dollar_volume_delta"].to_numpy(dtype=np.float64)
    long_, short = p.lookback_long, p.lookback_short
    n = len(close)
    out: dict[str, np.ndarray] = {}

    # market regime
    returns = np.full(n, _NAN)
    returns[short:] = close[short:] / close[:-short] - 1
    vol = _floor(_std(returns, k.VOL_WINDOW), k.MIN_STD_DEV)
    vol_regime = np.clip(_safe_div(vol, _mean(vol, long_)) - 1, -2, 2)
    vol_regime_smooth = _ewm(vol_regime, k.VOL_REGIME_SPAN)
    trend_ratio = _safe_div(_mean(close, short), _mean(close, k.SLOW_MA_WINDOW)) - 1
    trend_regime = _ewm(np.clip(trend_ratio, -0.10, 0.10), short)
    prev_vol = np.concatenate(([_NAN], vol[:-1]))
    extreme_moves = _flag(np.abs(_safe_div(returns, prev_vol)) > k.EXTREME_SIGMA)
    extreme_count = _rolling(extreme_moves, k.EXTREME_WINDOW).sum().to_numpy()
    extreme_market = _flag(extreme_count > k.EXTREME_COUNT)
    extreme_market_factor = np.clip(1 - extreme_market * k.EXTREME_DAMPING, 0.3, 1)

    # funding rate
    funding_z = _zscore(funding, p.funding_roll)
    funding_signal_raw = -1 * funding_z
    funding_threshold = _quantile(np.abs(funding_z), long_, k.FUNDING_QUANTILE)
    funding_filtered = funding_signal_raw * _flag(np.abs(funding_signal_raw) > funding_threshold)
    funding_signal = _ewm(funding_filtered, k.FUNDING_SPAN)

    # short-term mean reversion
    returns_z = _safe_div(returns, _floor(_std(returns, p.mr_roll), k.MIN_STD_DEV))
    mr_threshold = 1.8 + 0.3 * np.abs(vol_regime_smooth)
    mr_raw = -1 * returns_z * _flag(np.abs(returns_z) > mr_threshold)
    trend_filter_mr = 1.0 - np.clip(np.abs(trend_regime) * 5.0, 0, 0.8)
    volume_ratio = _safe_div(volume, _mean(volume, k.VOLUME_WINDOW))
    volume_filter = _flag(volume_ratio > 0.8)
    mr_signal = mr_raw * trend_filter_mr * volume_filter

    # taker flow
    buy_ratio = _safe_div(taker_buy, _floor(volume, k.MIN_STD_DEV))
    buy_ratio_z = _zscore(buy_ratio, p.flow_roll)
    dollar_delta_z = _zscore(dollar_delta, p.flow_roll)
    flow_combined = _ewm(buy_ratio_z * 0.7 + dollar_delta_z * 0.3, k.FLOW_SPAN)
    flow_threshold = _quantile(np.abs(flow_combined), long_, k.FLOW_QUANTILE)
    flow_filtered = flow_combined * _flag(np.abs(flow_combined) > flow_threshold)
    volume_scale = np.clip(1.0 + 0.2 * _zscore(volume, p.flow_roll), 0.8, 1.3)
    flow_signal = flow_filtered * volume_scale

    # performance-tilted weights
    def smoothed_perf(signal: np.ndarray) -> np.ndarray:
        lagged = np.concatenate(([_NAN], signal[:-1]))
        perf = _fillna(_mean(lagged * returns, p.perf_roll), 0.0)
        return _ewm(perf, p.perf_smooth_span)

    funding_perf = smoothed_perf(funding_signal)
    mr_perf = smoothed_perf(mr_signal)
    flow_perf = smoothed_perf(flow_signal)
    perf_sum = _floor(np.abs(funding_perf) + np.abs(mr_perf) + np.abs(flow_perf), k.MIN_STD_DEV)
    adj = k.PERF_ADJ_BASE
    funding_weight = np.clip(p.funding_weight_base + _safe_div(adj * funding_perf, perf_sum), 0.4, 0.6)
    mr_weight = np.clip(p.mr_weight_base + _safe_div(adj * mr_perf, perf_sum), 0.25, 0.4)
    flow_weight = np.clip(p.flow_weight_base + _safe_div(adj * flow_perf, perf_sum), 0.15, 0.25)
    weight_sum = funding_weight + mr_weight + flow_weight
    funding_weight = _safe_div(funding_weight, weight_sum)
    mr_weight = _safe_div(mr_weight, weight_sum)
    flow_weight = _safe_div(flow_weight, weight_sum)

    raw_factor = _fillna(
        funding_signal * funding_weight + mr_signal * mr_weight + flow_signal * flow_weight, 0.0
    )

    # risk scaling and the asymmetric trend filter
    drawdown = _safe_div(close, _rolling(close, long_).max().to_numpy()) - 1
    severity = _fillna(np.clip(drawdown, -0.25, 0) / -0.25, 0.0)
    vol_risk_scale = np.clip(1.0 / (1.0 + np.abs(vol_regime_smooth) * 0.8), 0.4, 1.2)
    drawdown_scale = np.clip(1.0 - severity * 0.6, 0.5, 1.0)
    risk_scale = _fillna(vol_risk_scale * 0.7 + drawdown_scale * 0.3, 1.0)
    up = (trend_regime > k.TREND_THRESHOLD) * (trend_regime * 3.0) * (raw_factor < 0)
    down = (trend_regime < -k.TREND_THRESHOLD) * (np.abs(trend_regime) * 3.0) * (raw_factor > 0)
    trend_filter = np.clip(1.0 - up - down, 0, 1)
    filtered = raw_factor * trend_filter * risk_scale * extreme_market_factor

    # conviction, smoothing, volatility standardisation
    abs_filtered = np.abs(filtered)
    signal_threshold = _fillna(_quantile(abs_filtered, long_, k.SIGNAL_QUANTILE), k.MIN_STD_DEV)
    ratio = _safe_div(abs_filtered, _floor(signal_threshold, k.MIN_STD_DEV))
    with np.errstate(over="ignore"):
        conviction_scale = np.clip(np.power(ratio, 1.5), 0, 1.5)
    conviction_factor = filtered * conviction_scale
    smoothed = _ewm(conviction_factor, k.SMOOTH_SPAN)
    factor_std = _floor(_std(smoothed, p.lookback_medium), k.MIN_STD_DEV)
    final = _safe_div(smoothed, factor_std) * p.target_signal_volatility

    out.update(
        raw_factor=raw_factor,
        filtered_factor=filtered,
        final_factor=final,
        funding_signal=funding_signal,
        mr_signal=mr_signal,
        flow_signal=flow_signal,
        vol_regime=vol_regime_smooth,
        trend_regime=trend_regime,
        risk_scale=risk_scale,
        extreme_market_factor=extreme_market_factor,
        funding_weight=funding_weight,
        mr_weight=mr_weight,
        flow_weight=flow_weight,
        returns=returns,
        funding_rate=funding,
        funding_z=funding_z,
        funding_threshold=funding_threshold,
        funding_signal_raw=funding_signal_raw,
        returns_z=returns_z,
        mr_threshold=mr_threshold,
        trend_filter_mr=trend_filter_mr,
        volume_ratio=volume_ratio,
        volume_filter=volume_filter,
        buy_ratio=buy_ratio,
        buy_ratio_z=buy_ratio_z,
        dollar_delta_z=dollar_delta_z,
        flow_combined=flow_combined,
        flow_threshold=flow_threshold,
        volume_scale=volume_scale,
        vol_risk_scale=vol_risk_scale,
        drawdown_scale=drawdown_scale,
        trend_filter=trend_filter,
        signal_threshold=signal_threshold,
        conviction_scale=conviction_scale,
        conviction_factor=conviction_factor,
        smoothed_factor=smoothed,
        factor_std=factor_std,
    )
    return out


def compute_factors(df: pd.DataFrame, params: StrategyParams | Mapping | None = None) -> pd.DataFrame:
    """One row per bar: the 13 factor keys of the seed, ``target_factor`` (the
    change-threshold filter), the detail keys of a stream, ``target_changed``
    and ``bars_seen``.

    Rows before ``lookback_long - 1`` are NaN (the seed reports nothing with
    fewer bars); later non-finite values are 0, as the seed reports them.
    Raises ValueError for missing columns or non-finite input.
    """
    p = resolve_params(params)
    check_frame(df)
    series = factor_series(df, p)
    n = len(df)
    hidden = min(n, p.lookback_long - 1)
    changed = _targets(series, p, hidden)
    # one Fortran-ordered block: pandas takes it as its own storage without a copy
    table = np.empty((n, len(FLOAT_KEYS)), order="F")
    for j, name in enumerate(FLOAT_KEYS):
        table[:, j] = series[name]
    np.nan_to_num(table, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    table[:hidden] = _NAN
    frame = pd.DataFrame(table, index=df.index, columns=list(FLOAT_KEYS), copy=False)
    frame["target_changed"] = pd.arrays.BooleanArray(changed, np.arange(n) < hidden)
    frame["bars_seen"] = np.arange(1, n + 1)
    return frame


def _targets(series: dict[str, np.ndarray], p: StrategyParams, hidden: int) -> np.ndarray:
    """The reported final factor and the change-threshold filter on it, into ``series``
    (``final_factor``, ``target_factor``, ``change_threshold``); returns where the target moved."""
    final = np.where(np.isfinite(series["final_factor"]), series["final_factor"], 0.0)
    final[:hidden] = _NAN
    target, threshold, changed = change_threshold_filter(
        final, p.change_threshold_window, p.change_threshold_mult
    )
    series.update(final_factor=final, target_factor=target, change_threshold=threshold)
    return changed


def target_factors(df: pd.DataFrame, params: StrategyParams | Mapping | None = None) -> np.ndarray:
    """``compute_factors(df, params)["target_factor"]`` alone, without building the other columns:
    what a backtest trades on."""
    p = resolve_params(params)
    check_frame(df)
    series = factor_series(df, p)
    _targets(series, p, min(len(df), p.lookback_long - 1))
    return series["target_factor"]
