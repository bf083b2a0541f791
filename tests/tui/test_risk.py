"""The risk pane's figures and what it shows."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from engine.events import EquityUpdate, PositionUpdate
from engine.liquidation import liquidation_price
from engine.model import Mode
from tests.engine.support import make_config
from tests.tui.conftest import shown, until
from tests.tui.fake_engine import FakeEngine
from tests.tui.test_desk_failures import desk
from tui.palette import Palette
from tui.risk_view import DayOpen, risk_figures
from tui.widgets.risk import risk_text

T0 = datetime(2026, 1, 1, 23, 58, tzinfo=timezone.utc)


def position(symbol: str, qty: str, price: str, leverage: int = 5) -> PositionUpdate:
    return PositionUpdate(Mode.PAPER, symbol, Decimal(qty), Decimal(price), Decimal(price), Decimal(0), leverage, T0)


def equity(value: str, peak: str) -> EquityUpdate:
    v = Decimal(value)
    return EquityUpdate(Mode.PAPER, T0, v, v, Decimal(0), Decimal(0), Decimal(0), Decimal(0), Decimal(peak),
                        Decimal(0), 0)


def test_exposure_margin_and_breaker_distances():
    config = make_config(leverage=5, max_total_risk_exposure=0.5, max_position_risk_per_trade=0.1,
                         risk={"daily_loss_limit": 0.05, "max_drawdown": 0.2})
    r = risk_figures(config, [position("BTCUSDT", "0.1", "100000"), position("ETHUSDT", "-2", "2500")],
                     equity("10000", "12000"), day_open=Decimal("10400"))
    assert (r.gross, r.net) == (Decimal(15000), Decimal(5000))
    assert r.gross_cap == Decimal(25000) and r.gross_use == Decimal("0.6")
    assert r.margin_used == Decimal(3000) and r.margin_free == Decimal(7000)
    daily, drawdown = r.breakers
    assert daily.trips_at == Decimal("9880.00") and daily.distance == Decimal("120.00")
    assert drawdown.trips_at == Decimal("9600.0") and drawdown.distance == Decimal("400.0")
    btc = next(p for p in r.positions if p.symbol == "BTCUSDT")
    assert btc.cap_use == Decimal("2") and btc.liquidation < Decimal(100000)
    text = str(risk_text(r, Palette()))
    assert "Gross 15.0k of 25.0k" in text and "60.0%" in text and "10.4k→9.9k: 120 (1.2%) away" in text
    assert "Daily loss" in text and "Drawdown" in text and "BTCUSDT" in text


def test_testnet_shows_the_exchanges_liquidation_price_and_paper_computes_it():
    config = make_config(leverage=5)
    exchange = PositionUpdate(Mode.TESTNET, "BTCUSDT", Decimal("0.1"), Decimal(100000), Decimal(100000), Decimal(0),
                              5, T0, liquidation_price=Decimal(81234))
    unread = PositionUpdate(Mode.TESTNET, "ETHUSDT", Decimal("-2"), Decimal(2500), Decimal(2500), Decimal(0), 5, T0)
    r = risk_figures(config, [exchange, unread], equity("10000", "10000"), day_open=None)
    btc, eth = sorted(r.positions, key=lambda p: p.symbol)
    assert btc.liquidation == Decimal(81234) and btc.liquidation_distance == Decimal("-0.18766")
    assert eth.liquidation is None and eth.liquidation_distance is None  # never a formula's guess on testnet
    paper = risk_figures(config, [position("ETHUSDT", "-2", "2500")], equity("10000", "10000"), day_open=None)
    assert paper.positions[0].liquidation == liquidation_price("ETHUSDT", Decimal(-2), Decimal(2500), 5)


def test_the_day_open_is_the_last_equity_before_the_market_day_began():
    day = DayOpen()
    day.see(T0, Decimal(100))
    day.see(T0 + timedelta(minutes=1), Decimal(101))
    assert day.equity == Decimal(100)
    day.see(T0 + timedelta(minutes=3), Decimal(99))  # 00:01 the next day
    assert day.equity == Decimal(101)


async def test_7_shows_the_risk_pane_at_80x24(tmp_path):
    engine = FakeEngine()
    app = desk(tmp_path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.desk.positions.open_count == 3, "three positions")
        from tests.tui.conftest import press
        await press(pilot, "7")
        await until(pilot, lambda: app.desk.shown_pane == "risk", "the risk pane is shown")
        figures = app.desk.query_one("#risk-figures")
        await until(pilot, lambda: "SOLUSDT" in shown(figures), "the positions' risk is shown")
        assert "Gross" in shown(figures) and "margin" in shown(figures)
