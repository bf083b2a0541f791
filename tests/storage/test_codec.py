from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from storage.codec import ValueProblem, canonical, money, money_text, real, to_decimal, to_utc, ts_text, utc_naive


@given(st.decimals(min_value=Decimal("-1e20") + 1, max_value=Decimal("1e20") - 1, places=18,
                   allow_nan=False, allow_infinity=False))
def test_money_text_round_trip_is_exact(d):
    stored = money_text(money(d))
    assert to_decimal(stored) == d
    assert str(to_decimal(stored)) == str(canonical(d))


@pytest.mark.parametrize("text", ["99999999999999999999.999999999999999999", "-99999999999999999999.999999999999999999",
                                  "0.000000000000000001", "1000000.12345678"])
def test_money_edges_round_trip(text):
    assert to_decimal(money_text(money(Decimal(text)))) == Decimal(text)


def test_canonical_forms():
    assert str(canonical(Decimal("1.500000000000000000"))) == "1.5"
    assert str(canonical(Decimal("1E+2"))) == "100"
    assert str(canonical(Decimal("-0.000"))) == "0"
    assert str(canonical(Decimal("0.00000001"))) == "1E-8"  # exact; shown with format(..., 'f') by the report
    assert money_text(money(Decimal("0.00000001"))) == "0.00000001"


def test_money_rounds_beyond_18_places_half_even():
    assert money(Decimal("0.0000000000000000015")) == Decimal("0.000000000000000002")
    assert money(Decimal("0.0000000000000000025")) == Decimal("0.000000000000000002")


@pytest.mark.parametrize("bad", [Decimal("1e20"), Decimal("-123456789012345678901"), Decimal("NaN"),
                                 Decimal("Infinity"), "abc"])
def test_money_rejects_what_does_not_fit_and_names_the_column(bad):
    with pytest.raises(ValueProblem, match="trades.price"):
        money(bad, "trades.price")


def test_floats_that_databases_reject_become_null():
    assert real(float("nan")) is None and real(float("inf")) is None and real(None) is None
    assert real(0.25) == 0.25


def test_timestamps_are_naive_utc_text_that_sorts():
    ts = datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    assert utc_naive(ts) == datetime(2025, 1, 2, 1, 4, 5, 6)
    assert ts_text(ts) == "2025-01-02 01:04:05.000006"
    assert ts_text(datetime(2025, 1, 2)) == "2025-01-02 00:00:00.000000"  # fixed width: text order is time order
    assert to_utc("2025-01-02 01:04:05.000006") == ts.astimezone(timezone.utc)
