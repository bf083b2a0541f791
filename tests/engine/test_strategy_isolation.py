from datetime import datetime, timedelta, timezone

import pytest

from engine import signals
from engine.events import EngineError
from engine.model import Bar
from engine.signals import StrategyRunner
from tests.engine.support import FAST_STRATEGY, Harness


class Exploding:
    """Wraps the panel (any cycle containing `symbol` blows up) or that symbol's stream."""

    def __init__(self, inner, symbol: str) -> None:
        self.inner, self.symbol = inner, symbol

    def update(self, bars):
        if self.symbol in bars or "timestamp" in bars:
            raise ZeroDivisionError("boom")
        return self.inner.update(bars)

    def update_columns(self, names, values, stamps):
        if self.symbol in names:
            raise ZeroDivisionError("boom")
        return self.inner.update_columns(names, values, stamps)


@pytest.mark.parametrize("kernel", ["streams", "panel"])
async def test_a_strategy_exception_for_one_symbol_is_reported_and_the_rest_trade_on(kernel, monkeypatch):
    monkeypatch.setattr(signals, "STREAMS_UP_TO", 1000 if kernel == "streams" else 0)
    async with Harness() as h:
        runner = h.engine._runner
        assert runner.kernel == kernel
        if kernel == "panel":
            runner._kernel._panel = Exploding(runner._kernel._panel, "SOLUSDT")
        else:
            runner._kernel._streams["SOLUSDT"] = Exploding(runner._kernel._streams["SOLUSDT"], "SOLUSDT")
        await h.step(5)
        errors = h.of(EngineError, symbol="SOLUSDT")
        assert len(errors) == 5 and "strategy failed: ZeroDivisionError: boom" in errors[0].message
        fresh = [s for s in h.signals() if s.ts == h.engine.market_time()]
        assert {s.symbol for s in fresh} >= {"BTCUSDT", "ETHUSDT"}
        assert all(s.components for s in fresh if s.symbol != "SOLUSDT")
        assert h.engine.started


async def test_a_bad_bar_is_reported_and_skipped():
    async with Harness() as h:
        h.feed.inject("bad", "ETHUSDT")
        await h.step_until(lambda: bool(h.of(EngineError, symbol="ETHUSDT")), limit=3)
        (error,) = h.of(EngineError, symbol="ETHUSDT")
        assert "bad bar" in error.message and "close is nan" in error.message
        eth = h.engine.snapshot().signals["ETHUSDT"]
        assert eth.ts < h.engine.market_time()  # no signal from the bad bar
        await h.step(2)
        assert h.engine.snapshot().signals["ETHUSDT"].ts == h.engine.market_time()


def bar(symbol: str, minute: int) -> Bar:
    ts = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=minute)
    return Bar(symbol, ts, 100.0, 101.0, 99.0, 100.5, 10.0, 6.0, 0.0001)


def test_a_bar_the_strategy_rejects_costs_only_its_own_symbol():
    runner = StrategyRunner(["AUSDT", "BUSDT", "CUSDT"], {**FAST_STRATEGY, "target_signal_volatility": 0.2})
    runner.update({s: bar(s, 0) for s in ("AUSDT", "BUSDT", "CUSDT")})
    results, errors = runner.update({"AUSDT": bar("AUSDT", 1), "BUSDT": bar("BUSDT", 0), "CUSDT": bar("CUSDT", 1)})
    assert set(errors) == {"BUSDT"} and "rejected by the strategy" in errors["BUSDT"]
    assert set(results) == {"AUSDT", "CUSDT"}
    assert runner.progress("AUSDT") == 2 / runner.warmup_bars and runner.progress("BUSDT") == 1 / runner.warmup_bars
