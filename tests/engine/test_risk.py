from datetime import datetime, timezone
from decimal import Decimal

from engine.risk import DAILY, DRAWDOWN, Breakers

D = Decimal


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=timezone.utc)


def test_daily_loss_limit_uses_the_utc_days_opening_equity():
    b = Breakers(daily_loss_limit=0.05, max_drawdown=0)
    assert b.update(at(1), D(10000)) == []
    assert b.update(at(1, 5), D(9600)) == []
    tripped = b.update(at(1, 6), D(9500))
    assert len(tripped) == 1 and "daily loss limit" in tripped[0]
    assert b.tripped[DAILY] and not b.tripped[DRAWDOWN]
    assert b.update(at(1, 7), D(9000)) == []  # reported once


def test_a_new_day_rebases_the_daily_reference():
    b = Breakers(daily_loss_limit=0.05, max_drawdown=0)
    b.update(at(1), D(10000))
    b.update(at(1, 23), D(9600))
    b.update(at(2), D(9600))
    assert b.update(at(2, 1), D(9200)) == []  # 4.2 % below today's 9600
    assert b.update(at(2, 2), D(9100))


def test_drawdown_from_peak():
    b = Breakers(daily_loss_limit=0, max_drawdown=0.10)
    b.update(at(1), D(10000))
    b.update(at(2), D(12000))
    assert b.update(at(3), D(10900)) == []
    assert b.update(at(3, 1), D(10800))
    assert b.drawdown(D(10800)) == D("0.1")


def test_reset_clears_and_rebases_so_the_same_loss_does_not_trip_again():
    b = Breakers(daily_loss_limit=0.05, max_drawdown=0.10)
    b.update(at(1), D(10000))
    assert len(b.update(at(1, 1), D(8900))) == 2
    assert sorted(b.reset(D(8900))) == [DAILY, DRAWDOWN]
    assert not b.any_tripped and b.peak == D(8900) and b.day_open == D(8900)
    assert b.update(at(1, 2), D(8800)) == []


def test_zero_disables():
    b = Breakers(daily_loss_limit=0, max_drawdown=0)
    b.update(at(1), D(10000))
    assert b.update(at(1, 1), D(1)) == []
