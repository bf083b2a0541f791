"""Getting to trading at start.

A failure that time can fix (the network, a 5xx, a timeout, a rate limit) is retried for as
long as it takes, with a growing pause, each attempt reported. Anything else (a rejected
key, hedge mode, refused leverage, a mode that cannot run here) is permanent: the engine
does not trade, and an explicitly asked-for mode never turns into paper.
"""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")


class StartError(Exception):
    """The asked-for trading mode cannot start, and retrying cannot help. One sentence."""

    def __init__(self, message: str, mode: str) -> None:
        super().__init__(message)
        self.mode = mode


def is_transient(exc: BaseException) -> bool:
    """Errors say so themselves (`transient`), so this needs no exchange library."""
    return bool(getattr(exc, "transient", False))


@dataclass(frozen=True)
class StartRetry:
    base_s: float = 1.0
    max_s: float = 30.0

    def delay(self, attempt: int, exc: BaseException) -> float:
        backoff = min(self.max_s, self.base_s * 2 ** (attempt - 1))
        asked = getattr(exc, "retry_after", None)  # a ban is waited out, however long
        return max(backoff, asked) if asked is not None else backoff


async def keep_trying(call: Callable[[], Awaitable[T]], retry: StartRetry, stopped: asyncio.Event,
                      report: Callable[[int, float, BaseException], None]) -> T | None:
    """`call()` until it succeeds or fails for good (raised); None once `stopped` is set."""
    attempt = 0
    while not stopped.is_set():
        attempt += 1
        try:
            return await call()
        except Exception as e:
            if not is_transient(e):
                raise
            wait = retry.delay(attempt, e)
            report(attempt, wait, e)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopped.wait(), wait)
    return None
