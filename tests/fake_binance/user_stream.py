"""The fake exchange's user-data stream: listenKeys and the private websocket.

As on Binance USDⓈ-M: `POST /fapi/v1/listenKey` creates the account's key (or returns the
active one, extended); `PUT` keeps it alive and answers -1125 once it has expired; the stream
is `/private/ws?listenKey=...`. Every fill is pushed as ORDER_TRADE_UPDATE then ACCOUNT_UPDATE.
A test can expire the key (the stream gets `listenKeyExpired`, then is closed) or silence the
stream: connections stay open but receive nothing.
"""
from __future__ import annotations

import asyncio
import json
import secrets
from decimal import Decimal
from typing import Callable

from aiohttp import WSMsgType, web

from tests.fake_binance.account import Position, Rejected


def order_trade_update(order: dict, trade: dict, now_ms: int) -> dict:
    """The ORDER_TRADE_UPDATE of one market order's (single) trade."""
    return {"e": "ORDER_TRADE_UPDATE", "E": now_ms, "T": trade["time"], "o": {
        "s": order["symbol"], "c": order["clientOrderId"], "S": order["side"], "o": "MARKET", "f": "GTC",
        "q": order["origQty"], "p": "0", "ap": order["avgPrice"], "sp": "0", "x": "TRADE", "X": order["status"],
        "i": order["orderId"], "l": trade["qty"], "z": order["executedQty"], "L": trade["price"],
        "N": trade["commissionAsset"], "n": trade["commission"], "T": trade["time"], "t": trade["id"],
        "b": "0", "a": "0", "m": trade["maker"], "R": order["reduceOnly"], "wt": "CONTRACT_PRICE",
        "ot": "MARKET", "ps": "BOTH", "cp": False, "rp": trade["realizedPnl"], "pP": False, "si": 0, "ss": 0,
        "V": "NONE", "pm": "NONE", "gtd": 0}}


def account_update(wallet: Decimal, position: Position, now_ms: int) -> dict:
    return {"e": "ACCOUNT_UPDATE", "E": now_ms, "T": now_ms, "a": {
        "m": "ORDER", "B": [{"a": "USDT", "wb": str(wallet), "cw": str(wallet), "bc": "0"}],
        "P": [{"s": position.symbol, "pa": str(position.quantity), "ep": str(position.entry_price),
               "bep": str(position.entry_price), "cr": "0", "up": "0", "mt": position.margin_type, "iw": "0",
               "ps": "BOTH"}]}}


class UserStreams:
    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self.listen_key: str | None = None  # the account's active key
        self.expired: set[str] = set()
        self.created = 0
        self.keep_alives = 0
        self.silent = False  # connections stay open but get nothing
        self._connections: dict[web.WebSocketResponse, str] = {}
        self._changed = asyncio.Event()

    # REST -------------------------------------------------------------------------------------
    def create(self) -> str:
        if self.listen_key is None:
            self.listen_key = secrets.token_hex(32)
        self.created += 1
        return self.listen_key

    def keep_alive(self) -> None:
        if self.listen_key is None:
            raise Rejected(400, -1125, "This listenKey does not exist.")
        self.keep_alives += 1

    def close_key(self) -> None:
        self.listen_key = None

    # the stream -------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        key = request.query.get("listenKey", "")
        if key != self.listen_key:
            await ws.close(code=1008, message=b"invalid listenKey")
            return ws
        self._connections[ws] = key
        self._changed.set()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._connections.pop(ws, None)
            self._changed.set()
        return ws

    def connections(self) -> int:
        return sum(1 for ws in self._connections if not ws.closed)

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        async def loop() -> None:
            while self.connections() < count:
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(loop(), timeout)

    async def publish(self, event: dict) -> int:
        """Send one event to every open user-data connection (none while silent)."""
        if self.silent:
            return 0
        raw = json.dumps(event)
        conns = [ws for ws, key in self._connections.items() if key == self.listen_key and not ws.closed]
        results = await asyncio.gather(*(ws.send_str(raw) for ws in conns), return_exceptions=True)
        return sum(1 for r in results if not isinstance(r, Exception))

    async def expire(self) -> None:
        """The key lapses: its connections get `listenKeyExpired` and are closed; PUT answers -1125."""
        key, self.listen_key = self.listen_key, None
        if key is None:
            return
        self.expired.add(key)
        event = json.dumps({"e": "listenKeyExpired", "E": self._now_ms(), "listenKey": key})
        conns = [ws for ws, k in self._connections.items() if k == key]
        for ws in conns:
            if not ws.closed:
                await ws.send_str(event)
        await asyncio.gather(*(ws.close(code=1000, message=b"listenKey expired") for ws in conns),
                             return_exceptions=True)
