"""The fake exchange's REST endpoints (USDⓈ-M futures, the subset trifactor and ccxt use)."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fake_binance.account import Rejected
from tests.fake_binance.market import select_klines

if TYPE_CHECKING:
    from tests.fake_binance.server import FakeBinance

PARAMS = web.RequestKey("params", dict)  # the request's query or form parameters, parsed once


def ok(data) -> web.Response:
    return web.Response(text=json.dumps(data), content_type="application/json")


def _int(params: dict, name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise Rejected(400, -1100, f"Illegal characters found in parameter '{name}'.") from None


class RestApi:
    def __init__(self, fake: "FakeBinance") -> None:
        self.fake = fake

    def routes(self) -> list[web.RouteDef]:
        public = {
            "time": self.time, "exchangeInfo": self.exchange_info, "klines": self.klines,
            "fundingRate": self.funding_rate, "premiumIndex": self.premium_index,
            "ticker/price": self.ticker_price, "ticker/24hr": self.ticker_24hr,
        }
        out = [web.get(f"/fapi/v1/{name}", handler) for name, handler in public.items()]
        out.append(web.get("/fapi/v2/ticker/price", self.ticker_price))
        out += [
            web.post("/fapi/v1/leverage", self.leverage),
            web.post("/fapi/v1/marginType", self.margin_type),
            web.post("/fapi/v1/order", self.new_order),
            web.get("/fapi/v1/order", self.get_order),
            web.delete("/fapi/v1/allOpenOrders", self.cancel_all),
            web.get("/fapi/v1/openOrders", self.open_orders),
            web.get("/fapi/v1/userTrades", self.user_trades),
            web.get("/fapi/v1/positionSide/dual", self.position_mode),
            web.get("/fapi/v1/income", self.income),
            web.post("/fapi/v1/listenKey", self.create_listen_key),
            web.put("/fapi/v1/listenKey", self.keep_alive_listen_key),
            web.delete("/fapi/v1/listenKey", self.close_listen_key),
            web.post("/fapi/v1/algoOrder", self.new_algo_order),
            web.get("/fapi/v1/openAlgoOrders", self.open_algo_orders),
            web.delete("/fapi/v1/algoOpenOrders", self.cancel_algo_orders),
        ]
        for version in ("v2", "v3"):
            out += [
                web.get(f"/fapi/{version}/positionRisk", self.position_risk),
                web.get(f"/fapi/{version}/balance", self.balance),
                web.get(f"/fapi/{version}/account", self.account),
            ]
        return out

    def _symbol(self, params: dict, required: bool = True):
        symbol = params.get("symbol")
        if symbol is None:
            if required:
                raise Rejected(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
            return None
        if symbol not in self.fake.rules:
            raise Rejected(400, -1121, "Invalid symbol.")
        return self.fake.market(symbol)

    # public -------------------------------------------------------------------------------
    async def time(self, request: web.Request) -> web.Response:
        return ok({"serverTime": self.fake.now_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        return ok({
            "timezone": "UTC", "serverTime": self.fake.now_ms(), "futuresType": "U_MARGINED",
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                           {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [r.exchange_info_row() for r in self.fake.rules.values()],
        })

    async def klines(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        market = self._symbol(params)
        if params.get("interval") != "1m":
            raise Rejected(400, -1120, "Invalid interval.")
        limit = _int(params, "limit", 500)
        if not 1 <= limit <= 1500:
            raise Rejected(400, -1130, "Data sent for parameter 'limit' is not valid.")
        rows = select_klines(market.klines, _int(params, "startTime"), _int(params, "endTime"), limit)
        return ok(rows)

    async def funding_rate(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        market = self._symbol(params)
        start, end = _int(params, "startTime"), _int(params, "endTime")
        limit = min(_int(params, "limit", 100), 1000)
        rows = [f for f in market.funding
                if (start is None or f["fundingTime"] >= start) and (end is None or f["fundingTime"] <= end)]
        return ok(rows[:limit] if start is not None else rows[-limit:])

    def _premium(self, market) -> dict:
        now = self.fake.now_ms()
        return {"symbol": market.rules.symbol, "markPrice": f"{market.mark_price:.8f}",
                "indexPrice": f"{market.mark_price:.8f}", "estimatedSettlePrice": f"{market.mark_price:.8f}",
                "lastFundingRate": f"{market.funding_rate:.8f}", "interestRate": "0.00010000",
                "nextFundingTime": (now // 28_800_000 + 1) * 28_800_000, "time": now}

    async def premium_index(self, request: web.Request) -> web.Response:
        market = self._symbol(request[PARAMS], required=False)
        if market is not None:
            return ok(self._premium(market))
        return ok([self._premium(self.fake.market(s)) for s in self.fake.rules])

    async def ticker_price(self, request: web.Request) -> web.Response:
        market = self._symbol(request[PARAMS], required=False)
        rows = [market] if market is not None else [self.fake.market(s) for s in self.fake.rules]
        out = [{"symbol": m.rules.symbol, "price": f"{m.price:.8f}", "time": self.fake.now_ms()} for m in rows]
        return ok(out[0] if market is not None else out)

    async def ticker_24hr(self, request: web.Request) -> web.Response:
        market = self._symbol(request[PARAMS], required=False)
        rows = [market] if market is not None else [self.fake.market(s) for s in self.fake.rules]
        out = []
        for m in rows:
            day = m.klines[-1440:]
            first = float(day[0][1]) if day else m.price
            vol = sum(float(k[5]) for k in day)
            out.append({"symbol": m.rules.symbol, "priceChange": f"{m.price - first:.8f}",
                        "priceChangePercent": f"{(m.price / first - 1) * 100:.3f}",
                        "weightedAvgPrice": f"{m.price:.8f}",
                        "lastPrice": f"{m.price:.8f}", "lastQty": "1", "openPrice": f"{first:.8f}",
                        "highPrice": max((k[2] for k in day), default=f"{m.price:.8f}", key=float),
                        "lowPrice": min((k[3] for k in day), default=f"{m.price:.8f}", key=float),
                        "volume": f"{vol:.8f}", "quoteVolume": f"{vol * m.price:.8f}",
                        "openTime": day[0][0] if day else 0, "closeTime": self.fake.now_ms(),
                        "firstId": 1, "lastId": 2, "count": 2})
        return ok(out[0] if market is not None else out)

    # private ------------------------------------------------------------------------------
    async def leverage(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        market = self._symbol(params)
        lev = _int(params, "leverage")
        if lev is None or not 1 <= lev <= 125:
            raise Rejected(400, -4028, f"Leverage {params.get('leverage')} is not valid")
        self.fake.account.position(market.rules.symbol).leverage = lev
        return ok({"leverage": lev, "maxNotionalValue": "1000000", "symbol": market.rules.symbol})

    async def margin_type(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        market = self._symbol(params)
        wanted = {"ISOLATED": "isolated", "CROSSED": "cross"}.get(params.get("marginType", "").upper())
        if wanted is None:
            raise Rejected(400, -4044, "The margin type is not valid.")
        pos = self.fake.account.position(market.rules.symbol)
        if pos.margin_type == wanted:
            raise Rejected(400, -4046, "No need to change margin type.")
        if pos.quantity != 0:
            raise Rejected(400, -4048, "Margin type cannot be changed if there exists position.")
        pos.margin_type = wanted
        return ok({"code": 200, "msg": "success"})

    async def new_order(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        market = self._symbol(params)
        order = self.fake.account.place_market(market, params, self.fake.now_ms(), self.fake.prices)
        self.fake.announce_fill(order, self.fake.account.trades[-1])
        return ok(order)

    async def get_order(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        market = self._symbol(params)
        order_id, client_id = params.get("orderId"), params.get("origClientOrderId")
        for order in self.fake.account.orders:
            if order["symbol"] == market.rules.symbol and (
                    str(order["orderId"]) == order_id or order["clientOrderId"] == client_id):
                return ok(order)
        raise Rejected(400, -2013, "Order does not exist.")

    async def position_mode(self, request: web.Request) -> web.Response:
        return ok({"dualSidePosition": self.fake.account.hedge_mode})

    async def cancel_all(self, request: web.Request) -> web.Response:
        self._symbol(request[PARAMS])
        return ok({"code": 200, "msg": "The operation of cancel all open order is done."})

    async def open_orders(self, request: web.Request) -> web.Response:
        return ok([])

    # conditional orders: Binance's algo service since 2025-12-09 ---------------------------
    async def new_algo_order(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        market = self._symbol(params)
        return ok(self.fake.account.place_algo(market.rules.symbol, params, self.fake.now_ms()))

    async def open_algo_orders(self, request: web.Request) -> web.Response:
        wanted = self._symbol(request[PARAMS], required=False)
        return ok([o for o in self.fake.account.algo_orders
                   if o["algoStatus"] == "NEW" and (wanted is None or o["symbol"] == wanted.rules.symbol)])

    async def cancel_algo_orders(self, request: web.Request) -> web.Response:
        symbol = self._symbol(request[PARAMS]).rules.symbol
        for o in self.fake.account.algo_orders:
            if o["symbol"] == symbol and o["algoStatus"] == "NEW":
                o["algoStatus"] = "CANCELED"
        return ok({"code": 200, "msg": "The operation of cancel all open order is done."})

    async def user_trades(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        market = self._symbol(params)
        order_id = params.get("orderId")
        start, end, from_id = _int(params, "startTime"), _int(params, "endTime"), _int(params, "fromId")
        limit = min(_int(params, "limit", 500), 1000)
        rows = [t for t in self.fake.account.trades if t["symbol"] == market.rules.symbol
                and (order_id is None or str(t["orderId"]) == order_id)
                and (start is None or t["time"] >= start) and (end is None or t["time"] <= end)
                and (from_id is None or t["id"] >= from_id)]
        # With a start (or a first id) Binance pages forward from it; otherwise it shows the newest.
        rows = rows[:limit] if start is not None or from_id is not None else rows[-limit:]
        if self.fake.faults.take_duplicate_trades():
            rows = [t for t in rows for _ in (0, 1)]
        return ok(rows)

    async def income(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        market = self._symbol(params, required=False)
        kind = params.get("incomeType")
        start, end = _int(params, "startTime"), _int(params, "endTime")
        limit = min(_int(params, "limit", 100), 1000)
        rows = [r for r in self.fake.account.income
                if (market is None or r["symbol"] == market.rules.symbol) and (kind is None or r["incomeType"] == kind)
                and (start is None or r["time"] >= start) and (end is None or r["time"] <= end)]
        return ok(rows[:limit] if start is not None else rows[-limit:])

    async def create_listen_key(self, request: web.Request) -> web.Response:
        return ok({"listenKey": self.fake.user_streams.create()})

    async def keep_alive_listen_key(self, request: web.Request) -> web.Response:
        self.fake.user_streams.keep_alive()
        return ok({"listenKey": self.fake.user_streams.listen_key})

    async def close_listen_key(self, request: web.Request) -> web.Response:
        self.fake.user_streams.close_key()
        return ok({})

    async def position_risk(self, request: web.Request) -> web.Response:
        wanted = self._symbol(request[PARAMS], required=False)
        v3 = "/v3/" in request.path
        rows = []
        for pos in self.fake.account.positions.values():
            if wanted is not None and pos.symbol != wanted.rules.symbol:
                continue
            if v3 and pos.quantity == 0:
                continue  # v3 lists only symbols with a position
            mark = Decimal(str(self.fake.market(pos.symbol).mark_price))
            row = {"symbol": pos.symbol, "positionSide": "BOTH", "positionAmt": str(pos.quantity),
                   "entryPrice": str(pos.entry_price), "breakEvenPrice": str(pos.entry_price),
                   "markPrice": str(mark), "unRealizedProfit": str((mark - pos.entry_price) * pos.quantity),
                   "liquidationPrice": str(pos.liquidation_price()), "notional": str(pos.quantity * mark), "marginAsset": "USDT",
                   "isolatedMargin": "0", "isolatedWallet": "0", "adl": 0, "updateTime": self.fake.now_ms(),
                   "initialMargin": str(abs(pos.quantity * mark) / pos.leverage), "maintMargin": "0"}
            if not v3:
                row.update({"leverage": str(pos.leverage), "marginType": pos.margin_type,
                            "isAutoAddMargin": "false", "maxNotionalValue": "1000000"})
            rows.append(row)
        return ok(rows)

    def _unrealized(self) -> Decimal:
        total = Decimal(0)
        for pos in self.fake.account.positions.values():
            mark = Decimal(str(self.fake.market(pos.symbol).mark_price))
            total += (mark - pos.entry_price) * pos.quantity
        return total

    async def balance(self, request: web.Request) -> web.Response:
        acct = self.fake.account
        available = acct.wallet - acct.used_margin(self.fake.prices())
        return ok([{"accountAlias": "FakeAcct", "asset": "USDT", "balance": str(acct.wallet),
                    "crossWalletBalance": str(acct.wallet), "crossUnPnl": str(self._unrealized()),
                    "availableBalance": str(available), "maxWithdrawAmount": str(available),
                    "marginAvailable": True, "updateTime": self.fake.now_ms()}])

    async def account(self, request: web.Request) -> web.Response:
        acct = self.fake.account
        unrealized = self._unrealized()
        return ok({"totalWalletBalance": str(acct.wallet), "totalUnrealizedProfit": str(unrealized),
                   "totalMarginBalance": str(acct.wallet + unrealized),
                   "availableBalance": str(acct.wallet - acct.used_margin(self.fake.prices())),
                   "assets": [{"asset": "USDT", "walletBalance": str(acct.wallet),
                               "unrealizedProfit": str(unrealized)}], "positions": []})
