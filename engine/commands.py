"""Operator commands win over strategy work.

Strategy order submissions take the gate one order at a time and step aside while any
command waits, so a command issued mid-bar waits for at most the one order in flight.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator


class CommandGate:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._clear = asyncio.Event()
        self._clear.set()

    @property
    def commands_waiting(self) -> int:
        return self._waiting

    @asynccontextmanager
    async def command(self) -> AsyncIterator[None]:
        self._waiting += 1
        self._clear.clear()
        try:
            async with self._lock:
                yield
        finally:
            self._waiting -= 1
            if not self._waiting:
                self._clear.set()

    @asynccontextmanager
    async def strategy(self) -> AsyncIterator[None]:
        while True:
            await self._clear.wait()
            await self._lock.acquire()
            if not self._waiting:
                break
            self._lock.release()  # a command arrived meanwhile: let it go first
        try:
            yield
        finally:
            self._lock.release()
