"""Orders on Binance USDⓈ-M (testnet = futures demo trading, or live) through ccxt.

Market orders only, with our client order ids; fills and fees are what the exchange
reports. `submit` never raises: every outcome is an OrderResult whose message names the
symbol. The other methods raise VenueError. Safe to call concurrently (flatten sends all
closes at once).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal
from typing import Awaitable, Callable

import aiohttp
import ccxt

from engine.config import Config
from engine.exchange import USER_TRADES_WEIGHT, create_client
from engine.exchange_ban import BanInForce
from engine.exchange_errors import (RetryPolicy, binance_answer, connection_failed, describe, is_permanent,
                                    is_rate_limited, is_transient, retry_after, with_retries)
from engine.feeds.base import FeedError
from engine.feeds.binance_universe import instrument_from_info
from engine.model import Fill, FundingIncome, Instrument, Mode, OrderRequest, OrderResult, VenuePosition
from engine.secrets import Secrets
from engine.venues.base import VenueError
from engine.venues.binance_fills import (WORKING, account_rows, fill_from_order, fill_from_trade, is_order_answer,
                                         order_status, position_from_risk, trade_rows)
from engine.venues.binance_history import AccountHistory
from engine.venues.binance_pacer import OrderPacer
from engine.venues.binance_user_stream import UserTradeStream, fill_from_stream

log = logging.getLogger("trifactor.venue.binance")
MARGIN_TYPES = {"isolated": "ISOLATED", "cross": "CROSSED"}
MARGIN_LOCKED = {-4047, -4048}  # margin type cannot change with open orders / an open position
TRADE_LIST_TRIES = 3  # Binance can list an order's trades a moment after the order answer
LOOKUP_TRIES = 3  # lookups by client order id before an outcome is left unknown
LOOKUP_BACKOFF_S = 0.25  # doubles per try
FILLS_HEADROOM = 240  # weight a minute that trade-list reads leave for positions, balance and prices
STREAM_WAIT_S = 1.0  # how long an order's fills may take on the user-data stream before REST is asked


def _never(exc: BaseException) -> bool:
    return False


def _answered_rate_limit(exc: BaseException) -> bool:
    # An order that our own ban held back fails at once rather than waiting it out: it holds the
    # command gate, and a flatten must not queue behind it.
    return is_rate_limited(exc) and not isinstance(exc, BanInForce)


class BinanceCallError(VenueError):
    """A failed request, keeping ccxt's exception so callers can tell a refusal from silence."""

    def __init__(self, message: str, cause: BaseException) -> None:
        super().__init__(message)
        self.cause = cause

    @property
    def never_reached(self) -> bool:
        """Binance turned the request away, or it never left: nothing happened on the exchange.

        An answer cut off in transit (ccxt reports aiohttp's payload errors as ExchangeError) is not
        a refusal: the request may have been acted on.
        """
        c = self.cause
        cut_off = isinstance(c.__cause__, aiohttp.ClientError)
        refused = isinstance(c, (ccxt.ExchangeError, ccxt.InvalidNonce)) and not cut_off
        return refused or is_rate_limited(c) or connection_failed(c)

    @property
    def transient(self) -> bool:
        """Time may fix it (network, timeout, 5xx, rate limit): a start retries it."""
        return is_transient(self.cause)

    @property
    def retry_after(self) -> float | None:
        return retry_after(self.cause)

    @property
    def permanent(self) -> bool:
        return is_permanent(self.cause)


