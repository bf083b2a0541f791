"""The strategy as the engine sees it: one call per minute for the whole universe.

A bad bar never reaches the strategy (nor the portfolio's marks), and a strategy failure
for one symbol is returned as that symbol's error; the others still get their signals.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

import strategy
from engine.model import Bar
from engine.warmup import strategy_inputs

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


# Up to this many symbols one FactorStream per symbol is cheaper than the panel, whose numpy
# calls cost about 0.85 ms a minute whatever the size. Measured by benchmarks/kernels.py: per live
# minute, streams 0.16 ms at 8 symbols, 0.73 at 32, 1.14 at 48; the panel 0.85, 0.90, 0.92.
STREAMS_UP_TO = 40


class _Streams:
    """One FactorStream per symbol: a small universe does not pay the panel's fixed cost."""

    def __init__(self, symbols: list[str], params: Mapping[str, Any]) -> None:
        self.symbols = tuple(symbols)
        self._streams = {s: strategy.FactorStream(params) for s in symbols}

    def warm(self, stamps: list, inputs, present) -> None:
        for j, symbol in enumerate(self.symbols):
            rows = present[:, j].nonzero()[0]
            if len(rows):
                self._streams[symbol].warm([stamps[t] for t in rows.tolist()], inputs[rows, :, j])

    def update(self, bars: Mapping[str, Bar], errors: dict[str, str]) -> dict[str, Result]:
        results: dict[str, Result] = {}
        streams = self._streams
        for symbol, bar in bars.items():
            try:
                results[symbol] = streams[symbol].update(bar.as_strategy_input())  # a bad bar changes nothing
            except Exception as e:  # noqa: BLE001 - any failure is that symbol's alone
                errors[symbol] = _describe(e)
        return results


class _Panel:
    """One FactorPanel for the universe: vectorised, for many symbols."""

    def __init__(self, symbols: list[str], params: Mapping[str, Any]) -> None:
        self._panel = strategy.FactorPanel(symbols, params)
        self.symbols = self._panel.symbols

    def warm(self, stamps: list, inputs, present) -> None:
        self._panel.warm(stamps, inputs, present)

    def update(self, bars: Mapping[str, Bar], errors: dict[str, str]) -> dict[str, Result]:
        while bars:
            try:
                return dict(self._panel.update_columns(*_columns(bars)))
            except strategy.InvalidBarError as e:
                # The panel names the culprit and changes no state: drop it and go again.
                culprit = str(e).split(":", 1)[0]
                if culprit not in bars:
                    return self._one_by_one(bars, errors)
                bars = {s: bar for s, bar in bars.items() if s != culprit}
                errors[culprit] = _describe(e)
            except Exception:  # noqa: BLE001 - find which symbols fail, keep the others
                return self._one_by_one(bars, errors)
        return {}

    def _one_by_one(self, bars: Mapping[str, Bar], errors: dict[str, str]) -> dict[str, Result]:
        results: dict[str, Result] = {}
        for symbol, bar in bars.items():
            try:
                results.update(self._panel.update_columns(*_columns({symbol: bar})))
            except Exception as e:  # noqa: BLE001 - any failure is that symbol's alone
                errors[symbol] = _describe(e)
        return results


def _columns(bars: Mapping[str, Bar]) -> tuple[list[str], np.ndarray, list]:
    """A minute's bars as the panel's columns: names, inputs (strategy.INPUT_COLUMNS x symbols)
    and open times. Read from the Bar tuples in one array call: a mapping per bar, each read back
    field by field, cost three times as much at 500 symbols."""
    listed = list(bars.values())
    fields = np.array([bar[2:] for bar in listed], dtype=np.float64).T  # a Bar's order after symbol, ts
    return list(bars), strategy_inputs(fields), [bar.ts for bar in listed]


class StrategyRunner:
    """The strategy for the universe, on the kernel that suits its size (`kernel`: "streams" or
    "panel" to choose; both give the same numbers, tests/engine/test_strategy_kernels.py)."""

    def __init__(self, symbols: list[str], params: Mapping[str, Any], kernel: str | None = None) -> None:
        self.warmup_bars = strategy.warmup_bars(params)
        if kernel is None:
            kernel = "streams" if len(symbols) <= STREAMS_UP_TO else "panel"
        self.kernel = kernel
        self._kernel = (_Streams if kernel == "streams" else _Panel)(list(symbols), params)
        self._seen = dict.fromkeys(symbols, 0)

    def progress(self, symbol: str) -> float:
        return min(1.0, self._seen.get(symbol, 0) / self.warmup_bars) if self.warmup_bars else 1.0

    def ready(self, symbol: str) -> bool:
        return self._seen.get(symbol, 0) >= self.warmup_bars

    def warm(self, stamps: list, inputs, present) -> None:
        """Advance every symbol through a warm-up history at once, as stepping through it would:
        `inputs` (minutes, strategy.INPUT_COLUMNS, symbols) and `present` (minutes, symbols) in
        the runner's symbol order, checked beforehand."""
        self._kernel.warm(stamps, inputs, present)
        for symbol, count in zip(self._kernel.symbols, present.sum(axis=0).tolist()):
            self._seen[symbol] += count

    def update(self, bars: Mapping[str, Bar]) -> tuple[dict[str, Result], dict[str, str]]:
        """One minute's bars -> (results by symbol, error message by symbol)."""
        errors: dict[str, str] = {}
        results = self._kernel.update(bars, errors)
        for symbol in results:
            if symbol in self._seen:
                self._seen[symbol] += 1
        return results, errors


def _describe(error: Exception) -> str:
    if isinstance(error, strategy.InvalidBarError):
        return f"bar rejected by the strategy: {error}"
    return f"strategy failed: {type(error).__name__}: {error}"
