"""Scripted misbehaviour: error answers, slow answers, for the next request(s) to a path."""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

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


@dataclass
class Outage:
    """Every request to `path` fails until `until` (monotonic seconds), without being acted on."""

    path: str
    until: float
    method: str | None
    reset: bool  # cut the connection instead of answering 503

    def matches(self, method: str, path: str) -> bool:
        return time.monotonic() < self.until and path_matches(self.path, path) and self.method in (None, method)


DEFAULT_MESSAGES = {
    -1003: "Too many requests; current limit of IP is 2400 requests per minute.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -2019: "Margin is insufficient.",
    -4164: "Order's notional must be no smaller than 5 (unless you choose reduce only).",
}


class FaultBook:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.delays: list[Delay] = []
        self.holds: list[tuple[str, asyncio.Event]] = []
        self.outages: list[Outage] = []

    def fail_next(self, path: str, status: int = 400, code: int | None = None, msg: str | None = None,
                  retry_after: int | None = None, times: int = 1, method: str | None = None) -> None:
        text = msg if msg is not None else DEFAULT_MESSAGES.get(code, "" if code is None else "Scripted failure.")
        self.faults.append(Fault(path, status, code, text, retry_after, method, times))

    def delay(self, path: str, seconds: float, times: int | None = None) -> None:
        self.delays.append(Delay(path, seconds, times))

    def outage(self, path: str, seconds: float, method: str | None = None, reset: bool = False) -> None:
        self.outages.append(Outage(path, time.monotonic() + seconds, method, reset))

    def outage_of(self, method: str, path: str) -> Outage | None:
        return next((o for o in self.outages if o.matches(method, path)), None)

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
