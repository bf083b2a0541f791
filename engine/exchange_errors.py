"""Binance failures as plain sentences, and the one retry loop the feed and the venue share.

ccxt's exception text carries request URLs; none of it reaches the operator. `describe`
keeps only the kind of failure and Binance's own code and message.
"""
from __future__ import annotations

import asyncio
import json
import re
import socket
from dataclasses import dataclass, field
from typing import Awaitable, Callable, TypeVar

import aiohttp
import ccxt

from engine.exchange_ban import BanInForce

T = TypeVar("T")
_BINANCE_ANSWER = re.compile(r"\{[^{}]*\"code\"\s*:\s*-?\d+[^{}]*\}")
_HTTP_STATUS = re.compile(r"\s([45]\d\d)\s")

# Most specific first: ccxt's classes overlap (everything is an ExchangeError or NetworkError).
_KINDS: tuple[tuple[type, str], ...] = (
    (ccxt.RateLimitExceeded, "too many requests to Binance"),
    (ccxt.InsufficientFunds, "insufficient margin"),
    (ccxt.InvalidNonce, "request timestamp rejected: the local clock is off (check NTP)"),
    (ccxt.AuthenticationError, "API key rejected: check the key, its IP whitelist and its futures permission"),
    (ccxt.InvalidOrder, "order rejected"),
    (ccxt.OrderNotFound, "order not found"),
    (ccxt.BadSymbol, "unknown symbol"),
    (ccxt.RequestTimeout, "Binance did not answer in time"),
    (ccxt.NetworkError, "network error talking to Binance"),
    (ccxt.ExchangeError, "Binance refused the request"),
)


def binance_answer(exc: BaseException) -> tuple[int | None, str]:
    """Binance's error code and message from a ccxt exception, when it carries one."""
    match = _BINANCE_ANSWER.search(str(exc))
    if match:
        try:
            data = json.loads(match.group(0))
            return int(data["code"]), str(data.get("msg", ""))
        except (ValueError, KeyError, TypeError):
            pass
    return None, ""


def retry_after(exc: BaseException) -> float | None:
    return getattr(exc, "retry_after", None)


def connection_failed(exc: BaseException) -> bool:
    """No connection could be made (refused, unreachable, DNS): the request never reached Binance.

    A connection dropped mid-request is not this: the request may have been acted on.
    """
    return isinstance(exc, ccxt.ExchangeNotAvailable) and isinstance(
        exc.__cause__, (aiohttp.ClientConnectorError, socket.gaierror))


def describe(exc: BaseException) -> str:
    """One line for the operator: what went wrong and Binance's code/message; never a URL or key."""
    code, msg = binance_answer(exc)
    answer = f" (Binance {code}: {msg})" if code is not None else ""
    if isinstance(exc, BanInForce):
        return str(exc)
    if isinstance(exc, ccxt.DDoSProtection):
        banned = " 418 " in str(exc)
        what = "IP temporarily banned by Binance (HTTP 418)" if banned else "rate limited by Binance (HTTP 429)"
        wait = retry_after(exc)
        return what + (f", Retry-After {wait:g} s" if wait is not None else "") + answer
    if connection_failed(exc):
        return "Binance is not reachable (connection failed)"
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        status = _HTTP_STATUS.search(str(exc))
        return f"Binance is unavailable (HTTP {status.group(1) if status else 'error'})" + answer
    for kind, text in _KINDS:
        if isinstance(exc, kind):
            return text + answer
    return f"unexpected {type(exc).__name__}"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry when Binance asks us to wait or does not answer."""

    attempts: int = 4  # tries in all
    base_delay_s: float = 0.5  # first wait when Binance names none; doubles each time
    max_delay_s: float = 30.0  # a longer Retry-After (an IP ban) is reported instead of waited out
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)

    def delay(self, attempt: int, exc: BaseException) -> float | None:
        """Seconds to wait before the next try, or None to give up."""
        if attempt + 1 >= self.attempts:
            return None
        wanted = retry_after(exc)
        wait = wanted if wanted is not None else self.base_delay_s * (2 ** attempt)
        return wait if wait <= self.max_delay_s else None


def is_rate_limited(exc: BaseException) -> bool:
    """Binance turned the request away before acting on it: safe to send again after waiting."""
    return isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded))


def is_permanent(exc: BaseException) -> bool:
    """No retry can fix it: the key is wrong, lacks a permission, or the account is locked."""
    return isinstance(exc, ccxt.AuthenticationError)  # PermissionDenied and AccountSuspended are kinds of it


def is_transient(exc: BaseException) -> bool:
    """Worth another try: rate limits, timeouts, unreachable or overloaded servers.

    A stale timestamp is not: retrying cannot help until the clock is resynchronised.
    """
    return isinstance(exc, ccxt.NetworkError) and not isinstance(exc, ccxt.InvalidNonce)


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy,
                       retryable: Callable[[BaseException], bool] = is_transient,
                       on_retry: Callable[[BaseException, float], None] | None = None) -> T:
    """`call()` until it succeeds, retrying failures that `retryable` accepts as the policy allows."""
    attempt = 0
    while True:
        try:
            return await call()
        except ccxt.BaseError as exc:
            wait = policy.delay(attempt, exc) if retryable(exc) else None
            if wait is None:
                raise
            if on_retry is not None:
                on_retry(exc, wait)
            await policy.sleep(wait)
            attempt += 1
