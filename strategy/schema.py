"""Names of the input fields and of the values the pipeline reports."""

from __future__ import annotations

INPUT_COLUMNS = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "funding_rate",
    "taker_buy_volume",
    "dollar_volume_delta",
)

# What the seed's calculate_signals returns (besides timestamp and symbol).
FACTOR_KEYS = (
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

# The intermediates someone inspecting a symbol wants to see, in pipeline order.
DETAIL_KEYS = (
    "returns",
    "funding_rate",
    "funding_z",
    "funding_threshold",
    "funding_signal_raw",
    "returns_z",
    "mr_threshold",
    "trend_filter_mr",
    "volume_ratio",
    "volume_filter",
    "buy_ratio",
    "buy_ratio_z",
    "dollar_delta_z",
    "flow_combined",
    "flow_threshold",
    "volume_scale",
    "vol_risk_scale",
    "drawdown_scale",
    "trend_filter",
    "signal_threshold",
    "conviction_scale",
    "conviction_factor",
    "smoothed_factor",
    "factor_std",
    "change_threshold",
)

# Every float a stream reports per bar; target_changed (bool), bars_seen (int)
# and timestamp complete a stream's mapping.
FLOAT_KEYS = FACTOR_KEYS + ("target_factor",) + DETAIL_KEYS
STREAM_KEYS = ("timestamp",) + FLOAT_KEYS + ("target_changed", "bars_seen")
