"""Trading rules and market character of the simulated symbols.

Well-known USDT perpetuals get figures close to Binance's (price level, tick and step sizes,
minimum notional, daily volatility, volume). Any other name gets plausible figures derived
from a hash of the name, so 500 synthetic symbols are as easy as eight real ones and the same
name always gets the same figures.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal

from engine.model import Instrument


@dataclass(frozen=True, slots=True)
class SimSpec:
    instrument: Instrument
    price: float  # starting price
    daily_vol: float  # standard deviation of daily log returns
    volume: float  # typical base-asset volume per minute


def _spec(symbol: str, price: float, tick: str, step: str, min_notional: int, daily_vol: float,
          volume: float) -> SimSpec:
    inst = Instrument(symbol, Decimal(tick), Decimal(step), Decimal(step), Decimal(min_notional))
    return SimSpec(inst, price, daily_vol, volume)


KNOWN: dict[str, SimSpec] = {s.instrument.symbol: s for s in (
    _spec("BTCUSDT", 95000.0, "0.1", "0.001", 100, 0.025, 120.0),
    _spec("ETHUSDT", 3300.0, "0.01", "0.001", 20, 0.035, 2500.0),
    _spec("SOLUSDT", 190.0, "0.01", "1", 5, 0.050, 20000.0),
    _spec("BNBUSDT", 690.0, "0.01", "0.01", 5, 0.030, 300.0),
    _spec("XRPUSDT", 2.2, "0.0001", "0.1", 5, 0.050, 1_500_000.0),
    _spec("DOGEUSDT", 0.32, "0.00001", "1", 5, 0.060, 8_000_000.0),
    _spec("ADAUSDT", 0.9, "0.0001", "1", 5, 0.055, 2_000_000.0),
    _spec("LINKUSDT", 22.0, "0.001", "0.01", 5, 0.055, 50_000.0),
)}


def _unit_floats(symbol: str, n: int) -> list[float]:
    digest = hashlib.blake2b(symbol.encode(), digest_size=4 * n).digest()
    return [int.from_bytes(digest[4 * i:4 * i + 4], "big") / 2**32 for i in range(n)]


def _power_of_ten(exponent: int) -> Decimal:
    return Decimal(1).scaleb(exponent)


_MIN_NOTIONALS = (5, 5, 5, 5, 5, 5, 5, 10, 10, 20)  # most listings ask 5 USDT, some more


def generated_spec(symbol: str) -> SimSpec:
    u_price, u_vol, u_volume, u_rules = _unit_floats(symbol, 4)
    raw = 10 ** (-3 + 6 * u_price)  # 0.001 .. 1000 USDT
    magnitude = math.floor(math.log10(raw))
    price = round(raw, 3 - magnitude)  # four significant digits
    # Ticks of four or five significant digits, steps worth roughly 0.1 to 1 USDT, as on the exchange.
    rules = int(u_rules * 2**16)
    tick = _power_of_ten(magnitude - 4 + rules % 2)
    step = _power_of_ten(max(-3, math.floor(math.log10(1 / price))))
    min_notional = Decimal(_MIN_NOTIONALS[(rules >> 1) % len(_MIN_NOTIONALS)])
    inst = Instrument(symbol, tick, step, step, min_notional)
    minute_notional = 10 ** (4.7 + 2 * u_volume)  # ~50k .. 5M USDT per minute
    return SimSpec(inst, price, 0.03 + 0.07 * u_vol, minute_notional / price)


_ONSETS = ("B", "C", "D", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "T", "V", "Z", "QU", "TR", "ST")
_VOWELS = ("A", "E", "I", "O", "U", "Y")


def generated_names(count: int) -> list[str]:
    """`count` distinct, pronounceable USDT-perpetual names, the same for the same count."""
    names: list[str] = []
    seen = set(KNOWN)
    i = 0
    while len(names) < count:
        u = _unit_floats(f"name:{i}", 3)
        parts = [_ONSETS[int(x * len(_ONSETS))] + _VOWELS[int(x * 997) % len(_VOWELS)] for x in u[:2 + (i % 2)]]
        name = "".join(parts) + "USDT"
        if name in seen:  # a clash: make it distinct with the index, which no other name carries
            name = f"{''.join(parts)}{i}USDT"
        seen.add(name)
        names.append(name)
        i += 1
    return names


def sim_universe(size: int) -> list[str]:
    """The simulated market's full universe: the well-known symbols first, then generated ones."""
    known = list(KNOWN)[:size]
    return known + generated_names(size - len(known))


def spec_for(symbol: str) -> SimSpec:
    return KNOWN.get(symbol) or generated_spec(symbol)
