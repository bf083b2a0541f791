"""Scripted misbehaviour: error answers, slow answers, outages, garbled answers and bans.

Count-based faults (`fail_next`, `delay`) hit the next requests to a path; time-based ones
(`outage`, `ban`) last a number of seconds from the moment they are scripted, whatever the
client sends meanwhile.
"""
from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from typing import Callable

from aiohttp import web


def path_matches(pattern: str, path: str) -> bool:
    """`/fapi/v1/order` matches itself; a bare name like `order` matches any path ending in it."""
    if pattern.startswith("/"):
        return path == pattern
    return path.endswith("/" + pattern)


@dataclass
class Fault:
    path: str
    status: int
    code: int | None
    msg: str
    retry_after: int | None
    method: str | None
    remaining: int

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and path_matches(self.path, path) and self.method in (None, method)

    def response(self) -> web.Response:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        if self.code is None:
            return web.Response(status=self.status, text=self.msg or "", headers=headers)
        body = json.dumps({"code": self.code, "msg": self.msg})
        return web.Response(status=self.status, text=body, content_type="application/json", headers=headers)


@dataclass
class Delay:
    path: str
    seconds: float
    remaining: int | None  # None: every request

    def matches(self, path: str) -> bool:
        return path_matches(self.path, path) and (self.remaining is None or self.remaining > 0)


DEFAULT_MESSAGES = {
    -1003: "Too many requests; current limit of IP is 2400 requests per minute.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -2019: "Margin is insufficient.",
    -4164: "Order's notional must be no smaller than 5 (unless you choose reduce only).",
}


@dataclass
class Outage:
    """Every matching request fails until `until` (monotonic seconds), unanswered or with a 503.
    With `lasts` set instead, the outage begins at the first matching request and lasts that long."""

    path: str
    until: float | None
    method: str | None
    reset: bool  # True: the connection is cut without an answer; False: HTTP 503
    lasts: float = 0.0

    def matches(self, method: str, path: str, now: float) -> bool:
        if not (path_matches(self.path, path) and self.method in (None, method)):
            return False
        if self.until is None:
            self.until = now + self.lasts
        return now < self.until


@dataclass
class Ban:
    """Binance's 418 (IP banned) or 429 with Retry-After counting down to the end of the ban."""

    path: str | None  # None: every REST request, as Binance bans the whole IP
    until: float
    status: int

    def matches(self, path: str, now: float) -> bool:
        return now < self.until and (self.path is None or path_matches(self.path, path))

    def response(self, now: float) -> web.Response:
        left = max(1, math.ceil(self.until - now))
        if self.status == 418:
            body = {"code": -1003, "msg": f"Way too many requests; IP banned for {left} s."}
        else:
            body = {"code": -1003, "msg": "Too many requests; current limit of IP is 2400 requests per minute."}
        return web.Response(status=self.status, text=json.dumps(body), content_type="application/json",
                            headers={"Retry-After": str(left)})


GARBLED_BODIES = ("truncated", "html", "empty")


@dataclass
class Garble:
    """A 200 answer whose body is not the JSON expected, with or without the request acted on."""

    path: str
    body: str  # one of GARBLED_BODIES
    executed: bool
    method: str | None
    remaining: int

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and path_matches(self.path, path) and self.method in (None, method)

    def response(self, real: web.StreamResponse | None) -> web.Response:
        if self.body == "html":
            return web.Response(status=200, text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                                content_type="text/html")
        if self.body == "empty":
            return web.Response(status=200, text="", content_type="application/json")
        text = real.text if isinstance(real, web.Response) and real.text else '{"orderId": 1, "status": "FILLED"}'
        return web.Response(status=200, text=text[: max(1, len(text) // 2)], content_type="application/json")


class FaultBook:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.faults: list[Fault] = []
        self.delays: list[Delay] = []
        self.holds: list[tuple[str, asyncio.Event]] = []
        self.outages: list[Outage] = []
        self.bans: list[Ban] = []
        self.garbles: list[Garble] = []
        self.duplicate_trade_answers = 0  # userTrades answers that list every trade twice
        self._clock = clock

    def outage(self, path: str, seconds: float, method: str | None = None, reset: bool = False,
               from_first_request: bool = False) -> None:
        if from_first_request:
            self.outages.append(Outage(path, None, method, reset, lasts=seconds))
        else:
            self.outages.append(Outage(path, self._clock() + seconds, method, reset))

    def take_outage(self, method: str, path: str) -> Outage | None:
        now = self._clock()
        return next((o for o in self.outages if o.matches(method, path, now)), None)

    def ban(self, seconds: float, status: int = 418, path: str | None = None) -> None:
        self.bans.append(Ban(path, self._clock() + seconds, status))

    def take_ban(self, path: str) -> web.Response | None:
        now = self._clock()
        ban = next((b for b in self.bans if b.matches(path, now)), None)
        return ban.response(now) if ban is not None else None

    def garble(self, path: str, body: str, executed: bool, method: str | None = None, times: int = 1) -> None:
        if body not in GARBLED_BODIES:
            raise ValueError(f"garbled body must be one of {GARBLED_BODIES}")
        self.garbles.append(Garble(path, body, executed, method, times))

    def take_garble(self, method: str, path: str) -> Garble | None:
        for g in self.garbles:
            if g.matches(method, path):
                g.remaining -= 1
                return g
        return None

    def take_duplicate_trades(self) -> bool:
        if self.duplicate_trade_answers <= 0:
            return False
        self.duplicate_trade_answers -= 1
        return True

    def fail_next(self, path: str, status: int = 400, code: int | None = None, msg: str | None = None,
                  retry_after: int | None = None, times: int = 1, method: str | None = None) -> None:
        text = msg if msg is not None else DEFAULT_MESSAGES.get(code, "" if code is None else "Scripted failure.")
        self.faults.append(Fault(path, status, code, text, retry_after, method, times))

    def delay(self, path: str, seconds: float, times: int | None = None) -> None:
        self.delays.append(Delay(path, seconds, times))

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.remaining -= 1
                return fault
        return None

    def take_delay(self, path: str) -> float:
        for d in self.delays:
            if d.matches(path):
                if d.remaining is not None:
                    d.remaining -= 1
                return d.seconds
        return 0.0

    def hold(self, path: str) -> asyncio.Event:
        gate = asyncio.Event()
        self.holds.append((path, gate))
        return gate

    async def wait_holds(self, path: str) -> None:
        for pattern, gate in self.holds:
            if path_matches(pattern, path):
                await gate.wait()
