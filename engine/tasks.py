"""Ending background tasks at shutdown."""
from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(*tasks: asyncio.Task | None) -> None:
    """Cancel each task (None: there is none) and wait until it has ended. Whatever it raised on
    the way out is not the closer's concern: the task reported its own problems while it ran."""
    for task in tasks:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
