"""Where an isolated USDⓈ-M position would be liquidated, the way Binance computes it.

Binance liquidates a position when its margin balance falls to the maintenance margin,
`|notional| x rate - amount`, with the rate and amount of the bracket its notional falls in.
For one isolated position in one-way mode, with wallet balance WB (the initial margin,
|q| x entry / leverage), side s (+1 long, -1 short), quantity |q|, entry price E, maintenance
rate r and maintenance amount a (Binance's `cum`):

    liquidation price = (WB + a - s x |q| x E) / (|q| x r - s x |q|)

The brackets below are Binance's lowest maintenance-margin tiers for the simulated market's
well-known symbols; any other symbol gets the tiers of a small altcoin, and a notional past
the last tier uses the last one. Testnet and live positions carry the exchange's own figure.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Bracket:
    notional_cap: Decimal  # the tier covers |notional| up to this
    rate: Decimal  # maintenance margin rate
    amount: Decimal  # maintenance amount ("cum"), so tiers join without a jump


def _tiers(*rows: tuple[int, str, int]) -> tuple[Bracket, ...]:
    return tuple(Bracket(Decimal(cap), Decimal(rate), Decimal(amount)) for cap, rate, amount in rows)


MAJOR = _tiers((50_000, "0.004", 0), (500_000, "0.005", 50), (8_000_000, "0.01", 2_550),
               (50_000_000, "0.025", 122_550))
ETH = _tiers((50_000, "0.005", 0), (500_000, "0.0065", 75), (8_000_000, "0.01", 1_825),
             (50_000_000, "0.02", 81_825))
LARGE_ALT = _tiers((10_000, "0.005", 0), (100_000, "0.01", 50), (500_000, "0.025", 1_550),
                   (1_000_000, "0.05", 14_050), (5_000_000, "0.1", 64_050))
SMALL_ALT = _tiers((5_000, "0.01", 0), (50_000, "0.025", 75), (250_000, "0.05", 1_325),
                   (1_000_000, "0.1", 13_825))
BRACKETS: dict[str, tuple[Bracket, ...]] = {
    "BTCUSDT": MAJOR, "ETHUSDT": ETH, "SOLUSDT": LARGE_ALT, "BNBUSDT": LARGE_ALT, "XRPUSDT": LARGE_ALT,
    "DOGEUSDT": LARGE_ALT, "ADAUSDT": LARGE_ALT, "LINKUSDT": LARGE_ALT,
}


def bracket(symbol: str, notional: Decimal) -> Bracket:
    tiers = BRACKETS.get(symbol, SMALL_ALT)
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
