"""A fake Binance USDⓈ-M exchange on 127.0.0.1 that the real ccxt can talk to.

    async with FakeBinance(symbols=["BTCUSDT", "ETHUSDT"]) as fake:
        config = from_mapping({"market": "binance", "exchange": {"base_url": fake.base_url}, ...})
        await fake.push_kline("BTCUSDT")          # next closed bar, stored and streamed
        fake.fail_next("/fapi/v1/order", status=400, code=-2019)

Signed endpoints check the API key header, the HMAC-SHA256 signature and the timestamp
exactly as Binance does. Every request is recorded (`fake.requests`).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fake_binance.account import Account, Position, Rejected
from tests.fake_binance.faults import FaultBook
from tests.fake_binance.market import MINUTE_MS, SymbolMarket, SymbolRules, generate_market
from tests.fake_binance.rest import PARAMS, RestApi
from tests.fake_binance.streams import StreamHub
from tests.fake_binance.streaming import StreamPusher
from tests.fake_binance.user_stream import UserStreams, account_update, order_trade_update

API_KEY = "fake-api-key-0123456789"
API_SECRET = "fake-api-secret-9876543210"
PRIVATE = {"leverage", "marginType", "order", "allOpenOrders", "openOrders", "userTrades", "positionRisk",
           "balance", "account", "dual", "income", "algoOrder", "openAlgoOrders", "algoOpenOrders"}
KEY_ONLY = {"listenKey"}  # user-stream endpoints: the API key header, no signature
# Listed but never tradable by trifactor: a quarterly contract, a USDC perpetual, a delisted one.
OTHER_LISTINGS = (
    SymbolRules("BTCUSDT_260626", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), Decimal("5"), 66000.0,
                contract_type="CURRENT_QUARTER"),
    SymbolRules("BTCUSDC", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), Decimal("5"), 65000.0, quote="USDC"),
    SymbolRules("OLDUSDT", Decimal("0.0001"), Decimal("1"), Decimal("1"), Decimal("5"), 1.0, status="SETTLING"),
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    host: str
    signed: bool
    params: dict  # query and form parameters together


class FakeBinance(StreamPusher):
    def __init__(self, symbols=("BTCUSDT", "ETHUSDT"), *, history_bars: int = 1500, seed: int = 7,
                 wallet: Decimal | str = "10000", api_key: str = API_KEY, api_secret: str = API_SECRET,
                 other_listings: bool = True, port: int = 0) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.history_bars, self.seed = history_bars, seed
        self.rules: dict[str, SymbolRules] = {s: SymbolRules.for_symbol(s) for s in symbols}
        if other_listings:
            self.rules.update({r.symbol: r for r in OTHER_LISTINGS})
        self.account = Account(wallet=Decimal(wallet))
        self.faults = FaultBook()
        self.hub = StreamHub()
        self.user_streams = UserStreams(self.now_ms)
        self._pushes: set[asyncio.Task] = set()
        self.requests: list[RecordedRequest] = []
        self.clock_skew_ms = 0
        self._markets: dict[str, SymbolMarket] = {}
        self._end_open_ms = (int(time.time() * 1000) // MINUTE_MS - 1) * MINUTE_MS
        self._runner: web.AppRunner | None = None
        self.port = port  # 0: any free port

    # lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> "FakeBinance":
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(RestApi(self).routes())
        app.router.add_get("/private/ws", self.user_streams.handle)  # ahead of the market streams' /{cat}/ws
        for path in ("/ws", "/ws/{n}", "/{cat}/ws", "/{cat}/ws/{n}", "/stream", "/{cat}/stream"):
            app.router.add_get(path, self.hub.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        for task in list(self._pushes):
            task.cancel()
        await self.hub.drop_all()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_skew_ms

    # state ----------------------------------------------------------------------------------
    def market(self, symbol: str) -> SymbolMarket:
        if symbol not in self._markets:
            self._markets[symbol] = generate_market(self.rules[symbol], self._end_open_ms, self.history_bars, self.seed)
        return self._markets[symbol]

    def prices(self) -> dict[str, Decimal]:
        return {s: Decimal(str(m.price)) for s, m in self._markets.items()}

    def set_price(self, symbol: str, price: float) -> None:
        market = self.market(symbol)
        market.price = market.mark_price = float(price)

    def settle_funding(self, symbol: str, funding_ms: int, rate: float) -> None:
        """Publish a settlement in the funding history, as the exchange does just after a funding time."""
        market = self.market(symbol)
        market.funding.append({"symbol": symbol, "fundingTime": funding_ms, "fundingRate": f"{rate:.8f}",
                               "markPrice": f"{market.mark_price:.8f}"})
        market.funding_rate = rate

    def set_position(self, symbol: str, quantity, entry_price=None, leverage: int | None = None) -> Position:
        pos = self.account.position(symbol)
        pos.quantity = Decimal(str(quantity))
        pos.entry_price = Decimal(str(entry_price if entry_price is not None else self.market(symbol).price))
        if leverage is not None:
            pos.leverage = leverage
        return pos

    @property
    def orders(self) -> list[dict]:
        return self.account.orders

    @property
    def trades(self) -> list[dict]:
        return self.account.trades

    @property
    def positions(self) -> dict[str, Decimal]:
        """Open positions: symbol -> signed quantity."""
        return {s: p.quantity for s, p in self.account.positions.items() if p.quantity != 0}

    @property
    def wallet(self) -> Decimal:
        return self.account.wallet

    def pay_funding(self, symbol: str, amount, time_ms: int | None = None) -> dict:
        """Settle a funding fee (signed USDT) into the wallet and the income history."""
        return self.account.pay_funding(symbol, Decimal(str(amount)), time_ms if time_ms is not None else self.now_ms())

    # user-data stream -------------------------------------------------------------------------
    def announce_fill(self, order: dict, trade: dict) -> None:
        """Push an order's fill on the user-data stream, in the background as Binance does (the
        event may arrive before or after the order's REST answer)."""
        now = self.now_ms()
        events = [order_trade_update(order, trade, now),
                  account_update(self.account.wallet, self.account.position(order["symbol"]), now)]

        async def push() -> None:
            for event in events:
                await self.user_streams.publish(event)
        task = asyncio.ensure_future(push())
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    async def push_user_event(self, event: dict) -> int:
        return await self.user_streams.publish(event)

    async def expire_listen_key(self) -> None:
        await self.user_streams.expire()

    def silence_user_stream(self, silent: bool = True) -> None:
        """Keep user-data connections open but send them nothing (or resume)."""
        self.user_streams.silent = silent

    # faults -----------------------------------------------------------------------------------
    def fail_next(self, path: str, status: int = 400, code: int | None = None, msg: str | None = None,
                  retry_after: int | None = None, times: int = 1, method: str | None = None) -> None:
        """Answer the next `times` requests to `path` with this error instead of serving them."""
        self.faults.fail_next(path, status, code, msg, retry_after, times, method)

    def delay(self, path: str, seconds: float, times: int | None = None) -> None:
        """Answer requests to `path` `seconds` late (the next `times` requests, or all).

        The request is acted on at once, as when the exchange is slow to reply.
        """
        self.faults.delay(path, seconds, times)

    def outage(self, path: str, seconds: float, method: str | None = None, reset: bool = False,
               from_first_request: bool = False) -> None:
        """For the next `seconds` (counted from the first request to `path` with
        `from_first_request`), requests to `path` are not acted on: each gets a 503, or with
        `reset` its connection is cut without an answer."""
        self.faults.outage(path, seconds, method, reset, from_first_request)

    def ban(self, seconds: float, status: int = 418, path: str | None = None) -> None:
        """For the next `seconds`, every REST request (or those to `path`) gets `status` (418 ban or
        429) with a Retry-After counting down to the end."""
        self.faults.ban(seconds, status, path)

    def garble(self, path: str, body: str = "truncated", *, executed: bool = True, method: str | None = None,
               times: int = 1) -> None:
        """Answer the next `times` requests to `path` with HTTP 200 and a `body` that is not the JSON
        expected: "truncated" (the real answer cut in half), "html" or "empty". With `executed` the
        request is acted on first (an order is placed); without, it is not."""
        self.faults.garble(path, body, executed, method, times)

    def duplicate_trades(self, answers: int = 1) -> None:
        """The next `answers` userTrades answers list every trade twice."""
        self.faults.duplicate_trade_answers += answers

    def hold(self, path: str) -> asyncio.Event:
        """Keep answers to `path` back until the returned event is set (requests are acted on)."""
        return self.faults.hold(path)

    async def drop_streams(self) -> int:
        """Cut every websocket connection; returns how many were cut."""
        return await self.hub.drop_all()

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # HTTP plumbing ----------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        name = request.path.rsplit("/", 1)[-1]
        private = request.path.startswith("/fapi/") and name in PRIVATE
        key_only = request.path.startswith("/fapi/") and name in KEY_ONLY
        raw = request.query_string if request.method in ("GET", "DELETE") else await request.text()
        request[PARAMS] = dict(parse_qsl(raw, keep_blank_values=True))
        self.requests.append(RecordedRequest(request.method, request.path, request.query_string,
                                             request.host, private, request[PARAMS]))
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        response = await self._answer(request, handler, private, raw, key_only)
        # A slow answer, not a slow exchange: the request has been acted on already.
        pause = self.faults.take_delay(request.path)
        if pause:
            await asyncio.sleep(pause)
        await self.faults.wait_holds(request.path)
        return response

    async def _answer(self, request: web.Request, handler, private: bool, raw: str,
                      key_only: bool = False) -> web.StreamResponse:
        banned = self.faults.take_ban(request.path)
        if banned is not None:
            return banned
        outage = self.faults.take_outage(request.method, request.path)
        if outage is not None:
            if outage.reset and request.transport is not None:
                request.transport.abort()  # the client sees the connection reset, no answer at all
            return web.Response(status=503, text="Service Unavailable", content_type="text/plain")
        fault = self.faults.take_fault(request.method, request.path)
        if fault is not None:
            return fault.response()
        garble = self.faults.take_garble(request.method, request.path)
        if garble is not None and not garble.executed:
            return garble.response(None)
        try:
            if private:
                self._authenticate(request, raw)
            elif key_only and request.headers.get("X-MBX-APIKEY") != self.api_key:
                raise Rejected(401, -2015, "Invalid API-key, IP, or permissions for action.")
            response = await handler(request)
        except Rejected as r:
            response = web.Response(status=r.status, text=json.dumps({"code": r.code, "msg": r.msg}),
                                    content_type="application/json")
        return garble.response(response) if garble is not None else response

    def _authenticate(self, request: web.Request, raw: str) -> None:
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            raise Rejected(401, -2015, "Invalid API-key, IP, or permissions for action.")
        payload, sep, signature = raw.rpartition("&signature=")
        expected = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not sep or not hmac.compare_digest(signature, expected):
            raise Rejected(400, -1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(payload))
        try:
            stamp = int(params["timestamp"])
        except (KeyError, ValueError):
            raise Rejected(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        window = int(params.get("recvWindow", 5000))
        now = self.now_ms()
        if stamp > now + 1000 or now - stamp > window:
            raise Rejected(400, -1021, "Timestamp for this request is outside of the recvWindow.")
