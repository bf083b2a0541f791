"""The ccxt client factory: URL rewriting, demo trading, the error table, error wording, retries."""
import ccxt
import pytest

from engine.config import ConfigError, from_mapping
from engine.exchange import create_client, rewrite_urls
from engine.exchange_budget import WeightBudget
from engine.exchange_errors import RetryPolicy, describe, is_rate_limited, is_transient, with_retries
from tests.fake_binance.helpers import RecordingSleep


def all_strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from all_strings(v)
    elif isinstance(value, str):
        yield value


def test_rewrite_replaces_scheme_and_host_everywhere_and_keeps_paths():
    urls = {"fapiPublic": "https://fapi.binance.com/fapi/v1",
            "ws": {"linear": "wss://fstream.binance.com/ws",
                   "ws-api": {"spot": "wss://ws-api.binance.com:443/ws-api/v3"}}}
    out = rewrite_urls(urls, "http://127.0.0.1:8080")
    assert out == {"fapiPublic": "http://127.0.0.1:8080/fapi/v1",
                   "ws": {"linear": "ws://127.0.0.1:8080/ws", "ws-api": {"spot": "ws://127.0.0.1:8080/ws-api/v3"}}}
    proxied = rewrite_urls(urls, "https://mirror.example/binance/")
    assert proxied["fapiPublic"] == "https://mirror.example/binance/fapi/v1"
    assert proxied["ws"]["linear"] == "wss://mirror.example/binance/ws"


def test_a_malformed_base_url_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match="exchange.base_url"):
        rewrite_urls({}, "127.0.0.1:8080")


async def test_base_url_covers_every_api_url_including_demo():
    config = from_mapping({"exchange": {"base_url": "http://127.0.0.1:9"}})
    for demo in (False, True):
        client = create_client(config, demo=demo)
        urls = [u for section in ("api", "test", "demo") for u in all_strings(client.urls[section])]
        assert urls and all(u.startswith(("http://127.0.0.1:9/", "ws://127.0.0.1:9/")) for u in urls)
        assert client.options["fetchCurrencies"] is False
        await client.close()


async def test_testnet_means_binance_demo_trading():
    client = create_client(from_mapping({}), demo=True)
    assert client.options["enableDemoTrading"] is True
    assert client.urls["api"]["fapiPrivate"] == "https://demo-fapi.binance.com/fapi/v1"
    live = create_client(from_mapping({}))
    assert live.urls["api"]["fapiPrivate"] == "https://fapi.binance.com/fapi/v1"
    await client.close()
    await live.close()


async def test_futures_error_codes_keep_their_meaning_behind_another_host():
    client = create_client(from_mapping({"exchange": {"base_url": "http://127.0.0.1:9"}}))
    body = '{"code":-2019,"msg":"Margin is insufficient."}'
    with pytest.raises(ccxt.InsufficientFunds):
        client.handle_errors(400, "Bad Request", "http://127.0.0.1:9/fapi/v1/order", "POST", {}, body,
                             client.parse_json(body), {}, "")
    with pytest.raises(ccxt.DDoSProtection) as caught:
        client.handle_errors(429, "Too Many Requests", "http://127.0.0.1:9/fapi/v1/klines", "GET",
                             {"Retry-After": "12"}, "", None, {}, "")
    assert caught.value.retry_after == 12.0
    await client.close()


