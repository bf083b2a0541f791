"""Which Binance USDⓈ-M symbols trifactor trades, and their trading rules as Instruments."""
from __future__ import annotations

from decimal import Decimal

from engine.config import Config
from engine.feeds.base import FeedError
from engine.model import Instrument


def _filters(info: dict) -> dict[str, dict]:
    return {f.get("filterType"): f for f in info.get("filters", [])}


def instrument_from_info(info: dict) -> Instrument:
    """Trading rules from an exchangeInfo symbol row (strings, so Decimals stay exact)."""
    filters = _filters(info)
    lot = filters.get("LOT_SIZE", {})
    market_lot = filters.get("MARKET_LOT_SIZE", lot)
    try:
        return Instrument(
            symbol=info["symbol"],
            tick_size=Decimal(filters["PRICE_FILTER"]["tickSize"]),
            step_size=Decimal(lot["stepSize"]),
            # market orders are checked against MARKET_LOT_SIZE, so the larger minimum applies
            min_qty=max(Decimal(lot["minQty"]), Decimal(market_lot.get("minQty", "0"))),
            min_notional=Decimal(filters.get("MIN_NOTIONAL", {}).get("notional", "0")),
        )
    except (KeyError, ArithmeticError) as e:
        raise FeedError(f"{info.get('symbol', '?')}: exchange info lacks trading rules ({e})") from None


def is_tradable(info: dict) -> bool:
    return (info.get("contractType") == "PERPETUAL" and info.get("quoteAsset") == "USDT"
            and info.get("status") == "TRADING")


def resolve_universe(config: Config, infos: dict[str, dict]) -> dict[str, Instrument]:
    """`infos`: exchangeInfo rows by symbol. Raises FeedError naming any unusable listed symbol."""
    excluded = set(config.universe.exclude_symbols)
    if config.universe.type == "all":
        chosen = sorted(s for s, info in infos.items() if is_tradable(info) and s not in excluded)
        if not chosen:
            raise FeedError("universe `all`: Binance lists no trading USDT perpetual outside exclude_symbols")
    else:
        chosen = config.symbols()
        for symbol in chosen:
            info = infos.get(symbol)
            if info is None:
                raise FeedError(f"{symbol}: not listed on Binance USDⓈ-M futures (check universe.symbol_list)")
            if not is_tradable(info):
                raise FeedError(f"{symbol}: not a trading USDT perpetual on Binance "
                                f"(status {info.get('status')}, contract {info.get('contractType')})")
    return {s: instrument_from_info(infos[s]) for s in chosen}
