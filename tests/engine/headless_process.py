"""A real `trifactor run --headless` process against the fake exchange: its config, its
environment (keys, private XDG directories), and its output read line by line as it comes."""
from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import yaml

from tests.engine.support import FAST_STRATEGY, GUARD
from tests.fake_binance.server import API_KEY, API_SECRET

ROOT = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, base_url: str, symbols: list[str], **exchange) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "universe": {"type": "list", "symbol_list": symbols},
        "exchange": {"base_url": base_url, "timeout_ms": 2000, **exchange},
        "strategy_v2": dict(FAST_STRATEGY), "data_fetch_limit": 400,
        "risk": {"daily_loss_limit": 0, "max_drawdown": 0},
        "max_position_risk_per_trade": 0.05, "max_total_risk_exposure": 0.3,
        "storage": {"url": f"sqlite:///{tmp_path / 'trifactor.db'}"},
    }))
    return path


def process_env(tmp_path: Path, key: str = API_KEY, secret: str = API_SECRET) -> dict[str, str]:
    """The fake's keys for testnet and live, and every XDG directory inside `tmp_path`."""
    return {**os.environ, "TRIFACTOR_TESTNET_API_KEY": key, "TRIFACTOR_TESTNET_API_SECRET": secret,
            "TRIFACTOR_API_KEY": key, "TRIFACTOR_API_SECRET": secret,
            **{v: str(tmp_path / v.lower()) for v in ("XDG_CONFIG_HOME", "XDG_DATA_HOME",
                                                      "XDG_STATE_HOME", "XDG_RUNTIME_DIR")}}


class HeadlessRun:
    def __init__(self, tmp_path: Path, config: Path, *, key: str = API_KEY, secret: str = API_SECRET,
                 mode: str = "testnet") -> None:
        self.tmp_path, self.config, self.mode = tmp_path, config, mode
        self.env = process_env(tmp_path, key, secret)
        self.lines: list[str] = []
        self.stderr = ""
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._changed = asyncio.Event()

    async def start(self) -> "HeadlessRun":
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui", "run", "--headless", "--mode", self.mode, "--market", "binance",
            "--config", str(self.config), cwd=ROOT, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode().rstrip("\n"))
            self._changed.set()
        self._changed.set()

    async def wait_for_line(self, pattern: str, timeout: float = GUARD) -> str:
        """The first stdout line matching `pattern` (a regex), waiting for it to be printed."""
        def found() -> str | None:
            return next((line for line in self.lines if re.search(pattern, line)), None)
        return await self.wait_until(found, f"a line like /{pattern}/", timeout)

    async def wait_until(self, check, what: str, timeout: float = GUARD):
        """Wait for `check()` to be truthy as lines arrive; its value."""
        async def look():
            while True:
                value = check()
                if value:
                    return value
                if self._reader is not None and self._reader.done():
                    raise AssertionError(f"the run ended without {what}:\n" + self.output())
                self._changed.clear()
                await self._changed.wait()
        try:
            return await asyncio.wait_for(look(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s:\n" + self.output()) from None

    async def finish(self, timeout: float = GUARD) -> int:
        """Wait for the process to end by itself; its exit code."""
        assert self.process is not None
        self.stderr = (await asyncio.wait_for(self.process.stderr.read(), timeout)).decode()
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await self._reader
        return code

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.terminate()
        return await self.finish()

    def output(self) -> str:
        return "\n".join(self.lines) + ("\n[stderr]\n" + self.stderr if self.stderr else "")

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def feed_until(fake, symbols: list[str], done, rounds: int = 300) -> bool:
    """Push a bar for every symbol, a fifth of a second apart, until `done()`; whether it came."""
    for symbol in symbols:
        await fake.wait_subscribed(f"{symbol.lower()}@kline_1m", timeout=120)
    for _ in range(rounds):
        if done():
            return True
        for symbol in symbols:
            await fake.push_kline(symbol)
        await asyncio.sleep(0.2)
    return bool(done())
