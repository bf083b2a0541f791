"""What a test pushes through the fake's streams: klines, mark prices, aggregated trades."""
from __future__ import annotations

from tests.fake_binance.market import MINUTE_MS, SymbolMarket, kline_row


def kline_event(symbol: str, row: list, closed: bool, event_ms: int) -> dict:
    return {
        "e": "kline", "E": event_ms, "s": symbol,
        "k": {"t": row[0], "T": row[6], "s": symbol, "i": "1m", "f": 100, "L": 200,
              "o": row[1], "c": row[4], "h": row[2], "l": row[3], "v": row[5], "n": row[8], "x": closed,
              "q": row[7], "V": row[9], "Q": row[10], "B": "0"},
    }


class StreamPusher:
    """Mixed into FakeBinance: needs `market()`, `hub` and `now_ms()`."""

    def make_kline(self, symbol: str, open_ms: int | None = None, close: float | None = None,
                   volume: float = 100.0, taker_buy: float | None = None) -> list:
        """A bar after the last stored one (or at `open_ms`) whose close moves 0.1 % unless given."""
        market: SymbolMarket = self.market(symbol)
        last = market.klines[-1] if market.klines else None
        open_ms = open_ms if open_ms is not None else (last[0] + MINUTE_MS if last else 0)
        o = float(last[4]) if last else market.price
        c = close if close is not None else o * 1.001
        taker = taker_buy if taker_buy is not None else volume * 0.6
        return kline_row(open_ms, o, max(o, c) * 1.0005, min(o, c) * 0.9995, c, volume, taker)

    def add_klines(self, symbol: str, count: int) -> list[list]:
        """Store `count` closed bars without streaming them (bars a disconnected client missed)."""
        rows = []
        for _ in range(count):
            row = self.make_kline(symbol)
            self.market(symbol).store(row)
            rows.append(row)
        return rows

    async def push_kline(self, symbol: str, open_ms: int | None = None, *, close: float | None = None,
                         volume: float = 100.0, taker_buy: float | None = None, closed: bool = True,
                         row: list | None = None) -> list:
        """Stream one kline update; a closed one is also stored in the REST history."""
        row = row if row is not None else self.make_kline(symbol, open_ms, close, volume, taker_buy)
        if closed:
            self.market(symbol).store(row)
        else:
            market = self.market(symbol)
            market.price = float(row[4])
        await self.hub.publish(f"{symbol.lower()}@kline_1m", kline_event(symbol, row, closed, self.now_ms()))
        return row

    async def push_mark_price(self, symbol: str, price: float | None = None, funding_rate: float | None = None) -> dict:
        market = self.market(symbol)
        if price is not None:
            market.mark_price = float(price)
        if funding_rate is not None:
            market.funding_rate = float(funding_rate)
        now = self.now_ms()
        event = {"e": "markPriceUpdate", "E": now, "s": symbol, "p": f"{market.mark_price:.8f}",
                 "ap": f"{market.mark_price:.8f}", "P": f"{market.mark_price:.8f}", "i": f"{market.mark_price:.8f}",
                 "r": f"{market.funding_rate:.8f}", "T": (now // 28_800_000 + 1) * 28_800_000}
        await self.hub.publish(f"{symbol.lower()}@markPrice@1s", event)
        await self.hub.publish(f"{symbol.lower()}@markPrice", event)
        return event

    async def push_agg_trade(self, symbol: str, quantity: float, *, buyer_is_maker: bool, trade_ms: int,
                             price: float | None = None) -> dict:
        """One aggregated trade; `buyer_is_maker` False means the taker bought."""
        market = self.market(symbol)
        self._agg_id = getattr(self, "_agg_id", 0) + 1
        px = price if price is not None else market.price
        event = {"e": "aggTrade", "E": trade_ms, "a": self._agg_id, "s": symbol, "p": f"{px:.8f}",
                 "q": f"{quantity:.8f}", "f": self._agg_id, "l": self._agg_id, "T": trade_ms,
                 "m": buyer_is_maker}
        await self.hub.publish(f"{symbol.lower()}@aggTrade", event)
        return event

    async def wait_subscribed(self, stream: str, times: int = 1, timeout: float = 5.0) -> None:
        """Wait until `stream` has been subscribed `times` times in all and is live now."""
        await self.hub.wait_until(
            lambda: self.hub.subscribe_counts.get(stream, 0) >= times and self.hub.subscribers(stream) > 0, timeout)