class BinanceVenue:
    def __init__(self, config: Config, secrets: Secrets, mode: Mode | str, *,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self.mode = Mode(mode)
        if self.mode is Mode.PAPER:
            raise VenueError("the Binance venue trades testnet or live; paper mode uses the paper venue")
        keys = secrets.keys_for(self.mode.value)
        if keys is None:
            names = "TRIFACTOR_API_KEY and TRIFACTOR_API_SECRET" if self.mode is Mode.LIVE else \
                "TRIFACTOR_TESTNET_API_KEY and TRIFACTOR_TESTNET_API_SECRET"
            raise VenueError(f"{self.mode.value} trading needs API keys: set {names} "
                             f"(environment or the secrets file)")
        self.retry = retry
        # Orders matter more than market data: the venue may use all of Binance's per-IP weight,
        # the feed half of it (Binance answers any excess with 429 and Retry-After, which is honoured).
        self.client = create_client(config, keys=keys, demo=self.mode is Mode.TESTNET, weight_per_minute=2400)
        self._keys = keys
        self._instruments: dict[str, Instrument] = {}  # this exchange's rules, read as needed
        self._leverage: dict[str, int] = {}
        self._markets_lock = asyncio.Lock()
        self._pacer = OrderPacer()
        self._history = AccountHistory(self._call, self.client, self.mode)
        self._stream = UserTradeStream(self.client)

    # plumbing ---------------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        for key in self._keys:
            text = text.replace(key.reveal(), "****")
        return text

    async def _call(self, subject: str, what: str, endpoint: Callable[[dict], Awaitable], params: dict | None = None,
                    retryable: Callable[[BaseException], bool] = is_transient) -> object:
        """One request: retried as allowed, the clock resynchronised once on -1021."""
        def call() -> Awaitable:
            return endpoint(params or {})

        def note(exc: BaseException, wait: float) -> None:
            log.warning("%s: %s: %s; retrying in %.1f s", subject, what, describe(exc), wait)
        resynced = False
        while True:
            try:
                return await with_retries(call, self.retry, retryable, note)
            except ccxt.InvalidNonce as e:
                if resynced:
                    raise self._error(subject, what, e) from None
                resynced = True
                await self._resync_clock(subject)
            except ccxt.BaseError as e:
                raise self._error(subject, what, e) from None

    def _error(self, subject: str, what: str, exc: BaseException) -> BinanceCallError:
        return BinanceCallError(self._clean(f"{subject}: {what} failed: {describe(exc)}"), exc)

    async def _resync_clock(self, subject: str) -> None:
        log.warning("%s: Binance rejected our timestamp; resynchronising with its clock", subject)
        try:
            await self.client.load_time_difference()
        except ccxt.BaseError as e:
            raise self._error(subject, "reading Binance's clock", e) from None

    async def _ensure_markets(self) -> None:
        async with self._markets_lock:
            if not self.client.markets:
                await self._call("Binance", "loading markets", lambda _: self.client.load_markets())

    def _unified(self, symbol: str) -> str:
        market = next((m for m in self.client.markets_by_id.get(symbol, []) if m.get("linear")), None)
        if market is None:
            raise VenueError(f"{symbol}: not listed on Binance USDⓈ-M futures")
        return market["symbol"]

    def _instrument(self, symbol: str) -> Instrument:
        if symbol not in self._instruments:
            try:
                self._instruments[symbol] = instrument_from_info(self.client.market(self._unified(symbol))["info"])
            except FeedError as e:  # the rules are read by the feed's parser
                raise VenueError(str(e)) from None
        return self._instruments[symbol]

    # Venue ------------------------------------------------------------------------------------
    async def prepare(self, instruments: dict[str, Instrument], leverage: int, margin_mode: str) -> None:
        """Margin mode and leverage on every symbol; raises one VenueError listing every failure.

        Order checks use this exchange's own rules, whatever market data the instruments came from.
        """
        await self._ensure_markets()
        mode = await self._call("Binance", "reading the position mode", self.client.fapiPrivateGetPositionSideDual)
        if mode.get("dualSidePosition") in (True, "true"):
            raise VenueError("the Binance account is in hedge mode; trifactor trades one-way positions: switch "
                             "the futures position mode to one-way (no open positions or orders allowed then)")
        self._stream.start()
        margin_type = MARGIN_TYPES[margin_mode]
        limit = asyncio.Semaphore(10)

        async def one(symbol: str) -> VenueError | None:
            async with limit:
                try:
                    await self._set_margin_type(symbol, margin_type)
                    await self._call(symbol, f"setting leverage {leverage}x", self.client.fapiPrivatePostLeverage,
                                     {"symbol": symbol, "leverage": leverage})
                except VenueError as e:
                    return e
                self._leverage[symbol] = leverage
                return None

        failures = [f for f in await asyncio.gather(*(one(s) for s in instruments)) if f]
        passing = next((f for f in failures if getattr(f, "transient", False)), None)
        if passing is not None:
            raise passing  # the whole set-up is worth another try
        if failures:
            raise VenueError("; ".join(map(str, failures)))

    async def _set_margin_type(self, symbol: str, margin_type: str) -> None:
        try:
            await self._call(symbol, f"setting margin mode {margin_type.lower()}",
                             self.client.fapiPrivatePostMarginType, {"symbol": symbol, "marginType": margin_type})
        except BinanceCallError as e:
            if isinstance(e.cause, ccxt.MarginModeAlreadySet):
                return
            if binance_answer(e.cause)[0] in MARGIN_LOCKED:
                # Binance keeps the margin mode of a symbol with an open position or order; trading
                # on in the mode it has is better than refusing to start.
                log.warning("%s: margin mode stays as it is while a position or order is open", symbol)
                return
            raise

    async def submit(self, order: OrderRequest) -> OrderResult:
        try:
            return await self._submit(order)
        except VenueError as e:
            return OrderResult(order, "error", message=str(e))

    async def _submit(self, order: OrderRequest) -> OrderResult:
        await self._ensure_markets()
        symbol = order.symbol
        inst = self._instrument(symbol)
        try:
            quantity = self.client.amount_to_precision(self._unified(symbol), str(abs(order.quantity)))
        except ccxt.InvalidOrder:
            quantity = "0"
        qty = Decimal(quantity)
        if qty < inst.min_qty or qty <= 0:
            return OrderResult(order, "skipped", message=f"{symbol}: quantity {abs(order.quantity)} truncates to "
                                                         f"{qty}, below the exchange minimum {inst.min_qty}; not sent")
        if not order.reduce_only:  # Binance exempts reduce-only orders from the minimum notional
            price = order.mark_price if order.mark_price > 0 else await self._price(symbol)
            if qty * price < inst.min_notional:
                return OrderResult(order, "skipped", message=f"{symbol}: order notional {qty * price:.2f} USDT is "
                                                             f"below the exchange minimum {inst.min_notional} USDT; "
                                                             f"not sent")
        params = {"symbol": symbol, "side": order.side.value, "type": "MARKET", "quantity": quantity,
                  "newClientOrderId": order.client_order_id, "newOrderRespType": "RESULT"}
        if order.reduce_only:
            params["reduceOnly"] = "true"

        async def place(params: dict) -> dict:
            await self._pacer.wait_turn()
            return await self.client.fapiPrivatePostOrder(params)

        # A flatten retries its closes itself, with a countdown the operator sees and a key that stops it.
        retryable = _never if order.reason == "flatten" else _answered_rate_limit
        try:
            answer = await self._call(symbol, f"{order.side.value} {quantity} market order", place, params,
                                      retryable=retryable)
        except BinanceCallError as e:
            return await self._after_failed_send(order, e)
        if not is_order_answer(answer):
            log.warning("%s: the answer to order %s is not the order Binance should describe; looking it up",
                        symbol, order.client_order_id)
            return await self._settled(order, f"{symbol}: the answer to order {order.client_order_id} was unreadable")
        return await self._result(order, answer)

    async def _after_failed_send(self, order: OrderRequest, error: BinanceCallError) -> OrderResult:
        """Refused: report it. No answer: ask Binance whether the order exists before saying so."""
        if error.never_reached:
            status = "rejected" if isinstance(error.cause, ccxt.ExchangeError) else "error"
            return OrderResult(order, status, message=f"{error}; not placed", permanent=error.permanent)
        return await self._settled(order, str(error))

    async def _settled(self, order: OrderRequest, why: str) -> OrderResult:
        # Just sent: if it filled, the stream is about to say so.
        result = await self.resolve(order, stream_wait_s=STREAM_WAIT_S)
        if result.status == "not_placed":  # a send that failed, as far as the caller is concerned
            return OrderResult(order, "error", message=f"{why}; Binance has no such order: not placed")
        if result.status == "unknown":
            return OrderResult(order, "unknown", message=f"{why}; {result.message}")
        return result

    async def resolve(self, order: OrderRequest, stream_wait_s: float = 0.0) -> OrderResult:
        """What became of an order, looked up by its client order id: its fills, `not_placed` when
        Binance has no such order, or `unknown` while Binance cannot say (it is never resent)."""
        await self._ensure_markets()
        problem = ""
        for attempt in range(LOOKUP_TRIES):
            if attempt:
                await self.retry.sleep(LOOKUP_BACKOFF_S * 2 ** (attempt - 1))
            # The stream may have seen it fill, even while Binance's REST API is unreachable.
            wait = stream_wait_s if attempt == 0 and self._stream.live else 0.0
            streamed = self._stream.settled(order.client_order_id) if not wait else \
                await self._stream.settled_within(order.client_order_id, wait)
            if streamed is not None:
                order_id, trades = streamed
                return OrderResult(order, "filled", tuple(fill_from_stream(self.mode, order, t) for t in trades),
                                   exchange_order_id=order_id)
            try:
                answer = await self._call(order.symbol, f"looking up order {order.client_order_id}",
                                          self.client.fapiPrivateGetOrder,
                                          {"symbol": order.symbol, "origClientOrderId": order.client_order_id})
            except BinanceCallError as e:
                if isinstance(e.cause, ccxt.OrderNotFound):
                    return OrderResult(order, "not_placed",
                                       message=f"{order.symbol}: Binance has no order {order.client_order_id}")
                problem = str(e)
                continue
            if not is_order_answer(answer):
                problem = f"{order.symbol}: the lookup of order {order.client_order_id} answered unreadably"
            elif answer["status"] in WORKING:
                problem = f"{order.symbol}: order {order.client_order_id} is still working on Binance"
            else:
                return await self._result(order, answer, stream_wait_s)
        return OrderResult(order, "unknown", message=f"its outcome is unknown ({problem})")

    async def _result(self, order: OrderRequest, answer: dict, stream_wait_s: float = STREAM_WAIT_S) -> OrderResult:
        status = order_status(answer)
        order_id = str(answer["orderId"])
        if status == "rejected":
            return OrderResult(order, "rejected", exchange_order_id=order_id,
                               message=f"{order.symbol}: order {answer.get('status', '?')} without a fill")
        fills = await self._fills(order, answer, stream_wait_s)
        return OrderResult(order, status, fills=fills, exchange_order_id=order_id)

    async def _fills(self, order: OrderRequest, answer: dict, stream_wait_s: float) -> tuple:
        """The order's trades: from the stream (waiting up to `stream_wait_s` for a fresh order's), else REST."""
        executed = Decimal(str(answer["executedQty"]))
        if self._stream.live:
            streamed = await self._stream.trades_for(order.client_order_id, executed, stream_wait_s)
            if streamed is not None:
                return tuple(fill_from_stream(self.mode, order, t) for t in streamed)
            if stream_wait_s:
                log.warning("%s: the user-data stream did not deliver order %s's fills within %g s; reading them "
                            "over REST", order.symbol, order.client_order_id, stream_wait_s)
        trades: list = []
        for attempt in range(TRADE_LIST_TRIES):
            if not self.client.throttler.try_take(USER_TRADES_WEIGHT, keep=FILLS_HEADROOM):
                log.warning("%s: request weight budget spent: order %s's trades are not read", order.symbol,
                            answer["orderId"])
                break
            try:
                listed = trade_rows(await self._call(order.symbol, "reading the order's trades",
                                                     self.client.fapiPrivateGetUserTrades,
                                                     {"symbol": order.symbol, "orderId": answer["orderId"]}))
                if listed is None:
                    log.warning("%s: the trade list of order %s was unreadable", order.symbol, answer["orderId"])
                else:
                    trades = listed
            except VenueError as e:
                log.warning("%s", e)
            if sum((Decimal(t["qty"]) for t in trades), Decimal(0)) >= executed:
                break
            await self.retry.sleep(0.05 * (attempt + 1))
        fills = [fill_from_trade(self.mode, order, t) for t in trades]
        missing = executed - sum((f.quantity for f in fills), Decimal(0))
        if missing > 0:
            log.warning("%s: %s of order %s is not in Binance's trade list; booked at the order's average "
                        "price without its fee", order.symbol, missing, answer["orderId"])
            fills.append(fill_from_order(self.mode, order, answer, missing))
        return tuple(fills)

    async def fills_since(self, symbols: list[str], since: datetime, ours: Callable[[str], bool]) -> list[Fill]:
        await self._ensure_markets()
        return await self._history.fills_since(symbols, since, ours)

    async def funding_since(self, since: datetime) -> list[FundingIncome]:
        return await self._history.funding_since(since)

    async def _price(self, symbol: str) -> Decimal:
        answer = await self._call(symbol, "reading the price", self.client.fapiPublicGetTickerPrice, {"symbol": symbol})
        return Decimal(answer["price"])

    async def cancel_all(self, symbol: str | None = None) -> None:
        """Plain and conditional orders: since 2025-12-09 Binance keeps stops and take-profits in its
        algo service, with their own list and cancel endpoints. Only symbols with orders are cancelled."""
        subject, scope = symbol or "Binance", {"symbol": symbol} if symbol else {}
        plain, algo = await asyncio.gather(
            self._call(subject, "listing open orders", self.client.fapiPrivateGetOpenOrders, scope),
            self._call(subject, "listing open conditional orders", self.client.fapiPrivateGetOpenAlgoOrders, scope))
        cancels = [self._call(s, "cancelling open orders", self.client.fapiPrivateDeleteAllOpenOrders, {"symbol": s})
                   for s in sorted({row["symbol"] for row in plain})]
        cancels += [self._call(s, "cancelling open conditional orders", self.client.fapiPrivateDeleteAlgoOpenOrders,
                               {"symbol": s}) for s in sorted({row["symbol"] for row in algo})]
        await asyncio.gather(*cancels)

    def rate_limited_for(self) -> float:
        return self.client.ban.remaining()

    async def positions(self) -> dict[str, VenuePosition]:
        rows = account_rows(await self._call("Binance", "reading positions", self.client.fapiPrivateV3GetPositionRisk),
                            ("positionAmt", "entryPrice"))
        if rows is None:  # an unreadable answer is not "flat"
            raise VenueError("Binance: the positions answer was unreadable")
        out = {}
        for row in rows:
            if Decimal(row["positionAmt"]) != 0:
                out[row["symbol"]] = position_from_risk(row, self._leverage.get(row["symbol"], 1))
        return out

    async def balance(self) -> Decimal:
        rows = account_rows(await self._call("Binance", "reading the balance", self.client.fapiPrivateV3GetBalance),
                            ("balance",))
        if rows is None:
            raise VenueError("Binance: the balance answer was unreadable")
        for row in rows:
            if row.get("asset") == "USDT":
                return Decimal(row["balance"])
        return Decimal(0)

    async def close(self) -> None:
        await self._stream.close()
        await self.client.close()
