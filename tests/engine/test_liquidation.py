from decimal import Decimal

from engine.liquidation import bracket, liquidation_price


def margin_balance_at(price: Decimal, quantity: Decimal, entry: Decimal, leverage: int) -> Decimal:
    return abs(quantity) * entry / leverage + quantity * (price - entry)


def test_at_the_liquidation_price_the_margin_left_is_the_maintenance_margin():
    for symbol, qty, entry, lev in (("BTCUSDT", Decimal("0.1"), Decimal(95000), 5),
                                    ("ETHUSDT", Decimal("-3"), Decimal(3300), 10),
                                    ("DOGEUSDT", Decimal("-40000"), Decimal("0.32"), 20),
                                    ("NEWCOINUSDT", Decimal("500"), Decimal("1.5"), 3)):
        price = liquidation_price(symbol, qty, entry, lev)
        tier = bracket(symbol, qty * entry)
        maintenance = abs(qty) * price * tier.rate - tier.amount
        assert abs(margin_balance_at(price, qty, entry, lev) - maintenance) < Decimal("1e-9"), symbol
        assert (price < entry) == (qty > 0), "a long is liquidated below its entry, a short above"


def test_a_btc_long_at_5x_is_liquidated_about_a_fifth_below_entry():
    price = liquidation_price("BTCUSDT", Decimal("0.01"), Decimal(100000), 5)
    assert Decimal(80000) < price < Decimal(81000)


def test_flat_or_unleveraged_long_has_no_liquidation_price():
    assert liquidation_price("BTCUSDT", Decimal(0), Decimal(100000), 5) is None
    assert liquidation_price("BTCUSDT", Decimal(1), Decimal(100000), 1) is None
