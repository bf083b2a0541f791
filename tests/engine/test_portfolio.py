from datetime import datetime, timezone
from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model import Fill, Mode, Side
from engine.portfolio import Portfolio

D = Decimal
TS = datetime(2026, 1, 1, tzinfo=timezone.utc)


def fill(side: Side, qty: str, price: str, fee: str = "0", symbol: str = "BTCUSDT") -> Fill:
    return Fill(Mode.PAPER, symbol, side, D(qty), D(price), D(fee), "USDT", TS, "c1", "t1")


def test_open_add_reduce_close_long():
    p = Portfolio(Mode.PAPER, D(1000))
    assert p.apply_fill(fill(Side.BUY, "2", "100")) == 0
    p.apply_fill(fill(Side.BUY, "2", "110"))
    assert p.positions["BTCUSDT"].entry_price == D(105)
    assert p.apply_fill(fill(Side.SELL, "1", "120")) == D(15)
    assert p.quantity("BTCUSDT") == D(3)
    assert p.apply_fill(fill(Side.SELL, "3", "100")) == D(-15)
    assert p.quantity("BTCUSDT") == 0 and p.positions["BTCUSDT"].cost == 0
    assert p.realized == 0 and p.trade_count == 4


def test_short_profits_when_price_falls():
    p = Portfolio(Mode.PAPER, D(1000))
    p.apply_fill(fill(Side.SELL, "2", "100"))
    p.mark_all({"BTCUSDT": D(90)})
    assert p.unrealized == D(20)
    assert p.apply_fill(fill(Side.BUY, "1", "90")) == D(10)
    assert p.unrealized == D(10)


def test_a_flip_realizes_the_old_side_and_opens_at_the_fill_price():
    p = Portfolio(Mode.PAPER, D(1000))
    p.apply_fill(fill(Side.BUY, "1", "100"))
    assert p.apply_fill(fill(Side.SELL, "3", "110")) == D(10)
    pos = p.positions["BTCUSDT"]
    assert pos.quantity == D(-2) and pos.entry_price == D(110)


def test_fees_and_funding_enter_equity():
    p = Portfolio(Mode.PAPER, D(1000))
    p.apply_fill(fill(Side.BUY, "2", "100", fee="0.1"))
    assert p.apply_funding(p.quantity("BTCUSDT"), D("0.0001"), D(100)) == D("-0.02")  # longs pay positive funding
    p.apply_fill(fill(Side.SELL, "4", "100", fee="0.2"))
    assert p.apply_funding(p.quantity("BTCUSDT"), D("0.0001"), D(100)) == D("0.02")  # shorts receive it
    assert p.equity == D(1000) - D("0.3") + D("0.00")


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]),
                          st.integers(1, 5000).map(lambda n: D(n) / 1000),
                          st.integers(1, 10**7).map(lambda n: D(n) / 100),
                          st.integers(-100, 100).map(lambda n: D(n) / 10**6)),
                min_size=1, max_size=40),
       st.integers(1, 10**7).map(lambda n: D(n) / 100))
def test_pnl_equals_the_cash_ledger_to_the_last_digit(trades, mark):
    """realized + unrealized - fees + funding == sum of cash flows + value of what is held."""
    p = Portfolio(Mode.PAPER, D(10000))
    cash = D(0)
    with localcontext() as ctx:
        ctx.prec = 80
        for side, qty, price, rate in trades:
            fee = qty * price * D("0.0005")
            p.apply_fill(fill(side, str(qty), str(price), str(fee)))
            cash += -qty * side.sign * price - fee
            cash += p.apply_funding(p.quantity("BTCUSDT"), rate, price)
        p.mark_all({"BTCUSDT": mark})
        held = p.quantity("BTCUSDT") * mark
        assert p.equity == D(10000) + cash + held
        assert p.equity == p.capital + p.realized + p.unrealized - p.fees + p.funding


def test_adopt_takes_the_venue_quantity():
    p = Portfolio(Mode.LIVE, D(0))
    p.adopt("ETHUSDT", D("-1.5"), D(3000), mark=D(2900))
    assert p.quantity("ETHUSDT") == D("-1.5")
    assert p.unrealized == D(150)
