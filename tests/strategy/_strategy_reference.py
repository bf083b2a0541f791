"""The seed's calculate_signals, transcribed formula by formula in plain pandas.

Deliberately independent of the strategy package: it is what the package is
checked against. It keeps the seed's style (Series arithmetic, safe_division,
rolling/ewm calls) so that it also serves as the benchmark's baseline cycle.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

DEFAULTS = {
    "lookback_long": 240,
    "lookback_medium": 120,
    "lookback_short": 24,
    "funding_roll": 144,
    "mr_roll": 96,
    "flow_roll": 120,
    "perf_roll": 192,
    "perf_smooth_span": 60,
    "funding_weight_base": 0.5,
    "mr_weight_base": 0.3,
    "flow_weight_base": 0.2,
    "target_signal_volatility": 0.2,
}

RESULT_KEYS = (
    "raw_factor",
    "filtered_factor",
    "final_factor",
    "funding_signal",
    "mr_signal",
    "flow_signal",
    "vol_regime",
    "trend_regime",
    "risk_scale",
    "extreme_market_factor",
    "funding_weight",
    "mr_weight",
    "flow_weight",
)


def _safe_division(numerator, denominator, default=0.0, strict=False):
    if isinstance(denominator, (pd.Series, pd.DataFrame)):
        result = numerator / denominator.replace(0, 1e-12)
        if not strict:
            result = result.fillna(default)
        return result.replace([float("inf"), -float("inf")], default)
    if pd.isna(denominator) or denominator == 0 or pd.isna(numerator):
        return default
    return numerator / denominator


def seed_series(
    df: pd.DataFrame, params: dict | None = None, strict: bool = False
) -> dict[str, pd.Series]:
    """Every series calculate_signals builds, over the whole of ``df``.

    ``strict=True`` drops the seed's placeholders (NaN -> 0 in divisions, the
    fillna steps, comparisons with NaN reading False) so NaN marks every value
    that still rests on one: the first row without NaN is where the formula is
    fully defined.
    """

    def safe_division(numerator, denominator):
        return _safe_division(numerator, denominator, strict=strict)

    def flag(condition, *operands):
        out = condition.astype(float)
        if strict:
            for operand in operands:
                out[operand.isna()] = np.nan
        return out

    def fillna(series, value):
        return series if strict else series.fillna(value)

    p = dict(DEFAULTS)
    p.update(params or {})
    long_, medium, short = p["lookback_long"], p["lookback_medium"], p["lookback_short"]
    min_std_dev = 1e-8
    close = df["close"]
    volume = df["volume"]

    returns = close.pct_change(short)
    vol = returns.rolling(72).std().clip(lower=min_std_dev)
    vol_regime = (safe_division(vol, vol.rolling(long_).mean()) - 1).clip(-2, 2)
    vol_regime_smooth = vol_regime.ewm(span=36, adjust=False).mean()

    ma_fast = close.rolling(short).mean()
    ma_slow = close.rolling(168).mean()
    trend_ratio = safe_division(ma_fast, ma_slow) - 1
    trend_regime = trend_ratio.clip(-0.10, 0.10).ewm(span=short, adjust=False).mean()

    return_vol_ratio = safe_division(returns, vol.shift(1))
    extreme_moves = flag(return_vol_ratio.abs() > 2.5, return_vol_ratio)
    extreme_count = extreme_moves.rolling(48).sum()
    extreme_market = flag(extreme_count > 2, extreme_count)
    extreme_market_factor = (1 - extreme_market * 0.7).clip(0.3, 1)

    funding = df["funding_rate"]
    funding_mean = funding.rolling(p["funding_roll"]).mean()
    funding_std = funding.rolling(p["funding_roll"]).std().clip(lower=min_std_dev)
    funding_z = safe_division(funding - funding_mean, funding_std)
    funding_signal_raw = -1 * funding_z
    funding_threshold = funding_z.abs().rolling(long_).quantile(0.70)
    funding_signal_filtered = funding_signal_raw * flag(
        funding_signal_raw.abs() > funding_threshold, funding_signal_raw, funding_threshold
    )
    funding_signal = funding_signal_filtered.ewm(span=18, adjust=False).mean()

    returns_z = safe_division(
        returns, returns.rolling(p["mr_roll"]).std().clip(lower=min_std_dev)
    )
    mean_rev_threshold = 1.8 + 0.3 * vol_regime_smooth.abs()
    mean_rev_raw = -1 * returns_z * flag(
        returns_z.abs() > mean_rev_threshold, returns_z, mean_rev_threshold
    )
    trend_filter_mr = 1.0 - (trend_regime.abs() * 5.0).clip(0, 0.8)
    mean_rev_trend_filtered = mean_rev_raw * trend_filter_mr
    volume_mean = volume.rolling(72).mean()
    volume_ratio = safe_division(volume, volume_mean)
    volume_filter = flag(volume_ratio > 0.8, volume_ratio)
    mean_rev_signal = mean_rev_trend_filtered * volume_filter

    flow_roll = p["flow_roll"]
    buy_ratio = safe_division(df["taker_buy_volume"], volume.clip(lower=min_std_dev))
    buy_ratio_mean = buy_ratio.rolling(flow_roll).mean()
    buy_ratio_std = buy_ratio.rolling(flow_roll).std().clip(lower=min_std_dev)
    buy_ratio_z = safe_division(buy_ratio - buy_ratio_mean, buy_ratio_std)
    dollar_delta = df["dollar_volume_delta"]
    dollar_delta_mean = dollar_delta.rolling(flow_roll).mean()
    dollar_delta_std = dollar_delta.rolling(flow_roll).std().clip(lower=min_std_dev)
    dollar_delta_z = safe_division(dollar_delta - dollar_delta_mean, dollar_delta_std)
    flow_combined = (buy_ratio_z * 0.7 + dollar_delta_z * 0.3).ewm(span=12, adjust=False).mean()
    flow_threshold = flow_combined.abs().rolling(long_).quantile(0.75)
    flow_signal_filtered = flow_combined * flag(
        flow_combined.abs() > flow_threshold, flow_combined, flow_threshold
    )
    volume_z_mean = volume.rolling(flow_roll).mean()
    volume_z_std = volume.rolling(flow_roll).std().clip(lower=min_std_dev)
    volume_z = safe_division(volume - volume_z_mean, volume_z_std)
    volume_scale = (1.0 + 0.2 * volume_z).clip(0.8, 1.3)
    flow_signal = flow_signal_filtered * volume_scale

    perf_roll, span = p["perf_roll"], p["perf_smooth_span"]
    funding_perf = fillna((funding_signal.shift(1) * returns).rolling(perf_roll).mean(), 0)
    mr_perf = fillna((mean_rev_signal.shift(1) * returns).rolling(perf_roll).mean(), 0)
    flow_perf = fillna((flow_signal.shift(1) * returns).rolling(perf_roll).mean(), 0)
    funding_perf_smooth = funding_perf.ewm(span=span, adjust=False).mean()
    mr_perf_smooth = mr_perf.ewm(span=span, adjust=False).mean()
    flow_perf_smooth = flow_perf.ewm(span=span, adjust=False).mean()
    perf_adj_base = 0.15
    perf_sum = (
        funding_perf_smooth.abs() + mr_perf_smooth.abs() + flow_perf_smooth.abs()
    ).clip(lower=min_std_dev)
    funding_weight = (
        p["funding_weight_base"] + safe_division(perf_adj_base * funding_perf_smooth, perf_sum)
    ).clip(0.4, 0.6)
    mr_weight = (
        p["mr_weight_base"] + safe_division(perf_adj_base * mr_perf_smooth, perf_sum)
    ).clip(0.25, 0.4)
    flow_weight = (
        p["flow_weight_base"] + safe_division(perf_adj_base * flow_perf_smooth, perf_sum)
    ).clip(0.15, 0.25)
    weight_sum = funding_weight + mr_weight + flow_weight
    funding_weight_norm = safe_division(funding_weight, weight_sum)
    mr_weight_norm = safe_division(mr_weight, weight_sum)
    flow_weight_norm = safe_division(flow_weight, weight_sum)

    raw_factor = fillna(
        funding_signal * funding_weight_norm
        + mean_rev_signal * mr_weight_norm
        + flow_signal * flow_weight_norm,
        0,
    )

    rolling_max_price = close.rolling(long_).max()
    price_drawdown = safe_division(close, rolling_max_price) - 1
    drawdown_severity = fillna(price_drawdown.clip(-0.25, 0) / -0.25, 0)
    vol_risk_scale = (1.0 / (1.0 + vol_regime_smooth.abs() * 0.8)).clip(0.4, 1.2)
    drawdown_scale = (1.0 - drawdown_severity * 0.6).clip(0.5, 1.0)
    risk_scale = fillna(vol_risk_scale * 0.7 + drawdown_scale * 0.3, 1.0)

    trend_threshold = 0.02
    trend_filter = pd.Series(1.0, index=df.index)
    trend_filter = trend_filter - flag(
        (trend_regime > trend_threshold) * (trend_regime * 3.0) * (raw_factor < 0),
        trend_regime,
        raw_factor,
    )
    trend_filter = trend_filter - flag(
        (trend_regime < -trend_threshold) * (trend_regime.abs() * 3.0) * (raw_factor > 0),
        trend_regime,
        raw_factor,
    )
    trend_filter = trend_filter.clip(0, 1)

    factor_with_filters = raw_factor * trend_filter * risk_scale * extreme_market_factor

    signal_thresh_val = fillna(
        factor_with_filters.abs().rolling(long_).quantile(0.75), min_std_dev
    )
    conviction_scale = (
        safe_division(factor_with_filters.abs(), signal_thresh_val.clip(lower=min_std_dev))
        ** 1.5
    ).clip(0, 1.5)
    conviction_factor = factor_with_filters * conviction_scale
    smoothed_factor = conviction_factor.ewm(span=18, adjust=False).mean()
    factor_std = smoothed_factor.rolling(medium).std().clip(lower=min_std_dev)
    final_factor = safe_division(smoothed_factor, factor_std) * p["target_signal_volatility"]

    return {
        "raw_factor": raw_factor,
        "filtered_factor": factor_with_filters,
        "final_factor": final_factor,
        "funding_signal": funding_signal,
        "mr_signal": mean_rev_signal,
        "flow_signal": flow_signal,
        "vol_regime": vol_regime_smooth,
        "trend_regime": trend_regime,
        "risk_scale": risk_scale,
        "extreme_market_factor": extreme_market_factor,
        "funding_weight": funding_weight_norm,
        "mr_weight": mr_weight_norm,
        "flow_weight": flow_weight_norm,
        # intermediates, for the streaming detail keys
        "returns": returns,
        "funding_z": funding_z,
        "funding_threshold": funding_threshold,
        "funding_signal_raw": funding_signal_raw,
        "returns_z": returns_z,
        "mr_threshold": mean_rev_threshold,
        "trend_filter_mr": trend_filter_mr,
        "volume_ratio": volume_ratio,
        "volume_filter": volume_filter,
        "buy_ratio": buy_ratio,
        "buy_ratio_z": buy_ratio_z,
        "dollar_delta_z": dollar_delta_z,
        "flow_combined": flow_combined,
        "flow_threshold": flow_threshold,
        "volume_scale": volume_scale,
        "vol_risk_scale": vol_risk_scale,
        "drawdown_scale": drawdown_scale,
        "trend_filter": trend_filter,
        "signal_threshold": signal_thresh_val,
        "conviction_scale": conviction_scale,
        "conviction_factor": conviction_factor,
        "smoothed_factor": smoothed_factor,
        "factor_std": factor_std,
    }


def seed_signals(df: pd.DataFrame, params: dict | None = None) -> dict | None:
    """calculate_signals: the latest values of the 13 result keys, or None."""
    p = dict(DEFAULTS)
    p.update(params or {})
    if df.empty or len(df) < p["lookback_long"]:
        return None
    series = seed_series(df, params)
    result = {"timestamp": df.index[-1]}
    for key in RESULT_KEYS:
        value = series[key].iloc[-1]
        result[key] = float(value) if math.isfinite(value) else 0.0
    return result


def reference_frame(df: pd.DataFrame, params: dict | None = None, start: int | None = None) -> pd.DataFrame:
    """calculate_signals on every growing prefix ``df.iloc[:t+1]``, one row per t.

    Rows before ``start`` (default lookback_long - 1) are left out.
    """
    p = dict(DEFAULTS)
    p.update(params or {})
    first = p["lookback_long"] - 1 if start is None else start
    rows = [seed_signals(df.iloc[: t + 1], params) for t in range(first, len(df))]
    frame = pd.DataFrame(rows).set_index("timestamp")
    return frame[list(RESULT_KEYS)].astype(float)


def reference_rows(job: tuple[pd.DataFrame, int, int]) -> pd.DataFrame:
    """reference_frame for the prefixes ending at rows start..stop-1 (a picklable job)."""
    df, start, stop = job
    return reference_frame(df.iloc[:stop], start=start)
