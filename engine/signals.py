"""The strategy as the engine sees it: one call per minute for the whole universe.

A bad bar never reaches the strategy (nor the portfolio's marks), and a strategy failure
for one symbol is returned as that symbol's error; the others still get their signals.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import strategy
from engine.model import Bar

Result = Mapping[str, Any] | None


def bar_problem(bar: Bar) -> str | None:
    """Why this bar must not be used, or None."""
    o, h, l, c, v, t = bar.open, bar.high, bar.low, bar.close, bar.volume, bar.taker_buy_volume
    try:
        total = o + h + l + c + v + t + bar.funding_rate
        # The common case in one test: all finite (a NaN or inf makes the sum fail x - x == 0).
        if total - total == 0.0 and min(o, h, l, c) > 0 and h >= l and v >= 0 and t >= 0:
            return None
    except TypeError:
        pass
    for name in ("open", "high", "low", "close", "volume", "taker_buy_volume", "funding_rate"):
        value = getattr(bar, name)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{name} is {value!r}"
    if min(bar.open, bar.high, bar.low, bar.close) <= 0:
        return "a price is not positive"
    if bar.high < bar.low:
        return f"high {bar.high} is below low {bar.low}"
    if bar.volume < 0 or bar.taker_buy_volume < 0:
        return "volume is negative"
    return None


class StrategyRunner:
    def __init__(self, symbols: list[str], params: Mapping[str, Any]) -> None:
        self.warmup_bars = strategy.warmup_bars(params)
        self._panel = strategy.FactorPanel(symbols, params)
        self._seen = dict.fromkeys(symbols, 0)

    def progress(self, symbol: str) -> float:
        return min(1.0, self._seen.get(symbol, 0) / self.warmup_bars) if self.warmup_bars else 1.0

    def ready(self, symbol: str) -> bool:
        return self._seen.get(symbol, 0) >= self.warmup_bars

    def warm(self, stamps: list, inputs, present) -> None:
        """Advance every symbol through a warm-up history at once (see FactorPanel.warm): `inputs`
        (minutes, strategy.INPUT_COLUMNS, symbols) and `present` (minutes, symbols) in the
        runner's symbol order, checked beforehand."""
        self._panel.warm(stamps, inputs, present)
        for symbol, count in zip(self._panel.symbols, present.sum(axis=0).tolist()):
            self._seen[symbol] += count

    def update(self, bars: Mapping[str, Bar]) -> tuple[dict[str, Result], dict[str, str]]:
        """One minute's bars -> (results by symbol, error message by symbol)."""
        inputs = {s: b.as_strategy_input() for s, b in bars.items()}
        errors: dict[str, str] = {}
        results: dict[str, Result] = {}
        while inputs:
            try:
                results = dict(self._panel.update(inputs))
                break
            except strategy.InvalidBarError as e:
                # The panel names the culprit and changes no state: drop it and go again.
                culprit = str(e).split(":", 1)[0]
                if culprit not in inputs:
                    results = self._one_by_one(inputs, errors)
                    break
                del inputs[culprit]
                errors[culprit] = _describe(e)
            except Exception:  # noqa: BLE001 - find which symbols fail, keep the others
                results = self._one_by_one(inputs, errors)
                break
        for symbol in results:
            if symbol in self._seen:
                self._seen[symbol] += 1
        return results, errors

    def _one_by_one(self, inputs: dict[str, dict], errors: dict[str, str]) -> dict[str, Result]:
        results: dict[str, Result] = {}
        for symbol, row in inputs.items():
            try:
                results.update(self._panel.update({symbol: row}))
            except Exception as e:  # noqa: BLE001 - any failure is that symbol's alone
                errors[symbol] = _describe(e)
        return results


def _describe(error: Exception) -> str:
    if isinstance(error, strategy.InvalidBarError):
        return f"bar rejected by the strategy: {error}"
    return f"strategy failed: {type(error).__name__}: {error}"
