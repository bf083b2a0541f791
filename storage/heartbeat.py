"""The running engine's proof of life: every few seconds it checks that it still holds its
instance lock (taking it again after a lost connection) and refreshes its `instances` row,
which `trifactor status` and a refused second engine read.

The row rides along in the writer's next batch, so a heartbeat costs no round trip of its
own, and it is written only while the lock is this engine's.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Callable

from storage.errors import StoreError
from storage.lock import InstanceLock
from storage.rows import Row, instance_row

log = logging.getLogger(__name__)
EVERY_S = 10.0


class Heartbeat:
    def __init__(self, lock: InstanceLock, instance: str, every_s: float = EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = lock
        self.instance = instance
        self.every_s = every_s
        self.clock = clock
        self.problem = ""  # set while another engine holds this instance's lock
        self._next = 0.0

    def due(self) -> bool:
        return self.clock() >= self._next

    def beat(self) -> list[Row]:
        """The instances row for this process, once the lock is checked (none if it is lost)."""
        self._next = self.clock() + self.every_s
        try:
            self.lock.check()
        except StoreError as e:  # e.g. the server restarted and another engine took the instance meanwhile
            self.problem = f"lost the lock on instance '{self.instance}': {e}"
            log.error("store: %s", self.problem)
            return []  # the instances row is the other engine's now
        self.problem = ""
        h = self.lock.holder
        now = datetime.now(timezone.utc)  # the process's own time, not the market's
        return [instance_row(self.instance, h.pid or 0, h.host, h.started_at or now, now)]
