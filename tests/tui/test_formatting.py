"""Numbers as the desk prints them: gains and losses read without colour."""
from decimal import Decimal

from tui import formatting as fmt


def test_gains_and_losses_carry_an_arrow_and_a_sign():
    assert fmt.signed_usd(Decimal("12.5")) == "▲+12.50"
    assert fmt.signed_usd(Decimal("-3")) == "▼-3.00"
    assert fmt.signed_usd(Decimal("0")) == " +0.00"
    assert fmt.signed_pct(0.0123) == "▲+1.23%"
    assert fmt.signed_pct(-0.0005) == "▼-0.05%"


def test_missing_values_show_a_dash_not_nan():
    for text in (fmt.price(None), fmt.price(float("nan")), fmt.factor(float("nan")), fmt.number(None),
                 fmt.signed_pct(None), fmt.usd(None), fmt.notional(None)):
        assert text == fmt.MISSING


def test_prices_keep_enough_digits_for_any_coin():
    assert fmt.price(95123.456) == "95,123.46"
    assert fmt.price(3.14159) == "3.1416"
    assert fmt.price(0.000123456) == "0.000123456"


def test_strategy_values_booleans_and_extremes():
    assert fmt.number(True) == "yes" and fmt.number(False) == "no"
    assert fmt.number(0.5) == "+0.5000"
    assert fmt.number(123456.0) == "+1.235e+05"
    assert fmt.number(0.00001) == "+1.000e-05"


def test_quantities_and_notionals():
    assert fmt.quantity(Decimal("0.5000")) == "0.5"
    assert fmt.quantity(Decimal("10")) == "10"
    assert fmt.quantity(Decimal("0.00000001")) == "0.00000001"  # a step size is shown as it is
    # A skipped order's unrounded wish is not shown to 28 places.
    assert fmt.quantity(Decimal("0.6232204998418222081619740588")) == "≈0.62322"
    assert fmt.quantity(Decimal("1234.5678901234567")) == "≈1234.57"
    assert fmt.notional(Decimal("-1234.4")) == "-1,234"
    assert fmt.fraction_pct(Decimal("0.0123")) == "1.23%"


def test_status_words():
    assert fmt.status("warming", 0.456) == "warm 46%"
    assert fmt.status("paused", 1.0) == "paused"
