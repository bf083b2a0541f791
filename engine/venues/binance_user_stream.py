"""Our orders' trades as Binance's user-data stream pushes them (ORDER_TRADE_UPDATE).

The venue takes an order's fills from here when the stream is up, and reads the trade list
over REST only when the stream has not delivered them within a moment (down, silent, late).
That spares the requests per order that a flatten of many positions would otherwise cost.

ccxt.pro (4.5) creates the listenKey and connects `/private/ws?listenKey=...`, but renews the
key only once (its rescheduling looks for subscriptions on client objects as if they were
dicts), ignores `listenKeyExpired`, and keeps a key whose renewal failed until its own 20-minute
window has passed. So the key is renewed here every 20 minutes (Binance lets it lapse after
60), and a dropped stream, an expired key or a refused renewal (-1125) always starts over
with a fresh key (Binance hands back the same one while it is still valid).
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from decimal import Decimal
from typing import Awaitable, Callable, TypeVar

import ccxt

from engine.feeds.binance_bars import ms_to_dt
from engine.model import Fill, Mode, OrderRequest
from engine.tasks import cancel_and_wait

T = TypeVar("T")
log = logging.getLogger("trifactor.venue.binance")
KEEP_ALIVE_S = 20 * 60.0
KEPT_ORDERS = 5_000  # orders whose streamed trades are kept for a venue call to collect
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 30.0
TRADE_FIELDS = ("c", "i", "t", "l", "L", "T")


def fill_from_stream(mode: Mode, order: OrderRequest, o: dict) -> Fill:
    """One ORDER_TRADE_UPDATE trade: the same trade id, price, fee and PnL as userTrades lists."""
    return Fill(
        mode=mode, symbol=order.symbol, side=order.side, quantity=Decimal(str(o["l"])), price=Decimal(str(o["L"])),
        fee=Decimal(str(o.get("n") or "0")), fee_asset=o.get("N") or "USDT", ts=ms_to_dt(int(o["T"])),
        client_order_id=order.client_order_id, trade_id=str(o["t"]), exchange_order_id=str(o["i"]),
        is_maker=bool(o.get("m", False)), realized_pnl=Decimal(str(o.get("rp") or "0")),
    )


class UserTradeStream:
    def __init__(self, client, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._client = client
        self._sleep = sleep
        self._trades: OrderedDict[str, dict[str, dict]] = OrderedDict()  # client order id -> trade id -> event
        self._arrived = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._keeping: asyncio.Task | None = None
        self.keep_alive_s = KEEP_ALIVE_S
        client.order_tap = self.on_order_update
        client.on_listen_key_expired = self._expired
        # Positions are read over REST when needed; the stream need not fetch a snapshot of them.
        client.options.setdefault("watchPositions", {})["fetchPositionsSnapshot"] = False

    # what the client's stream hands us ----------------------------------------------------------
    def on_order_update(self, o: dict) -> None:
        if o.get("x") != "TRADE" or not all(o.get(k) not in (None, "") for k in TRADE_FIELDS):
            return
        trades = self._trades.setdefault(str(o["c"]), {})
        trades[str(o["t"])] = o
        self._trades.move_to_end(str(o["c"]))
        while len(self._trades) > KEPT_ORDERS:
            self._trades.popitem(last=False)
        # Wake every waiter; each takes the next event before it looks, so none misses an arrival.
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()

    def _expired(self) -> None:
        log.warning("Binance: the user-data stream's listenKey expired; reconnecting with a new one")
        self._start_over()

    def _start_over(self) -> None:
        ws = self._ws()
        self._forget_key()
        if ws is not None:
            # A connection we close ourselves leaves ccxt's watch waiting for ever: end it first.
            ws.reject(ccxt.NetworkError("the user-data stream's listenKey is no longer valid"))
            asyncio.ensure_future(ws.close())

    # what the venue asks ------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        """Connected with a listenKey Binance accepted (it may still be silent)."""
        ws = self._ws()
        if ws is None or ws.closed() or not ws.connected.done() or ws.connected.cancelled():
            return False
        return ws.connected.exception() is None

    def settled(self, client_order_id: str) -> tuple[str, list[dict]] | None:
        """(exchange order id, trades) of an order the stream has seen fill completely, else None."""
        trades = list(self._trades.get(client_order_id, {}).values())
        if not trades:
            return None
        last = max(trades, key=lambda t: Decimal(str(t.get("z") or "0")))
        total = sum((Decimal(str(t["l"])) for t in trades), Decimal(0))
        if last.get("X") != "FILLED" or total != Decimal(str(last.get("z") or "-1")):
            return None
        return str(last["i"]), trades

    async def trades_for(self, client_order_id: str, quantity: Decimal, timeout: float) -> list[dict] | None:
        """The order's streamed trades once they add up to `quantity`; None if they do not in time."""
        def complete() -> list[dict] | None:
            trades = list(self._trades.get(client_order_id, {}).values())
            return trades if sum((Decimal(str(t["l"])) for t in trades), Decimal(0)) >= quantity else None
        return await self._within(complete, timeout)

    async def settled_within(self, client_order_id: str, timeout: float) -> tuple[str, list[dict]] | None:
        return await self._within(lambda: self.settled(client_order_id), timeout)

    async def _within(self, look: Callable[[], T | None], timeout: float) -> T | None:
        if timeout <= 0:
            return look()

        async def wait() -> T:
            while True:
                arrived = self._arrived
                found = look()
                if found is not None:
                    return found
                await arrived.wait()
        try:
            return await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            return None

    # the connection -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        if self._keeping is None or self._keeping.done():
            self._keeping = asyncio.ensure_future(self._keep_alive())

    async def _keep_alive(self) -> None:
        while True:
            await self._sleep(self.keep_alive_s)
            if self._ws() is None:
                continue  # not connected: the next connection creates (or gets back) the key
            try:
                await self._client.fapiPrivatePutListenKey()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - -1125 (expired) or no answer: start over with a new key
                log.warning("Binance: renewing the user-data listenKey failed (%s); reconnecting with a new one",
                            type(e).__name__)
                self._start_over()

    async def _run(self) -> None:
        wait = FIRST_RETRY_S
        while True:
            try:
                await self._client.watch_orders()
                wait = FIRST_RETRY_S
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the stream is a convenience: REST covers while it is down
                log.warning("Binance: user-data stream interrupted (%s); fills come over REST until it is back",
                            type(e).__name__)
                self._forget_key()
                await self._sleep(wait)
                wait = min(wait * 2, MAX_RETRY_S)

    def _ws(self):
        key = self._client.options.get("linear", {}).get("listenKey")
        if not key:
            return None
        return self._client.clients.get(self._client.get_private_ws_url("linear", key))

    def _forget_key(self) -> None:
        options = self._client.options.get("linear")
        if isinstance(options, dict):
            options.update(listenKey=None, lastAuthenticatedTime=0)

    async def close(self) -> None:
        await cancel_and_wait(self._task, self._keeping)
        self._task = self._keeping = None
