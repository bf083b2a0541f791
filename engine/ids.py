"""Client order ids: unique per run, readable, within Binance's 36-character limit.

Shape: `tf` + mode letter + run token + sequence, e.g. `tfpmh2k3x1q7f0a-17`. The run token is
the start time in milliseconds plus 25 random bits, so ids from an earlier run (still in the
store), another machine or another instance sharing the database never repeat.
"""
from __future__ import annotations

import itertools
import secrets
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
        self._token = _base36(int(started.timestamp() * 1000)) + _base36(secrets.randbits(25)).rjust(5, "0")
        self._seq = itertools.count(1)

    def next(self, mode: str) -> str:
        return f"{prefix(mode)}{self._token}-{next(self._seq)}"


def prefix(mode: str) -> str:
    return f"tf{mode[:1]}"


def is_ours(client_order_id: str, mode: str) -> bool:
    """An order this program sent in `mode` (any run), by the shape of its client order id."""
    return client_order_id.startswith(prefix(mode))
