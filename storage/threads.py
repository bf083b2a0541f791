"""A daemon thread that runs the calls given to it one at a time, in order.

The store's database and journal work runs in these rather than in a ThreadPoolExecutor:
the interpreter joins executor threads at exit, so one write stuck on a locked or frozen
database would hold a SIGTERM'ed process open. Everything that must survive is in the
ledger before it reaches these threads, so abandoning a stuck call at exit loses nothing.
"""
from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

T = TypeVar("T")
_STOP = object()


class DaemonWorker:
    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            item = self._calls.get()
            if item is _STOP:
                return
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                future.set_exception(e)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future:
        future: Future = Future()
        self._calls.put((future, fn, args))
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self.submit(fn, *args))

    def shutdown(self, wait_s: float | None = None) -> bool:
        """Stop after the calls already given; True once the thread has ended within `wait_s`."""
        self._calls.put(_STOP)
        if wait_s is not None:
            self._thread.join(wait_s)
        return not self._thread.is_alive()
