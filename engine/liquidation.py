"""Where an isolated USDⓈ-M position would be liquidated, the way Binance computes it.

Binance liquidates a position when its margin balance falls to the maintenance margin,
`|notional| x rate - amount`, with the rate and amount of the bracket its notional falls in.
For one isolated position in one-way mode, with wallet balance WB (the initial margin,
|q| x entry / leverage), side s (+1 long, -1 short), quantity |q|, entry price E, maintenance
rate r and maintenance amount a (Binance's `cum`):

    liquidation price = (WB + a - s x |q| x E) / (|q| x r - s x |q|)

Only paper uses this: testnet and live positions carry the exchange's own figure.

The brackets are Binance's published tiers (GET /fapi/v1/leverageBracket) for the simulated
market's well-known symbols, as captured on 2024-10-24 in freqtrade's
freqtrade/exchange/binance_leverage_tiers.json (commit 3d9514d). Binance revises tiers from
time to time, so today's figures may differ. Any other symbol gets the tiers 1000LUNCUSDT had
in the same capture, a typical small altcoin's. A notional past the last tier uses the last one.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Bracket:
    notional_floor: Decimal  # the tier covers floor < |notional| <= cap
    notional_cap: Decimal
    rate: Decimal  # maintenance margin rate
    amount: Decimal  # maintenance amount ("cum"), so tiers join without a jump


def _tiers(*rows: tuple[int, int, str, int]) -> tuple[Bracket, ...]:
    return tuple(Bracket(Decimal(floor), Decimal(cap), Decimal(rate), Decimal(amount))
                 for floor, cap, rate, amount in rows)


# (notional floor, notional cap, maintenance margin rate, maintenance amount)
OTHER = _tiers(
    (0, 5_000, "0.01", 0),
    (5_000, 25_000, "0.025", 75),
    (25_000, 400_000, "0.05", 700),
    (400_000, 1_000_000, "0.1", 20_700),
    (1_000_000, 2_000_000, "0.125", 45_700),
    (2_000_000, 6_000_000, "0.25", 295_700),
    (6_000_000, 10_000_000, "0.5", 1_795_700),
)
BRACKETS: dict[str, tuple[Bracket, ...]] = {
    "BTCUSDT": _tiers(
        (0, 50_000, "0.004", 0),
        (50_000, 600_000, "0.005", 50),
        (600_000, 3_000_000, "0.0065", 950),
        (3_000_000, 12_000_000, "0.01", 11_450),
        (12_000_000, 70_000_000, "0.02", 131_450),
        (70_000_000, 100_000_000, "0.025", 481_450),
        (100_000_000, 230_000_000, "0.05", 2_981_450),
        (230_000_000, 480_000_000, "0.1", 14_481_450),
        (480_000_000, 600_000_000, "0.125", 26_481_450),
        (600_000_000, 800_000_000, "0.15", 41_481_450),
        (800_000_000, 1_200_000_000, "0.25", 121_481_450),
        (1_200_000_000, 1_800_000_000, "0.5", 421_481_450),
    ),
    "ETHUSDT": _tiers(
        (0, 50_000, "0.004", 0),
        (50_000, 600_000, "0.005", 50),
        (600_000, 3_000_000, "0.0065", 950),
        (3_000_000, 12_000_000, "0.01", 11_450),
        (12_000_000, 50_000_000, "0.02", 131_450),
        (50_000_000, 65_000_000, "0.025", 381_450),
        (65_000_000, 150_000_000, "0.05", 2_006_450),
        (150_000_000, 320_000_000, "0.1", 9_506_450),
        (320_000_000, 400_000_000, "0.125", 17_506_450),
        (400_000_000, 530_000_000, "0.15", 27_506_450),
        (530_000_000, 800_000_000, "0.25", 80_506_450),
        (800_000_000, 1_200_000_000, "0.5", 280_506_450),
    ),
    "SOLUSDT": _tiers(
        (0, 20_000, "0.005", 0),
        (20_000, 100_000, "0.0065", 30),
        (100_000, 800_000, "0.01", 380),
        (800_000, 4_000_000, "0.02", 8_380),
        (4_000_000, 8_000_000, "0.025", 28_380),
        (8_000_000, 40_000_000, "0.05", 228_380),
        (40_000_000, 80_000_000, "0.1", 2_228_380),
        (80_000_000, 100_000_000, "0.125", 4_228_380),
        (100_000_000, 200_000_000, "0.25", 16_728_380),
        (200_000_000, 400_000_000, "0.5", 66_728_380),
    ),
    "BNBUSDT": _tiers(
        (0, 10_000, "0.005", 0),
        (10_000, 50_000, "0.006", 10),
        (50_000, 200_000, "0.01", 210),
        (200_000, 1_500_000, "0.02", 2_210),
        (1_500_000, 3_000_000, "0.025", 9_710),
        (3_000_000, 15_000_000, "0.05", 84_710),
        (15_000_000, 30_000_000, "0.1", 834_710),
        (30_000_000, 37_500_000, "0.125", 1_584_710),
        (37_500_000, 75_000_000, "0.25", 6_272_210),
        (75_000_000, 150_000_000, "0.5", 25_022_210),
    ),
    "XRPUSDT": _tiers(
        (0, 10_000, "0.005", 0),
        (10_000, 20_000, "0.0065", 15),
        (20_000, 160_000, "0.01", 85),
        (160_000, 800_000, "0.02", 1_685),
        (800_000, 1_600_000, "0.025", 5_685),
        (1_600_000, 8_000_000, "0.05", 45_685),
        (8_000_000, 16_000_000, "0.1", 445_685),
        (16_000_000, 20_000_000, "0.125", 845_685),
        (20_000_000, 40_000_000, "0.25", 3_345_685),
        (40_000_000, 80_000_000, "0.5", 13_345_685),
    ),
    "DOGEUSDT": _tiers(
        (0, 10_000, "0.005", 0),
        (10_000, 50_000, "0.007", 20),
        (50_000, 750_000, "0.01", 170),
        (750_000, 800_000, "0.02", 7_670),
        (800_000, 1_600_000, "0.025", 11_670),
        (1_600_000, 8_000_000, "0.05", 51_670),
        (8_000_000, 16_000_000, "0.1", 451_670),
        (16_000_000, 20_000_000, "0.125", 851_670),
        (20_000_000, 40_000_000, "0.25", 3_351_670),
        (40_000_000, 80_000_000, "0.5", 13_351_670),
    ),
    "ADAUSDT": _tiers(
        (0, 10_000, "0.005", 0),
        (10_000, 50_000, "0.01", 50),
        (50_000, 100_000, "0.015", 300),
        (100_000, 500_000, "0.02", 800),
        (500_000, 1_000_000, "0.025", 3_300),
        (1_000_000, 5_000_000, "0.05", 28_300),
        (5_000_000, 10_000_000, "0.1", 278_300),
        (10_000_000, 20_000_000, "0.125", 528_300),
        (20_000_000, 30_000_000, "0.25", 3_028_300),
        (30_000_000, 50_000_000, "0.5", 10_528_300),
    ),
    "LINKUSDT": _tiers(
        (0, 10_000, "0.005", 0),
        (10_000, 50_000, "0.01", 50),
        (50_000, 80_000, "0.015", 300),
        (80_000, 400_000, "0.02", 700),
        (400_000, 800_000, "0.025", 2_700),
        (800_000, 4_000_000, "0.05", 22_700),
        (4_000_000, 8_000_000, "0.1", 222_700),
        (8_000_000, 20_000_000, "0.125", 422_700),
        (20_000_000, 30_000_000, "0.25", 2_922_700),
        (30_000_000, 50_000_000, "0.5", 10_422_700),
    ),
}


def bracket(symbol: str, notional: Decimal) -> Bracket:
    tiers = BRACKETS.get(symbol, OTHER)
    size = abs(notional)
    return next((t for t in tiers if size <= t.notional_cap), tiers[-1])


def liquidation_price(symbol: str, quantity: Decimal, entry_price: Decimal, leverage: int) -> Decimal | None:
    """The isolated liquidation price of a position; None when flat or never (a long at 1x)."""
    if quantity == 0 or entry_price <= 0 or leverage <= 0:
        return None
    size = abs(quantity)
    side = Decimal(1) if quantity > 0 else Decimal(-1)
    tier = bracket(symbol, size * entry_price)
    wallet = size * entry_price / Decimal(leverage)
    denominator = size * tier.rate - side * size
    if denominator == 0:
        return None
    price = (wallet + tier.amount - side * size * entry_price) / denominator
    return price if price > 0 else None
