from decimal import Decimal

from engine.liquidation import BRACKETS, OTHER, bracket, liquidation_price


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


def test_a_hand_computed_long_and_short():
    # BTCUSDT long 1 at 100,000, 20x: notional 100,000 is in the second tier (0.5 %, amount 50).
    # Wallet 100,000 / 20 = 5,000. (5,000 + 50 - 100,000) / (0.005 - 1) = 94,950 / 0.995.
    assert liquidation_price("BTCUSDT", Decimal(1), Decimal(100000), 20) == Decimal(94950) / Decimal("0.995")
    # ETHUSDT short 300 at 3,000, 10x: notional 900,000 is in the third tier (0.65 %, amount 950).
    # Wallet 90,000. (90,000 + 950 + 900,000) / (300 x 0.0065 + 300) = 990,950 / 301.95 = 3,281.83.
    price = liquidation_price("ETHUSDT", Decimal(-300), Decimal(3000), 10)
    assert price == Decimal(990950) / Decimal("301.95")
    assert round(price, 2) == Decimal("3281.83")


def test_each_symbols_tiers_follow_on_and_join_without_a_jump():
    """floor of each tier = cap of the one before, and its amount makes the maintenance margin
    continuous at the floor: amount_n = amount_n-1 + floor_n x (rate_n - rate_n-1)."""
    for symbol, tiers in [*BRACKETS.items(), ("other", OTHER)]:
        assert tiers[0].notional_floor == 0 and tiers[0].amount == 0, symbol
        for before, tier in zip(tiers, tiers[1:]):
            assert tier.notional_floor == before.notional_cap, symbol
            assert tier.rate > before.rate, symbol
            assert tier.amount == before.amount + tier.notional_floor * (tier.rate - before.rate), symbol


def test_the_tier_is_chosen_by_the_notional_floor_exclusive_cap_inclusive():
    assert bracket("SOLUSDT", Decimal(20000)).rate == Decimal("0.005")
    assert bracket("SOLUSDT", Decimal("20000.01")).rate == Decimal("0.0065")
    assert bracket("SOLUSDT", Decimal(10) ** 12) == BRACKETS["SOLUSDT"][-1]
    assert bracket("NEWCOINUSDT", Decimal(1000)) == OTHER[0]
