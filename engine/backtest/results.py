"""What a backtest produced, as numbers a person wants: the equity curve, the summary, per symbol.

Money that the engine booked (fills, fees, funding, final equity) is reported exactly, from the
Decimal portfolio. The curve between fills is the book marked at each minute's close, in
floats: it feeds the ratios and the charts, never the trades.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from engine.backtest.data import MINUTE_NS, MarketData
from engine.backtest.runner import RunOutcome

DAYS_PER_YEAR = 365  # perpetual futures trade every day
SUMMARY_ROWS = (
    ("Total return", "total_return", "pct"), ("Annualised return", "annual_return", "pct"),
    ("Annualised volatility", "annual_volatility", "pct"), ("Sharpe (daily)", "sharpe", "num"),
    ("Sortino (daily)", "sortino", "num"), ("Max drawdown", "max_drawdown", "pct"),
    ("Max drawdown duration (days)", "max_drawdown_days", "num"), ("Turnover (x mean equity)", "turnover", "num"),
    ("Fees (USDT)", "fees", "money"), ("Funding (USDT)", "funding", "money"), ("Trades", "trades", "int"),
    ("Win rate", "win_rate", "pct"), ("Mean exposure (gross / equity)", "exposure", "pct"),
    ("Time in market", "time_in_market", "pct"), ("Final equity (USDT)", "final_equity", "money"),
)


def format_value(value, kind: str) -> str:
    if kind == "pct":
        return f"{float(value):.2%}"
    if kind == "money":
        return f"{float(value):,.2f}"
    if kind == "int":
        return f"{int(value):,}"
    return f"{float(value):.2f}"


@dataclass
class Curve:
    times: np.ndarray  # int64 ns: each minute's close time
    equity: np.ndarray
    gross: np.ndarray  # gross notional held
    held: np.ndarray  # (minutes, symbols) signed quantity


def equity_curve(data: MarketData, outcome: RunOutcome) -> Curve:
    shape = data.fields["close"].shape
    cash_flow = np.zeros(shape[0])
    held = np.zeros(shape)
    column = {s: j for j, s in enumerate(data.symbols)}
    for minute, fill in outcome.recorded.fills:
        signed = float(fill.quantity) * fill.side.sign
        held[minute, column[fill.symbol]] += signed
        cash_flow[minute] -= signed * float(fill.price) + float(fill.fee)
    for minute, payment in outcome.recorded.funding:
        cash_flow[minute] += float(payment.amount)
    held = np.cumsum(held, axis=0)
    held[np.abs(held) < 1e-12] = 0.0
    prices = pd.DataFrame(data.fields["close"]).ffill().fillna(0.0).to_numpy()
    notional = held * prices
    equity = float(outcome.capital) + np.cumsum(cash_flow) + notional.sum(axis=1)
    return Curve(data.times + MINUTE_NS, equity, np.abs(notional).sum(axis=1), held)


def _max_drawdown(times: np.ndarray, equity: np.ndarray) -> tuple[float, float]:
    """(deepest fall from a high as a fraction, days from that high until it was regained or the end)."""
    peaks = np.maximum.accumulate(equity)
    dd = np.where(peaks > 0, 1 - equity / peaks, 0.0)
    if not len(dd) or dd.max() <= 0:
        return 0.0, 0.0
    bottom = int(np.argmax(dd))
    start = int(np.flatnonzero(equity[:bottom + 1] >= peaks[bottom])[-1])
    after = np.flatnonzero(equity[bottom:] >= peaks[bottom])
    end = bottom + int(after[0]) if len(after) else len(equity) - 1
    return float(dd[bottom]), (int(times[end]) - int(times[start])) / (86_400 * 1e9)


def daily_returns(curve: Curve, capital: float) -> pd.Series:
    equity = pd.Series(curve.equity, index=pd.DatetimeIndex(curve.times, tz="UTC"))
    closes = equity.resample("1D").last().dropna()
    return pd.concat([pd.Series([capital]), closes.reset_index(drop=True)]).pct_change().dropna()


def summary(data: MarketData, outcome: RunOutcome, curve: Curve) -> dict:
    capital = float(outcome.capital)
    final = outcome.final_equity
    days = max((int(curve.times[-1]) - int(data.times[0])) / (86_400 * 1e9), 1 / 1440)
    total = float(final) / capital - 1
    annual = (1 + total) ** (DAYS_PER_YEAR / days) - 1 if total > -1 else -1.0
    returns = daily_returns(curve, capital)
    std = float(returns.std(ddof=1)) if len(returns) > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(returns.to_numpy(), 0.0) ** 2))) if len(returns) else 0.0
    mean = float(returns.mean()) if len(returns) else 0.0
    sharpe = mean / std * math.sqrt(DAYS_PER_YEAR) if std > 0 else 0.0
    sortino = mean / downside * math.sqrt(DAYS_PER_YEAR) if downside > 0 else 0.0
    max_dd, dd_days = _max_drawdown(curve.times, curve.equity)
    fills = [f for _, f in outcome.recorded.fills]
    traded = sum((f.quantity * f.price for f in fills), Decimal(0))
    closing = [f for f in fills if f.realized_pnl != 0]
    wins = sum(1 for f in closing if f.realized_pnl > 0)
    exposure = np.where(curve.equity > 0, curve.gross / np.where(curve.equity > 0, curve.equity, 1), 0.0)
    return {
        "start": _iso(int(data.times[0])),
        "end": _iso(int(curve.times[-1])),
        "days": round(days, 4),
        "symbols": list(data.symbols),
        "bars": data.bars,
        "capital": str(outcome.capital),
        "final_equity": str(final),
        "total_return": total,
        "annual_return": annual,
        "annual_volatility": std * math.sqrt(DAYS_PER_YEAR),
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": max_dd,
        "max_drawdown_days": round(dd_days, 4),
        "turnover": float(traded) / float(np.mean(curve.equity)) if len(curve.equity) else 0.0,
        "traded_notional": str(traded),
        "fees": str(outcome.fees),
        "funding": str(outcome.funding),
        "realized": str(outcome.realized),
        "trades": len(fills),
        "win_rate": wins / len(closing) if closing else 0.0,
        "exposure": float(exposure.mean()) if len(exposure) else 0.0,
        "time_in_market": float((curve.gross > 0).mean()) if len(curve.gross) else 0.0,
        "open_positions": len(outcome.positions),
        "notes": [f"{data.time(minute) + timedelta(minutes=1):%Y-%m-%d %H:%M} {message}"
                  for minute, message in outcome.recorded.notes[:50]],
    }


def per_symbol(data: MarketData, outcome: RunOutcome) -> list[dict]:
    zero = Decimal(0)
    rows = {s: {"symbol": s, "trades": 0, "traded": zero, "realized": zero, "fees": zero, "funding": zero,
                "unrealized": zero, "wins": 0, "closing": 0} for s in data.symbols}
    for _, fill in outcome.recorded.fills:
        row = rows[fill.symbol]
        row["trades"] += 1
        row["traded"] += fill.quantity * fill.price
        row["realized"] += fill.realized_pnl
        row["fees"] += fill.fee
        if fill.realized_pnl != 0:
            row["closing"] += 1
            row["wins"] += fill.realized_pnl > 0
    for _, payment in outcome.recorded.funding:
        rows[payment.symbol]["funding"] += payment.amount
    for symbol, (_, _, unrealized) in outcome.positions.items():
        rows[symbol]["unrealized"] = unrealized
    out = []
    for row in rows.values():
        net = row["realized"] + row["unrealized"] - row["fees"] + row["funding"]
        out.append({"symbol": row["symbol"], "trades": row["trades"], "traded_notional": str(row["traded"]),
                    "realized": str(row["realized"]), "unrealized": str(row["unrealized"]),
                    "fees": str(row["fees"]), "funding": str(row["funding"]), "net_pnl": str(net),
                    "win_rate": row["wins"] / row["closing"] if row["closing"] else 0.0})
    return out


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