@pytest.mark.parametrize("exc, words", [
    (ccxt.DDoSProtection('binanceusdm 429 Too Many Requests {"code":-1003,"msg":"Too many requests"}'),
     ["rate limited", "429", "-1003"]),
    (ccxt.DDoSProtection("binanceusdm 418 I'm a teapot "), ["banned", "418"]),
    (ccxt.RateLimitExceeded('binanceusdm {"code":-1003,"msg":"Too many requests"}'), ["too many requests", "-1003"]),
    (ccxt.InsufficientFunds('binanceusdm {"code":-2019,"msg":"Margin is insufficient."}'),
     ["insufficient margin", "-2019", "Margin is insufficient."]),
    (ccxt.InvalidNonce('binanceusdm {"code":-1021,"msg":"Timestamp outside"}'), ["clock", "-1021"]),
    (ccxt.AuthenticationError('binanceusdm {"code":-2015,"msg":"Invalid API-key"}'), ["API key rejected", "-2015"]),
    (ccxt.InvalidOrder('binanceusdm {"code":-4164,"msg":"notional too small"}'), ["order rejected", "-4164"]),
    (ccxt.RequestTimeout("binanceusdm GET https://fapi.binance.com/fapi/v1/klines?signature=abc"), ["did not answer"]),
    (ccxt.ExchangeNotAvailable("binanceusdm GET https://x/fapi/v1/order 503 Service Unavailable "),
     ["unavailable", "503"]),
])
def test_describe_is_plain_and_never_shows_the_request(exc, words):
    text = describe(exc)
    for word in words:
        assert word in text
    assert "http" not in text and "signature" not in text


async def test_retries_wait_as_binance_asks_then_give_up_on_long_bans():
    sleep = RecordingSleep()
    policy = RetryPolicy(attempts=3, base_delay_s=0.5, max_delay_s=30, sleep=sleep)
    calls = []

    async def flaky():
        calls.append(1)
        if len(calls) == 1:
            exc = ccxt.DDoSProtection("binanceusdm 429 ")
            exc.retry_after = 4.0
            raise exc
        if len(calls) == 2:
            raise ccxt.RequestTimeout("binanceusdm timeout")
        return "ok"

    assert await with_retries(flaky, policy) == "ok"
    assert sleep.waits == [4.0, 1.0]  # Retry-After, then the doubled base delay

    async def banned():
        exc = ccxt.DDoSProtection("binanceusdm 418 ")
        exc.retry_after = 3600.0
        raise exc

    with pytest.raises(ccxt.DDoSProtection):
        await with_retries(banned, policy)
    assert sleep.waits == [4.0, 1.0]  # an hour-long ban is reported, not slept through


def test_what_counts_as_retryable():
    assert is_rate_limited(ccxt.DDoSProtection("x")) and is_rate_limited(ccxt.RateLimitExceeded("x"))
    assert not is_rate_limited(ccxt.RequestTimeout("x"))
    assert is_transient(ccxt.ExchangeNotAvailable("x")) and is_transient(ccxt.RequestTimeout("x"))
    assert not is_transient(ccxt.InvalidNonce("x")) and not is_transient(ccxt.InsufficientFunds("x"))


async def test_the_weight_budget_passes_a_burst_and_holds_the_excess(monkeypatch):
    now = [0.0]
    waits = []

    async def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    monkeypatch.setattr("engine.exchange_budget.asyncio.sleep", sleep)
    budget = WeightBudget(per_window=10, window_s=60.0, clock=lambda: now[0])
    for _ in range(5):
        await budget(2)  # a burst of five requests of weight 2 fills the minute at once
    await budget(0)  # weightless requests (new orders) never wait
    assert waits == []
    now[0] = 15.0
    await budget(1)
    assert waits == [45.0]  # until the first request leaves the window


async def test_clients_use_the_rolling_weight_budget():
    client = create_client(from_mapping({}))
    assert isinstance(client.throttler, WeightBudget) and client.throttler.per_window == 1200
    assert not client.throttler.try_take(1, keep=1200) and client.throttler.try_take(1, keep=1199)
    assert client.calculate_rate_limiter_cost(["fapiPrivate"], "POST", "order", {}, {"cost": 4}) == 0
    assert client.calculate_rate_limiter_cost(["fapiPrivate"], "GET", "userTrades", {}, {"cost": 5}) == 0
    assert client.calculate_rate_limiter_cost(["fapiPrivate"], "GET", "positionRisk", {}, {"cost": 5}) == 5
    await client.close()
