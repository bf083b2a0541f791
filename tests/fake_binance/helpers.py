"""Small things tests need around the fake: a config pointing at it, its keys, a sleep that only records."""
from __future__ import annotations

import asyncio
from typing import Any, Callable

from engine.config import Config, from_mapping
from engine.exchange_ban import every_ban
from engine.secrets import Secrets
from tests.fake_binance.server import API_KEY, API_SECRET, FakeBinance


def config_for(fake: FakeBinance, symbols: list[str] | None = None, **overrides: Any) -> Config:
    """A binance-market config whose every URL points at `fake`; `overrides` are top-level keys
    (nested mappings are merged one level deep, e.g. `exchange={"timeout_ms": 200}`)."""
    data: dict[str, Any] = {
        "market": "binance",
        "universe": {"type": "list", "symbol_list": symbols or [s for s in fake.rules if s.isalnum()
                                                                 and s.endswith("USDT") and s != "OLDUSDT"]},
        "exchange": {"base_url": fake.base_url, "timeout_ms": 2000},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return from_mapping(data, "<test>")


def fake_secrets(key: str = API_KEY, secret: str = API_SECRET) -> Secrets:
    """The fake's keys for both testnet and live."""
    return Secrets.load(environ={
        "TRIFACTOR_API_KEY": key, "TRIFACTOR_API_SECRET": secret,
        "TRIFACTOR_TESTNET_API_KEY": key, "TRIFACTOR_TESTNET_API_SECRET": secret,
    })


class RecordingSleep:
    """Stands in for asyncio.sleep in retry policies: notes each wait, yields once, waits no time.

    A Binance ban that the wait would have outlasted is over afterwards, as if the time had passed.
    """

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        for ban in every_ban():
            if ban.remaining() <= seconds:
                ban.lift()
        await asyncio.sleep(0)


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Wait (yielding to the loop) until `predicate()` holds; fails the test after `timeout` seconds."""
    async def loop() -> None:
        while not predicate():
            await asyncio.sleep(0.002)
    try:
        await asyncio.wait_for(loop(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
