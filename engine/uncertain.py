"""Orders whose outcome the exchange has not told us, and the symbols they freeze.

An order whose answer was unreadable or never came, and whose lookup failed too, may or may
not have filled. Its symbol takes no new order until a lookup by client order id settles it:
trading on a book that may be wrong overshoots, and sending again under a new id can double
the order. A background task keeps looking, with backoff, until every such order is settled.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from engine.model import OrderRequest, OrderResult
from engine.tasks import cancel_and_wait

if TYPE_CHECKING:
    from engine.book import ModeBook

log = logging.getLogger(__name__)
FIRST_WAIT_S = 1.0
MAX_WAIT_S = 30.0


@dataclass(frozen=True)
class Unresolved:
    book: ModeBook
    request: OrderRequest
    factor: float | None


class UncertainOrders:
    def __init__(self, settle: Callable[[Unresolved, OrderResult], None], changed: Callable[[], None], *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, first_wait_s: float = FIRST_WAIT_S,
                 max_wait_s: float = MAX_WAIT_S) -> None:
        self._settle = settle
        self._changed = changed
        self._sleep = sleep
        self._first_wait_s, self._max_wait_s = first_wait_s, max_wait_s
        self._pending: dict[str, Unresolved] = {}  # client order id -> the order
        self._task: asyncio.Task | None = None

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(u.request.symbol for u in self._pending.values())

    def __contains__(self, symbol: str) -> bool:
        return any(u.request.symbol == symbol for u in self._pending.values())

    def add(self, entry: Unresolved) -> None:
        self._pending[entry.request.client_order_id] = entry
        self._changed()
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._keep_resolving())

    async def try_symbol(self, symbol: str) -> bool:
        """One lookup of each of the symbol's unsettled orders; True when none is left."""
        for entry in [u for u in self._pending.values() if u.request.symbol == symbol]:
            await self._try(entry)
        return symbol not in self

    async def try_all(self, wanted: Callable[[str], bool]) -> None:
        """One lookup of each unsettled order whose symbol is `wanted` (a flatten does this first)."""
        for symbol in sorted(s for s in self.symbols if wanted(s)):
            await self.try_symbol(symbol)

    async def _try(self, entry: Unresolved) -> None:
        try:
            result = await entry.book.venue.resolve(entry.request)
        except Exception as e:  # noqa: BLE001 - a failed lookup is retried, never fatal
            log.warning("%s: looking up order %s failed: %s", entry.request.symbol, entry.request.client_order_id, e)
            return
        # Another lookup (a flatten's) may have settled it while this one waited.
        if result.status == "unknown" or self._pending.get(entry.request.client_order_id) is not entry:
            return
        del self._pending[entry.request.client_order_id]
        self._settle(entry, result)
        self._changed()

    async def _keep_resolving(self) -> None:
        wait = self._first_wait_s
        while self._pending:
            await self._sleep(wait)
            for entry in list(self._pending.values()):
                await self._try(entry)
            wait = min(wait * 2, self._max_wait_s)

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
