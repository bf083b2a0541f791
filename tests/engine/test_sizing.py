import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.model import Instrument, Side
from engine.sizing import PlannedOrder, SizingLimits, _cents_toward_zero, plan_orders, target_notionals

D = Decimal
LIMITS = SizingLimits(leverage=D(5), per_symbol=D("0.01"), gross=D("0.10"), band_usd=D(20))
BTC = Instrument("BTCUSDT", D("0.1"), D("0.001"), D("0.001"), D(100))
SOL = Instrument("SOLUSDT", D("0.01"), D("1"), D("1"), D(5))


def test_target_is_factor_times_leverage_times_equity_within_the_per_symbol_cap():
    targets = target_notionals({"A": 0.005, "B": -0.3, "C": 7.0}, D(10000), LIMITS)
    assert targets["A"] == D("250.00")  # 0.005 x 5 x 10000
    assert targets["B"] == D("-500.00")  # capped at 0.01 x 5 x 10000
    assert targets["C"] == D("500.00")  # clipped to 1, then capped


def test_factor_clip_applies_before_the_caps():
    loose = SizingLimits(D(2), D(1), D(10), D(0))
    assert target_notionals({"A": 3.0, "B": -0.5}, D(1000), loose) == {"A": D("2000.00"), "B": D("-1000.00")}


def test_gross_cap_scales_every_target_down_proportionally():
    factors = {f"S{i}": (0.02 if i % 2 else -0.02) for i in range(40)}  # 40 x 500 = 20000 wanted
    targets = target_notionals(factors, D(10000), LIMITS)
    assert sum(abs(t) for t in targets.values()) <= D(5000)  # 0.10 x 5 x 10000
    assert targets["S1"] == D(125) and targets["S0"] == D(-125)


def test_positions_not_traded_use_up_the_gross_budget():
    targets = target_notionals({"A": 1.0, "B": 1.0}, D(10000), LIMITS, held_gross=D(4500))
    assert sum(targets.values()) == D(500)


def test_only_some_symbols_get_the_targets_all_of_them_would_with_the_budget_still_shared():
    factors = {f"S{i}": (0.02 if i % 3 else -0.013) for i in range(40)}
    every = target_notionals(factors, D(10000), LIMITS, held_gross=D(700))
    some = target_notionals(factors, D(10000), LIMITS, held_gross=D(700), only={"S3", "S4", "X"})
    assert some == {"S3": every["S3"], "S4": every["S4"]} and every["S3"] != D(-65)  # scaled by the gross cap
    assert target_notionals(factors, D(0), LIMITS, only={"S1"}) == {"S1": D(0)}


def test_no_equity_means_no_exposure():
    assert target_notionals({"A": 1.0}, D(0), LIMITS) == {"A": D(0)}
    assert target_notionals({"A": float("nan")}, D(10000), LIMITS) == {"A": D(0)}


def test_hysteresis_skips_changes_below_the_band_and_min_notional():
    # BTC at 100000: min notional 100 beats the 20 USDT band
    assert plan_orders(BTC, D("0.001"), D(100000), D(199), LIMITS.band_usd).orders == ()
    plan = plan_orders(BTC, D("0.001"), D(100000), D(205), LIMITS.band_usd)
    assert plan.orders == (PlannedOrder(Side.BUY, D("0.001"), False),)
    # SOL: min notional 5, so the band rules
    assert plan_orders(SOL, D(1), D(10), D(29), D(20)).orders == ()
    assert plan_orders(SOL, D(1), D(10), D(31), D(20)).orders == (PlannedOrder(Side.BUY, D(2), False),)


def test_a_close_to_zero_always_trades_even_below_the_band():
    plan = plan_orders(SOL, D(1), D(10), D(0), D(20))
    assert plan.orders == (PlannedOrder(Side.SELL, D(1), True),)


def test_reductions_are_reduce_only_and_on_the_step():
    plan = plan_orders(BTC, D("0.010"), D(50000), D("201.7"), D(20))
    assert plan.orders == (PlannedOrder(Side.SELL, D("0.005"), True),)


def test_an_opening_below_min_notional_is_skipped_and_explained():
    # 170 USDT passes the band, but 0.00188 BTC truncates to 0.001 BTC = 90 USDT < 100
    plan = plan_orders(BTC, D(0), D(90000), D(170), D(20))
    assert plan.orders == ()
    assert "BTCUSDT" in plan.skipped and "minimum notional" in plan.skipped
    assert plan.skipped_side is Side.BUY


def test_a_flip_closes_reduce_only_then_opens():
    plan = plan_orders(SOL, D(3), D(10), D(-50), D(20))
    assert plan.orders == (PlannedOrder(Side.SELL, D(3), True), PlannedOrder(Side.SELL, D(5), False))


@pytest.mark.parametrize("qty,target,expected", [
    (D(0), D(500), ()),  # no entry
    (D(10), D(500), ()),  # no growth
    (D(10), D(-500), (PlannedOrder(Side.SELL, D(10), True),)),  # no flip: just close
    (D(10), D(40), (PlannedOrder(Side.SELL, D(6), True),)),  # reductions still allowed
])
def test_halted_entries_only_shrink_positions(qty, target, expected):
    assert plan_orders(SOL, qty, D(10), target, D(20), entries_allowed=False).orders == expected


@given(st.one_of(st.floats(-1e13, 1e13, allow_nan=False),
                 st.integers(-10**9, 10**9).map(lambda c: c / 100),
                 st.tuples(st.integers(-10**7, 10**7), st.floats(-1e-7, 1e-7)).map(lambda p: p[0] / 100 + p[1])))
def test_whole_cents_skip_the_rounding_only_where_it_changes_nothing(value):
    # What _cents_toward_zero computed before its quick path: round to 6 places, then drop the fraction.
    cents = math.floor(round(abs(value) * 100, 6))
    expected = D(cents if value >= 0 else -cents) * D("0.01")
    got = _cents_toward_zero(value)
    assert got == expected and str(got) == str(expected)
