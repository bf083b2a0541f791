"""The fake exchange's market: trading rules, deterministic kline history, funding, prices.

Prices follow a seeded random walk per symbol so every run serves the same history.
Klines are stored as Binance's raw 12-field rows, strings where Binance sends strings.
"""
from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from decimal import Decimal

MINUTE_MS = 60_000
FUNDING_PERIOD_MS = 8 * 60 * MINUTE_MS

# Realistic rules for the common symbols; anything else gets the generic row.
KNOWN_RULES = {
    "BTCUSDT": ("0.10", "0.001", "0.001", "100", 65000.0),
    "ETHUSDT": ("0.01", "0.001", "0.001", "20", 3200.0),
    "SOLUSDT": ("0.0100", "1", "1", "5", 150.0),
    "BNBUSDT": ("0.010", "0.01", "0.01", "5", 580.0),
    "XRPUSDT": ("0.0001", "0.1", "0.1", "5", 0.55),
    "DOGEUSDT": ("0.000010", "1", "1", "5", 0.15),
    "ADAUSDT": ("0.00010", "1", "1", "5", 0.45),
    "LINKUSDT": ("0.001", "0.01", "0.01", "5", 14.0),
}


@dataclass
class SymbolRules:
    symbol: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    start_price: float
    status: str = "TRADING"
    contract_type: str = "PERPETUAL"
    quote: str = "USDT"

    @classmethod
    def for_symbol(cls, symbol: str) -> "SymbolRules":
        tick, step, min_qty, notional, price = KNOWN_RULES.get(symbol, ("0.0001", "0.1", "0.1", "5", 2.0))
        return cls(symbol, Decimal(tick), Decimal(step), Decimal(min_qty), Decimal(notional), price)

    @property
    def base(self) -> str:
        return self.symbol[: -len(self.quote)] if self.symbol.endswith(self.quote) else self.symbol

    def exchange_info_row(self) -> dict:
        precision = max(0, -self.step_size.normalize().as_tuple().exponent)
        price_precision = max(0, -self.tick_size.normalize().as_tuple().exponent)
        return {
            "symbol": self.symbol, "pair": self.symbol, "contractType": self.contract_type,
            "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": self.status,
            "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
            "baseAsset": self.base, "quoteAsset": self.quote, "marginAsset": self.quote,
            "pricePrecision": price_precision, "quantityPrecision": precision,
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
            "underlyingSubType": [], "triggerProtect": "0.0500", "liquidationFee": "0.012500",
            "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": str(self.tick_size), "maxPrice": "4529764",
                 "tickSize": str(self.tick_size)},
                {"filterType": "LOT_SIZE", "minQty": str(self.min_qty), "maxQty": "1000000",
                 "stepSize": str(self.step_size)},
                {"filterType": "MARKET_LOT_SIZE", "minQty": str(self.min_qty), "maxQty": "120000",
                 "stepSize": str(self.step_size)},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": str(self.min_notional)},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
                 "multiplierDecimal": "4"},
            ],
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                           "TRAILING_STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
            "permissionSets": ["GRID", "COPY"],
        }


def kline_row(open_ms: int, o: float, h: float, low: float, c: float, volume: float, taker_buy: float,
              trades: int = 100) -> list:
    mid = (o + c) / 2
    return [open_ms, f"{o:.8f}", f"{h:.8f}", f"{low:.8f}", f"{c:.8f}", f"{volume:.8f}", open_ms + MINUTE_MS - 1,
            f"{volume * mid:.8f}", trades, f"{taker_buy:.8f}", f"{taker_buy * mid:.8f}", "0"]


@dataclass
class SymbolMarket:
    """One symbol's history and current state."""

    rules: SymbolRules
    klines: list[list] = field(default_factory=list)  # closed bars, oldest first, contiguous
    funding: list[dict] = field(default_factory=list)  # settled funding rates, oldest first
    price: float = 0.0
    mark_price: float = 0.0
    funding_rate: float = 0.0001

    @property
    def last_open_ms(self) -> int | None:
        return self.klines[-1][0] if self.klines else None

    def store(self, row: list) -> None:
        """Keep a closed bar; replaces a bar with the same open time, keeps time order."""
        open_ms = row[0]
        if self.klines and self.klines[-1][0] < open_ms:
            self.klines.append(row)
        else:
            kept = [k for k in self.klines if k[0] != open_ms] + [row]
            self.klines = sorted(kept, key=lambda k: k[0])
        self.price = float(row[4])
        self.mark_price = self.price


def generate_market(rules: SymbolRules, end_open_ms: int, bars: int, seed: int) -> SymbolMarket:
    """`bars` closed 1-minute bars ending with the bar that opens at `end_open_ms`."""
    rng = random.Random(seed ^ zlib.crc32(rules.symbol.encode()))
    market = SymbolMarket(rules)
    price = rules.start_price
    start = end_open_ms - (bars - 1) * MINUTE_MS
    for i in range(bars):
        o = price
        c = max(o * (1 + rng.gauss(0, 0.0015)), float(rules.tick_size))
        h = max(o, c) * (1 + abs(rng.gauss(0, 0.0005)))
        low = min(o, c) * (1 - abs(rng.gauss(0, 0.0005)))
        volume = rng.uniform(50, 150)
        taker_buy = volume * min(max(rng.gauss(0.5, 0.08), 0.05), 0.95)
        market.klines.append(kline_row(start + i * MINUTE_MS, o, h, low, c, volume, taker_buy))
        price = c
    market.price = market.mark_price = price
    first_funding = (start // FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS
    t = first_funding
    while t <= end_open_ms:
        rate = rng.gauss(0.0001, 0.0002)
        market.funding.append({"symbol": rules.symbol, "fundingTime": t, "fundingRate": f"{rate:.8f}",
                               "markPrice": f"{price:.8f}"})
        market.funding_rate = rate
        t += FUNDING_PERIOD_MS
    return market


def select_klines(rows: list[list], start: int | None, end: int | None, limit: int) -> list[list]:
    """Binance's klines window: from startTime forward, else the last `limit` up to endTime."""
    if start is not None:
        picked = [r for r in rows if r[0] >= start and (end is None or r[0] <= end)]
        return picked[:limit]
    picked = [r for r in rows if end is None or r[0] <= end]
    return picked[-limit:]
