"""Why a book stays idle: per symbol, the status a signal carries when its target leaves the
position as it is; and at start, one line when the capital cannot fund the universe at all.

A trade needs a change of at least max(min notional, rebalance band) (engine.sizing), so a
user who spreads 10k USDT over 500 symbols sees why nothing happens instead of guessing.
"""
from __future__ import annotations

from decimal import Decimal

from engine.config import Config, RiskConfig
from engine.sizing import SizingLimits

BELOW_BAND = "below band"
BELOW_MIN_NOTIONAL = "below min notional"
_DEFAULT_CAPS = (Config.__dataclass_fields__["max_position_risk_per_trade"].default,
                 Config.__dataclass_fields__["max_total_risk_exposure"].default,
                 Config.__dataclass_fields__["leverage"].default,
                 RiskConfig.__dataclass_fields__["rebalance_band_usd"].default)


def idle_status(target: Decimal, current: Decimal, min_notional: Decimal, band: Decimal, skipped: bool) -> str:
    """"active", or which threshold keeps an active symbol with nothing held from opening its target.

    `skipped`: the last order planned for the symbol was refused for the exchange's minimum
    (quantity or notional) after rounding to its step. A symbol that holds a position is active:
    its remaining change being small is the hysteresis doing its job, not an idle book.
    """
    if skipped:
        return BELOW_MIN_NOTIONAL
    if current or not target or abs(target) >= max(min_notional, band):
        return "active"
    return BELOW_MIN_NOTIONAL if min_notional >= band else BELOW_BAND


def funding_hint(config: Config, equity: Decimal, min_notionals: list[Decimal]) -> str:
    """One line when no symbol can ever reach a tradable size at these caps, else ""."""
    n = len(min_notionals)
    if not n or equity <= 0:
        return ""
    limits = SizingLimits.from_config(config)
    unit = limits.leverage * equity
    per_cap, gross = limits.per_symbol * unit, limits.gross * unit / n
    most = min(per_cap, gross)
    smallest = min(min_notionals)
    if most >= max(smallest, limits.band_usd):
        return ""
    caps = (config.max_position_risk_per_trade, config.max_total_risk_exposure, config.leverage,
            config.risk.rebalance_band_usd)
    at = "the default caps" if caps == _DEFAULT_CAPS else "these caps"
    if most < smallest:
        below = f"the {smallest.normalize():f} USDT minimum notional"
    else:
        below = f"the {limits.band_usd.normalize():f} USDT rebalance band (risk.rebalance_band_usd)"
    if per_cap <= gross:
        fix = "raise initial_capital_usd or max_position_risk_per_trade"
    else:
        fix = "raise initial_capital_usd or max_total_risk_exposure, or trade fewer symbols"
    return (f"{equity:,.0f} USDT over {n} symbols at {at} is at most {most:,.2f} USDT a symbol, below {below}: "
            f"nothing will trade; {fix}")
