"""Client order ids: unique per run, readable, within Binance's 36-character limit.

Shape: `tf` + mode letter + run token + sequence, e.g. `tfp1a2b3c4d-17`. The run token comes
from the start time, so ids from an earlier run (still in the store) never repeat.
"""
from __future__ import annotations

import itertools
from datetime import datetime

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _ALPHABET[r] + out
        if not n:
            return out


class OrderIds:
    def __init__(self, started: datetime) -> None:
        self._token = _base36(int(started.timestamp() * 1000))
        self._seq = itertools.count(1)

    def next(self, mode: str) -> str:
        return f"{prefix(mode)}{self._token}-{next(self._seq)}"


def prefix(mode: str) -> str:
    return f"tf{mode[:1]}"


def is_ours(client_order_id: str, mode: str) -> bool:
    """An order this program sent in `mode` (any run), by the shape of its client order id."""
    return client_order_id.startswith(prefix(mode))
