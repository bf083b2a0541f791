"""What the account did while we were not watching: its trades and the funding it was paid.

Read at start-up in testnet/live so that fills made while the engine was down are booked
(once: the caller deduplicates by trade id) and funding is the exchange's own. Binance serves
trades in windows of at most 7 days and pages of at most 1000; both are walked here.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Awaitable, Callable

from engine.feeds.binance_bars import ms_to_dt
from engine.model import Fill, FundingIncome, Mode, OrderRequest, Side
from engine.venues.base import VenueError
from engine.venues.binance_fills import fill_from_trade, is_order_answer, trade_rows

TRADE_WINDOW = timedelta(days=7) - timedelta(milliseconds=1)
PAGE = 1000

Call = Callable[..., Awaitable[object]]


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


class AccountHistory:
    def __init__(self, call: Call, client, mode: Mode, now: Callable[[], datetime] | None = None) -> None:
        self._call = call
        self._client = client
        self._mode = mode
        self._now = now or (lambda: datetime.now(timezone.utc))

    async def fills_since(self, symbols: list[str], since: datetime, ours: Callable[[str], bool]) -> list[Fill]:
        """Every trade of our orders (by client order id) on `symbols` from `since` on, oldest first."""
        fills: list[Fill] = []
        for symbol in sorted(symbols):
            trades = await self._trades(symbol, since)
            orders: dict[str, OrderRequest | None] = {}
            for trade in trades:
                order_id = str(trade["orderId"])
                if order_id not in orders:
                    orders[order_id] = await self._order(symbol, order_id, trade)
                request = orders[order_id]
                if request is not None and ours(request.client_order_id):
                    fills.append(fill_from_trade(self._mode, request, trade))
        return sorted(fills, key=lambda f: (f.ts, f.trade_id))

    async def _trades(self, symbol: str, since: datetime) -> list[dict]:
        seen: dict[str, dict] = {}
        now = _ms(self._now())
        start = _ms(since)
        while start <= now:
            end = min(start + int(TRADE_WINDOW.total_seconds() * 1000), now)
            page_start = start
            while True:
                rows = trade_rows(await self._call(symbol, "reading the account's trades",
                                                   self._client.fapiPrivateGetUserTrades,
                                                   {"symbol": symbol, "startTime": page_start, "endTime": end,
                                                    "limit": PAGE}))
                if rows is None:
                    raise VenueError(f"{symbol}: the account's trade list was unreadable")
                fresh = [t for t in rows if str(t["id"]) not in seen]
                for t in fresh:
                    seen[str(t["id"])] = t
                if len(rows) < PAGE or not fresh:
                    break
                page_start = max(int(t["time"]) for t in rows)
            start = end + 1
        return sorted(seen.values(), key=lambda t: (int(t["time"]), int(t["id"])))

    async def _order(self, symbol: str, order_id: str, trade: dict) -> OrderRequest | None:
        answer = await self._call(symbol, f"looking up order {order_id}", self._client.fapiPrivateGetOrder,
                                  {"symbol": symbol, "orderId": order_id})
        if not is_order_answer(answer):
            raise VenueError(f"{symbol}: the lookup of order {order_id} answered unreadably")
        client_id = answer.get("clientOrderId")
        if not client_id:
            return None
        return OrderRequest(str(client_id), symbol, Side(trade["side"]), Decimal(str(answer["origQty"])),
                            bool(answer.get("reduceOnly", False)), "recovered")

    async def funding_since(self, since: datetime) -> list[FundingIncome]:
        """Funding fees credited or charged after `since`, oldest first."""
        seen: dict[str, FundingIncome] = {}
        start = _ms(since) + 1
        end = _ms(self._now())
        while True:
            rows = await self._call("Binance", "reading the funding income", self._client.fapiPrivateGetIncome,
                                    {"incomeType": "FUNDING_FEE", "startTime": start, "endTime": end, "limit": PAGE})
            if not isinstance(rows, list) or not all(isinstance(r, dict) and {"symbol", "income", "time"} <= r.keys()
                                                     for r in rows):
                raise VenueError("Binance: the funding income history was unreadable")
            fresh = 0
            for r in rows:
                key = str(r.get("tranId") or f"{r['symbol']}-{r['time']}")
                if key not in seen:
                    fresh += 1
                    seen[key] = FundingIncome(r["symbol"], ms_to_dt(int(r["time"])), Decimal(str(r["income"])))
            if len(rows) < PAGE or not fresh:
                break
            start = max(int(r["time"]) for r in rows)
        return sorted(seen.values(), key=lambda f: (f.ts, f.symbol))
