"""A real `trifactor run --headless --mode testnet --market binance` process against the fake
exchange: its own XDG dirs, SQLite store and config, its output read line by line, and bars
driven by the test (each `bar()` streams one closed kline per symbol)."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from pathlib import Path

import yaml

from tests.engine.support import FAST_STRATEGY
from tests.fake_binance import API_KEY, API_SECRET, FakeBinance

ROOT = Path(__file__).resolve().parents[2]
GUARD_S = 60.0  # only a guard against a hang


def write_config(path: Path, fake: FakeBinance, symbols: list[str], **extra) -> Path:
    data = {
        "market": "binance", "trading_mode": "testnet", "data_fetch_limit": 300,
        "universe": {"type": "list", "symbol_list": symbols},
        "exchange": {"base_url": fake.base_url, "timeout_ms": 30000, "reconcile_interval_s": 3600},
        "strategy_v2": dict(FAST_STRATEGY), "risk": {"daily_loss_limit": 0, "max_drawdown": 0},
        "max_position_risk_per_trade": 0.05, "max_total_risk_exposure": 0.3, **extra,
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class EngineProcess:
    def __init__(self, tmp: Path, fake: FakeBinance, symbols: list[str], bars: int) -> None:
        self.tmp, self.fake, self.symbols, self.bars = tmp, fake, symbols, bars
        self.db = tmp / "store.db"
        self.config = write_config(tmp / "config.yaml", fake, symbols)
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._changed = asyncio.Event()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIFACTOR_")}
        for name in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"):
            folder = self.tmp / name.lower()
            folder.mkdir(mode=0o700, exist_ok=True)
            env[name] = str(folder)
        env.update(TRIFACTOR_TESTNET_API_KEY=API_KEY, TRIFACTOR_TESTNET_API_SECRET=API_SECRET,
                   PYTHONUNBUFFERED="1")
        return env

    async def start(self) -> "EngineProcess":
        self.lines.clear()
        self.proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "trifactor"), "run", "--headless", "--mode", "testnet", "--market", "binance",
            "--config", str(self.config), "--db", f"sqlite:///{self.db}", "--bars", str(self.bars),
            cwd=ROOT, env=self._env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._changed.set()
        self._changed.set()

    def output(self) -> str:
        return "\n".join(self.lines)

    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait_for(self, predicate, what: str, timeout: float = GUARD_S) -> None:
        async def loop() -> None:
            while not predicate():
                if self._reader is not None and self._reader.done():
                    raise AssertionError(f"the engine ended before {what}:\n{self.output()}")
                self._changed.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.2)
        try:
            await asyncio.wait_for(loop(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out waiting for {what}:\n{self.output()}") from None

    async def wait_line(self, text: str, timeout: float = GUARD_S) -> str:
        await self.wait_for(lambda: any(text in line for line in self.lines), repr(text), timeout)
        return next(line for line in self.lines if text in line)

    async def subscribed(self) -> None:
        for symbol in self.symbols:
            await self.fake.wait_subscribed(f"{symbol.lower()}@kline_1m", timeout=GUARD_S)

    async def bar(self) -> None:
        for symbol in self.symbols:
            await self.fake.push_kline(symbol)

    async def drive_until(self, predicate, what: str, pause_s: float = 0.3, limit: int = 200) -> None:
        """Stream bars until `predicate()` holds (one bar per pause, so the engine keeps up)."""
        for _ in range(limit):
            if predicate():
                return
            if not self.running():
                raise AssertionError(f"the engine ended before {what}:\n{self.output()}")
            await self.bar()
            await asyncio.sleep(pause_s)
        raise AssertionError(f"{what} did not happen within {limit} bars:\n{self.output()}")

    async def finish(self, timeout: float = GUARD_S) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, timeout)
        return code

    async def kill(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        await self.finish()

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            return conn.execute(sql, args).fetchall()
