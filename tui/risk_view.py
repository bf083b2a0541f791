"""The risk pane's figures, from what the desk already holds: the open positions, the latest
equity, the equity the market day opened with, and the config's caps and breakers.

    gross = sum |notional|            net = sum notional
    gross cap = max_total_risk_exposure x leverage x equity
    per-symbol cap = max_position_risk_per_trade x leverage x equity
    margin used = sum |notional| / leverage of each position; free = equity - used
    daily loss trips at day open x (1 - daily_loss_limit); drawdown at peak x (1 - max_drawdown)
    liquidation price: paper computes it (engine/liquidation.py); testnet and live take the exchange's
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable

from engine.config import Config
from engine.events import EquityUpdate, PositionUpdate
from engine.liquidation import liquidation_price
from engine.model import Mode


@dataclass(frozen=True)
class Breaker:
    name: str
    reference: Decimal  # day open or peak
    trips_at: Decimal | None  # None: disabled
    distance: Decimal | None  # equity - trips_at (USDT)

    @property
    def distance_pct(self) -> Decimal | None:
        if self.distance is None or self.reference <= 0:
            return None
        return self.distance / self.reference


@dataclass(frozen=True)
class PositionRisk:
    symbol: str
    notional: Decimal
    cap_use: Decimal | None  # |notional| / per-symbol cap
    liquidation: Decimal | None
    liquidation_distance: Decimal | None  # (liquidation - mark) / mark, signed


@dataclass(frozen=True)
class RiskFigures:
    equity: Decimal
    gross: Decimal
    net: Decimal
    gross_cap: Decimal
    margin_used: Decimal
    breakers: tuple[Breaker, ...]
    positions: tuple[PositionRisk, ...]

    @property
    def gross_use(self) -> Decimal | None:
        return self.gross / self.gross_cap if self.gross_cap > 0 else None

    @property
    def margin_free(self) -> Decimal:
        return self.equity - self.margin_used


class DayOpen:
    """The equity the current market day opened with: the last point before the day began,
    else the day's first (as the daily loss breaker counts it)."""

    def __init__(self) -> None:
        self.day: date | None = None
        self.equity: Decimal | None = None
        self._last: Decimal | None = None

    def see(self, ts: datetime, equity: Decimal) -> None:
        if ts.date() != self.day:
            self.day = ts.date()
            self.equity = self._last if self._last is not None else equity
        self._last = equity


def _breaker(name: str, reference: Decimal | None, limit: float, equity: Decimal) -> Breaker:
    if reference is None or limit <= 0:
        return Breaker(name, reference or Decimal(0), None, None)
    trips_at = reference * (1 - Decimal(str(limit)))
    return Breaker(name, reference, trips_at, equity - trips_at)


def position_liquidation(p: PositionUpdate) -> Decimal | None:
    """Paper computes it from Binance's brackets; testnet and live show only the exchange's figure
    (None until the exchange was read for this quantity)."""
    if p.mode is Mode.PAPER:
        return liquidation_price(p.symbol, p.quantity, p.entry_price, p.leverage)
    return p.liquidation_price


def risk_figures(config: Config, positions: Iterable[PositionUpdate], equity: EquityUpdate | None,
                 day_open: Decimal | None) -> RiskFigures | None:
    if equity is None:
        return None
    e = equity.equity
    unit = Decimal(config.leverage) * e
    per_symbol_cap = Decimal(str(config.max_position_risk_per_trade)) * unit
    rows = []
    gross = net = used = Decimal(0)
    for p in sorted(positions, key=lambda p: -abs(p.notional)):
        notional = p.notional
        gross += abs(notional)
        net += notional
        used += abs(notional) / Decimal(max(p.leverage, 1))
        liq = position_liquidation(p)
        distance = (liq - p.mark_price) / p.mark_price if liq is not None and p.mark_price > 0 else None
        rows.append(PositionRisk(p.symbol, notional, abs(notional) / per_symbol_cap if per_symbol_cap > 0 else None,
                                 liq, distance))
    breakers = (_breaker("daily loss", day_open, config.risk.daily_loss_limit, e),
                _breaker("drawdown", equity.peak, config.risk.max_drawdown, e))
    return RiskFigures(e, gross, net, Decimal(str(config.max_total_risk_exposure)) * unit, used, breakers,
                       tuple(rows))
