"""PnL by factor: the parts of each bar sum exactly to that bar's PnL."""
import random
from decimal import Decimal

from tui.factor_pnl import PARTS, FactorPnl, shares, split


def components(rng):
    return {"funding_weight": rng.uniform(0, 1), "mr_weight": rng.uniform(0, 1), "flow_weight": rng.uniform(0, 1),
            "funding_signal": rng.uniform(-1, 1), "mr_signal": rng.uniform(-1, 1), "flow_signal": rng.uniform(-1, 1)}


def test_parts_sum_exactly_to_the_pnl_over_a_long_random_run():
    rng = random.Random(42)
    book = FactorPnl()
    price, qty = 100.0, Decimal(0)
    for bar in range(5000):
        price *= 1 + rng.gauss(0, 0.002)
        book.on_bar("BTCUSDT", price, components(rng))
        if rng.random() < 0.1:
            qty = Decimal(rng.randint(-50, 50)) / 10
            book.on_position("BTCUSDT", qty)
        if bar % 480 == 0 and qty:
            book.on_funding("BTCUSDT", Decimal(str(round(rng.uniform(-1, 1), 6))))
    parts = book.parts["BTCUSDT"]
    assert sum(parts[p] for p in PARTS) == book.total["BTCUSDT"]
    assert book.total["BTCUSDT"] != 0 and parts["funding"] != 0 and parts["mr"] != 0 and parts["flow"] != 0


def test_each_component_gets_its_weighted_share():
    weights = shares({"funding_weight": 0.5, "mr_weight": 0.25, "flow_weight": 0.25,
                      "funding_signal": 1.0, "mr_signal": 1.0, "flow_signal": 2.0})
    assert split(Decimal(100), weights) == {"funding": Decimal("40.00000000"), "mr": Decimal("20.00000000"),
                                            "flow": Decimal("40.00000000")}
    assert split(Decimal(7), shares({})) == {"unattributed": Decimal(7)}


def test_the_factor_that_set_the_position_owns_its_pnl():
    book = FactorPnl()
    funding_only = {"funding_weight": 1.0, "mr_weight": 1.0, "flow_weight": 1.0,
                    "funding_signal": 1.0, "mr_signal": 0.0, "flow_signal": 0.0}
    mr_only = {**funding_only, "funding_signal": 0.0, "mr_signal": 1.0}
    book.on_bar("X", 100.0, funding_only)
    book.on_position("X", Decimal(2))  # opened on funding's bar
    book.on_bar("X", 101.0, mr_only)  # the same position: still funding's
    assert book.parts["X"]["funding"] == Decimal(2) and book.parts["X"]["mr"] == 0
