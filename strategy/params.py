"""Strategy parameters: the tunable windows and weights, and the fixed constants of the formula."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from numbers import Integral, Real

# Fixed by the formula itself, not tunable: changing them changes the strategy.
MIN_STD_DEV = 1e-8
ZERO_DENOMINATOR = 1e-12
VOL_WINDOW = 72
SLOW_MA_WINDOW = 168
EXTREME_WINDOW = 48
EXTREME_SIGMA = 2.5
EXTREME_COUNT = 2
EXTREME_DAMPING = 0.7
VOL_REGIME_SPAN = 36
FUNDING_SPAN = 18
FLOW_SPAN = 12
SMOOTH_SPAN = 18
VOLUME_WINDOW = 72
FUNDING_QUANTILE = 0.70
FLOW_QUANTILE = 0.75
SIGNAL_QUANTILE = 0.75
PERF_ADJ_BASE = 0.15
TREND_THRESHOLD = 0.02

_WINDOWS = (
    "lookback_long",
    "lookback_medium",
    "lookback_short",
    "funding_roll",
    "mr_roll",
    "flow_roll",
    "perf_roll",
    "change_threshold_window",
)


@dataclass(frozen=True)
class StrategyParams:
    """The seed's ``strategy_v2`` settings plus the change-threshold (turnover) filter."""

    lookback_long: int = 240
    lookback_medium: int = 120
    lookback_short: int = 24
    funding_roll: int = 144
    mr_roll: int = 96
    flow_roll: int = 120
    perf_roll: int = 192
    perf_smooth_span: float = 60
    funding_weight_base: float = 0.5
    mr_weight_base: float = 0.3
    flow_weight_base: float = 0.2
    target_signal_volatility: float = 0.2
    change_threshold_mult: float = 0.4
    change_threshold_window: int = 24

    def __post_init__(self) -> None:
        for name in _WINDOWS:
            value = getattr(self, name)
            # a one-bar window has no dispersion, so every window needs two bars
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 2:
                raise ValueError(f"{name} must be an integer >= 2, got {value!r}")
            object.__setattr__(self, name, int(value))
        for f in fields(self):
            if f.name in _WINDOWS or f.name == "perf_smooth_span":
                continue
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, got {value!r}")
            object.__setattr__(self, f.name, float(value))
        span = self.perf_smooth_span
        # an ewm span, so fractional values are allowed; pandas rejects spans below 1
        if isinstance(span, bool) or not isinstance(span, Real) or not span >= 1 or math.isinf(span):
            raise ValueError(f"perf_smooth_span must be a finite number >= 1, got {span!r}")
        if self.target_signal_volatility <= 0:
            raise ValueError(
                f"target_signal_volatility must be > 0, got {self.target_signal_volatility!r}"
            )
        if self.change_threshold_mult < 0:
            raise ValueError(
                f"change_threshold_mult must be >= 0, got {self.change_threshold_mult!r}"
            )

    @property
    def warmup_bars(self) -> int:
        return warmup_bars(self)


def resolve_params(params: StrategyParams | Mapping | None) -> StrategyParams:
    """``None`` means defaults; a mapping may hold any subset of the keys."""
    if params is None:
        return StrategyParams()
    if isinstance(params, StrategyParams):
        return params
    if isinstance(params, Mapping):
        known = {f.name for f in fields(StrategyParams)}
        unknown = sorted(str(k) for k in params if k not in known)
        if unknown:
            raise ValueError(f"unknown strategy parameter(s): {', '.join(unknown)}")
        return StrategyParams(**params)
    raise TypeError(f"params must be StrategyParams, a mapping or None, not {type(params).__name__}")


def warmup_bars(params: StrategyParams | Mapping | None = None) -> int:
    """Bars after which no output depends on a placeholder any more.

    The seed fills undefined intermediates (division by NaN -> 0, missing
    performance -> 0, missing thresholds -> 1e-8), so values appear early but
    only become the real formula once every window upstream is full of real
    data. This walks the formula's dependency chain: each entry is the first
    0-based row at which that series is genuinely defined.
    """
    p = resolve_params(params)
    long_, short = p.lookback_long, p.lookback_short
    returns = short
    vol = returns + VOL_WINDOW - 1
    vol_regime = vol + long_ - 1
    trend = max(short, SLOW_MA_WINDOW) - 1
    extreme = vol + 1 + EXTREME_WINDOW - 1
    funding_signal = p.funding_roll - 1 + long_ - 1
    returns_z = returns + p.mr_roll - 1
    mr_signal = max(returns_z, vol_regime, trend, VOLUME_WINDOW - 1)
    flow_signal = p.flow_roll - 1 + long_ - 1

    def perf(signal: int) -> int:
        return max(signal + 1, returns) + p.perf_roll - 1

    weights = max(perf(funding_signal), perf(mr_signal), perf(flow_signal))
    raw_factor = max(funding_signal, mr_signal, flow_signal, weights)
    risk_scale = max(vol_regime, long_ - 1)
    filtered = max(raw_factor, trend, risk_scale, extreme)
    smoothed = filtered + long_ - 1
    final = smoothed + p.lookback_medium - 1
    change_threshold = max(final, long_ - 1) + p.change_threshold_window - 1
    return change_threshold + 1
