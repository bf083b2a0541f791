"""Skipping the minutes that cannot change anything changes nothing: every fill, funding payment,
breaker trip and the final equity equal a run that steps every minute."""
from __future__ import annotations

from decimal import Decimal

import pytest

from engine.backtest import runner
from engine.backtest.data import DecimalPrices, sim_data
from engine.backtest.factors import compute_targets
from tests.engine.support import make_config


def _everything(outcome):
    fills = [(m, f.symbol, f.side, f.quantity, f.price, f.fee, f.realized_pnl) for m, f in outcome.recorded.fills]
    funding = [(m, p.symbol, p.amount) for m, p in outcome.recorded.funding]
    return fills, funding, outcome.recorded.notes, outcome.final_equity, outcome.positions


@pytest.mark.parametrize("symbols, risk, caps", [
    (["BTCUSDT"], {"daily_loss_limit": 0, "max_drawdown": 0}, {}),
    (["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"], {"daily_loss_limit": 0, "max_drawdown": 0}, {}),
    (["BTCUSDT", "ETHUSDT", "SOLUSDT"], {"daily_loss_limit": 0.01, "max_drawdown": 0}, {}),
    (["ETHUSDT", "DOGEUSDT"], {"daily_loss_limit": 0, "max_drawdown": 0.02},
     {"max_position_risk_per_trade": 0.2, "max_total_risk_exposure": 0.25}),
    # Enough symbols that the engine is handed only those the screen cannot rule out.
    ([f"S{n:02d}USDT" for n in range(30)], {"daily_loss_limit": 0, "max_drawdown": 0},
     {"max_position_risk_per_trade": 0.02, "max_total_risk_exposure": 0.3}),
])
def test_skipping_quiet_minutes_changes_nothing(symbols, risk, caps):
    config = make_config(risk=risk, **caps)
    data = sim_data(symbols, 11, 4000 if len(symbols) < 10 else 2600)
    # A stretch with no bar for one symbol and one with none at all.
    data.fields["close"][1500:1600, 0] = float("nan")
    keep = [i for i in range(len(data.times)) if not 2500 <= i < 2520]
    data.times = data.times[keep]
    data.fields = {name: values[keep] for name, values in data.fields.items()}
    targets = compute_targets(data, config.strategy_params())
    skipping = runner.run(config, data, targets, skip_quiet=True)
    stepping = runner.run(config, data, targets, skip_quiet=False)
    assert stepping.stepped == len(data.times) and skipping.stepped < len(data.times)
    assert len(stepping.recorded.fills) > 20
    assert _everything(skipping) == _everything(stepping)


def test_prices_become_the_engines_own_decimals_and_their_cache_stays_small(monkeypatch):
    monkeypatch.setattr(DecimalPrices, "KEPT", 3)
    exact = DecimalPrices()
    prices = [0.1, 2.5, 1e-05, 65000.1, 0.1, 2.5, 3.0]
    made = [exact[p] for p in prices]
    assert [str(d) for d in made] == [str(Decimal(repr(p))) for p in prices]  # value and exponent
    assert len(exact) <= 3


def test_targets_on_several_threads_equal_one_thread_bit_for_bit():
    config = make_config()
    data = sim_data(["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"], 4, 1500)
    data.fields["close"][700:760, 2] = float("nan")  # one symbol with a gap: rows differ per symbol
    reported = []
    one = compute_targets(data, config.strategy_params(), threads=1)
    three = compute_targets(data, config.strategy_params(), reported.append, threads=3)
    assert one.target.tobytes() == three.target.tobytes()
    assert reported == [1500, 1500, 1440, 1500, 1500]  # in symbol order, from the caller's thread
