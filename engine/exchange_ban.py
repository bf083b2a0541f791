"""Binance's "stay away until then" (a 429 or 418 with Retry-After), kept per API host.

Binance bans by IP and lengthens a ban for every request sent during it, so once told to
wait, every client of that host (the feed and the venue of a mode) stops sending: a request
made during the ban fails at once with `BanInForce` instead of going out.
"""
from __future__ import annotations

import time
from typing import Callable

import ccxt


class BanInForce(ccxt.DDoSProtection):
    """Not sent: Binance asked us to stay away for `retry_after` more seconds."""

    def __init__(self, remaining: float, status: int) -> None:
        what = "IP banned by Binance (HTTP 418)" if status == 418 else "rate-limited by Binance (HTTP 429)"
        super().__init__(f"{what}, {remaining:.0f} s left; not sent")
        self.retry_after = remaining


class Ban:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self.status = 0  # the HTTP status of the answer that started it

    def impose(self, seconds: float, status: int) -> None:
        until = self._clock() + seconds
        if until > self._until:
            self._until, self.status = until, status

    def remaining(self) -> float:
        return max(0.0, self._until - self._clock())

    def lift(self) -> None:
        self._until = 0.0

    def check(self) -> None:
        """Raises BanInForce while the ban lasts."""
        left = self.remaining()
        if left > 0:
            raise BanInForce(left, self.status)


_BANS: dict[str, Ban] = {}


def ban_for(host: str) -> Ban:
    """The one ban of `host`, shared by every client in this process that talks to it."""
    if host not in _BANS:
        _BANS[host] = Ban()
    return _BANS[host]


def every_ban() -> list[Ban]:
    return list(_BANS.values())
