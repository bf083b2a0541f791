"""ccxt clients for Binance USDⓈ-M: URLs, options, the error table and raw stream taps.

One factory so the feed and the venue talk to Binance the same way. `exchange.base_url`
points every REST and websocket URL elsewhere (a proxy, a mirror, the tests' fake).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

import ccxt
import ccxt.pro

from engine.config import Config, ConfigError
from engine.exchange_ban import Ban, ban_for
from engine.exchange_budget import WeightBudget
from engine.secrets import Secret

log = logging.getLogger("trifactor.exchange")


# Requests ccxt must not hold back. New futures orders weigh nothing against Binance's per-IP
# weight (they count against the account's order limits, paced by the venue); an order's trade
# list is paid for by the venue itself, which would rather report a fill without its fee than
# let a flatten wait up to a minute for budget.
UNTHROTTLED = {("POST", "order"), ("GET", "userTrades")}
USER_TRADES_WEIGHT = 5


class StreamTap(Protocol):
    """Receives the raw stream events ccxt would otherwise reduce (ccxt's OHLCV drops `x` and `V`)."""

    def on_kline(self, event: dict) -> None: ...

    def on_mark_price(self, event: dict) -> None: ...

    def on_agg_trade(self, event: dict) -> None: ...


class BinanceClient(ccxt.pro.binanceusdm):
    """ccxt's USDⓈ-M client with raw stream taps and the Retry-After of rate-limit answers."""

    tap: StreamTap | None = None
    order_tap: Callable[[dict], None] | None = None  # each ORDER_TRADE_UPDATE's order ("o"), raw
    on_listen_key_expired: Callable[[], None] | None = None

    def __init__(self, config: dict | None = None) -> None:
        super().__init__(config or {})
        self.ban = Ban()  # create_client gives it the one ban of its API host instead

    def handle_ohlcv(self, client: Any, message: dict) -> None:
        if self.tap is not None and message.get("e") == "kline":
            _guarded(self.tap.on_kline, message)
        _guarded(super().handle_ohlcv, client, message)

    def handle_mark_prices(self, client: Any, message: Any) -> None:
        if self.tap is not None:
            for event in message if isinstance(message, list) else [message]:
                _guarded(self.tap.on_mark_price, event)
        _guarded(super().handle_mark_prices, client, message)

    def handle_trade(self, client: Any, message: dict) -> None:
        if self.tap is not None and message.get("e") == "aggTrade":
            _guarded(self.tap.on_agg_trade, message)
        _guarded(super().handle_trade, client, message)

    def handle_order_update(self, client: Any, message: dict) -> None:
        order = message.get("o") if message.get("e") == "ORDER_TRADE_UPDATE" else None
        if self.order_tap is not None and isinstance(order, dict):
            _guarded(self.order_tap, order)
        _guarded(super().handle_order_update, client, message)

    def handle_message(self, client: Any, message: Any) -> None:
        # ccxt ignores this event; the stream then stays connected but says nothing more.
        if isinstance(message, dict) and message.get("e") == "listenKeyExpired" and self.on_listen_key_expired:
            _guarded(self.on_listen_key_expired)
            return
        super().handle_message(client, message)

    def calculate_rate_limiter_cost(self, api, method, path, params, config={}):
        if api and api[0] == "fapiPrivate" and (method, path) in UNTHROTTLED:
            return 0
        return super().calculate_rate_limiter_cost(api, method, path, params, config)

    async def throttle(self, cost=None):
        self.ban.check()  # before spending request weight on a request that cannot go out
        return await super().throttle(cost)

    async def fetch(self, url, method="GET", headers=None, body=None):
        self.ban.check()  # a ban may have started while this request waited for its weight
        return await super().fetch(url, method, headers, body)

    def handle_errors(self, code, reason, url, method, headers, body, response, request_headers, request_body):
        try:
            return super().handle_errors(code, reason, url, method, headers, body, response,
                                         request_headers, request_body)
        except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as e:
            # Binance says how long to stay away: nothing of this host goes out until then.
            e.retry_after = _retry_after(headers)
            if e.retry_after is not None and code in (418, 429):
                self.ban.impose(e.retry_after, code)
            raise


def _guarded(handler: Callable, *args: Any) -> None:
    # An exception escaping a stream handler ends that connection's receive loop inside ccxt and
    # the stream goes silent: one malformed event must not cost every later one.
    try:
        handler(*args)
    except Exception as e:  # noqa: BLE001 - ccxt raises anything on unexpected shapes
        log.warning("ignored a stream event that could not be parsed (%s)", type(e).__name__)


def _retry_after(headers: dict | None) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


def rewrite_urls(urls: Any, base_url: str) -> Any:
    """Every https/wss URL under `urls` with its scheme and host replaced by `base_url`'s.

    The base's path is kept as a prefix; websocket URLs get ws/wss to match http/https.
    """
    base = urlsplit(base_url.rstrip("/"))
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ConfigError(f"`exchange.base_url` must look like https://host[:port][/path], got {base_url!r}")
    ws_scheme = "wss" if base.scheme == "https" else "ws"

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, str) and "://" in value:
            parts = urlsplit(value)
            scheme = ws_scheme if parts.scheme in ("ws", "wss") else base.scheme
            query = f"?{parts.query}" if parts.query else ""
            return f"{scheme}://{base.netloc}{base.path}{parts.path}{query}"
        return value

    return rewrite(urls)


def create_client(config: Config, *, keys: tuple[Secret, Secret] | None = None, demo: bool = False,
                  weight_per_minute: float = 1200, client_class: Callable[..., BinanceClient] = BinanceClient
                  ) -> BinanceClient:
    """A ready-to-use client; `demo` selects Binance's futures demo trading (the testnet).

    `weight_per_minute` is this client's share of Binance's 2400 request weight a minute per IP.
    """
    settings: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": config.exchange.timeout_ms,
        "options": {
            "fetchCurrencies": False,  # would call the spot wallet API; markets come from fapi exchangeInfo only
            "defaultType": "swap",
            "warnOnFetchOpenOrdersWithoutSymbol": False,
        },
    }
    if keys is not None:
        settings["apiKey"] = keys[0].reveal()
        settings["secret"] = keys[1].reveal()
    client = client_class(settings)
    # Binance meters weight per rolling minute, so a burst (flatten everything) fits at once where
    # ccxt's default leaky bucket would space orders 200 ms apart. ccxt's costs are Binance's weights.
    client.throttler = WeightBudget(per_window=weight_per_minute)
    if demo:
        client.enable_demo_trading(True)
    if config.exchange.base_url:
        for section in ("api", "test", "demo", "apiBackupDemoTrading"):
            if section in client.urls:
                client.urls[section] = rewrite_urls(client.urls[section], config.exchange.base_url)
        # ccxt chooses the futures error table by Binance's host names; merge it so codes such as
        # -2019 and -4164 keep their meaning behind another host.
        for kind in ("exact", "broad"):
            client.exceptions[kind] = {**client.exceptions.get(kind, {}), **client.exceptions["linear"].get(kind, {})}
    client.ban = ban_for(urlsplit(client.urls["api"]["fapiPrivate"]).netloc)
    return client
