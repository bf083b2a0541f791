"""An idle book explains itself: signals say `below band` / `below min notional`, and a start
on too little capital for the universe says so in one line."""
from decimal import Decimal

from engine.events import EngineError
from engine.idle import BELOW_BAND, BELOW_MIN_NOTIONAL, funding_hint, idle_status
from tests.engine.support import Harness, make_config

D = Decimal


def test_idle_status_names_the_threshold_that_holds_an_empty_book():
    assert idle_status(D(10), D(0), D(5), D(20), False) == BELOW_BAND
    assert idle_status(D(-3), D(0), D(5), D(2), False) == BELOW_MIN_NOTIONAL
    assert idle_status(D(60), D(0), D(100), D(20), False) == BELOW_MIN_NOTIONAL
    assert idle_status(D(25), D(0), D(5), D(20), False) == "active"  # it trades
    assert idle_status(D(0), D(0), D(5), D(20), False) == "active"  # nothing wanted
    assert idle_status(D(30), D(25), D(5), D(20), False) == "active"  # held: hysteresis at work
    assert idle_status(D(30), D(25), D(5), D(20), True) == BELOW_MIN_NOTIONAL  # its order was refused


def test_the_start_hint_says_why_nothing_will_trade_and_what_to_change():
    config = make_config(max_position_risk_per_trade=0.01, max_total_risk_exposure=0.1)
    hint = funding_hint(config, D(10000), [D(5)] * 500)
    assert hint == ("10,000 USDT over 500 symbols at the default caps is at most 10.00 USDT a symbol, below the 20 USDT "
                    "rebalance band (risk.rebalance_band_usd): nothing will trade; raise initial_capital_usd or "
                    "max_total_risk_exposure, or trade fewer symbols")
    tight = make_config(max_position_risk_per_trade=0.01, max_total_risk_exposure=0.1, risk={"rebalance_band_usd": 1})
    assert "below the 5 USDT minimum notional" in funding_hint(tight, D(10000), [D(5)] * 2000)
    small = make_config(max_position_risk_per_trade=0.0001, max_total_risk_exposure=1)
    assert funding_hint(small, D(10000), [D(5)] * 8).endswith("raise initial_capital_usd or max_position_risk_per_trade")
    assert funding_hint(config, D(10000), [D(5)] * 8) == ""


async def test_a_universe_too_wide_for_the_capital_is_explained_at_start_and_per_symbol():
    config = make_config(universe={"type": "all"}, sim={"symbols": 300}, max_position_risk_per_trade=0.01,
                         max_total_risk_exposure=0.1)
    async with Harness(config) as h:
        await h.step(3)
        hints = [e.message for e in h.of(EngineError) if "nothing will trade" in e.message]
        assert hints == ["10,000 USDT over 300 symbols at the default caps is at most 16.67 USDT a symbol, below the "
                         "20 USDT rebalance band (risk.rebalance_band_usd): nothing will trade; raise "
                         "initial_capital_usd or max_total_risk_exposure, or trade fewer symbols"]
        latest = {s.symbol: s for s in h.signals()}
        statuses = {s.status for s in latest.values()}
        assert BELOW_BAND in statuses and h.engine.snapshot().equity.trade_count == 0
        assert all(s.status in (BELOW_BAND, BELOW_MIN_NOTIONAL, "active") for s in latest.values())
        assert all(s.target_notional == 0 for s in latest.values() if s.status == "active")
