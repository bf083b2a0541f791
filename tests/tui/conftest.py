"""Desk fixtures: the real engine on a small, fast, seeded sim market, and helpers to wait for
what the screen shows without depending on how fast the machine is."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest
from textual import events

from engine.config import Config
from engine.events import EventBus, Subscription
from engine.secrets import Secrets
from engine.statefile import StateFile
from engine.wiring import build_engine
from tests.engine.support import NO_SECRETS, make_config
from tui.app import DeskApp

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
FROZEN_NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
GUARD_STEPS = 6000  # x 10 ms: only a guard against a hang, never part of what is checked


def desk_config(**overrides: Any) -> Config:
    base: dict[str, Any] = {"universe": {"symbol_list": list(SYMBOLS)}, "sim": {"speed": 50}}
    for key, value in overrides.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) and key in base else value
    return make_config(**base)


class ControlledFeed:
    """Wraps the engine's feed for tests.

    `start_gate`: the feed starts only once the test sets it (so "the engine is still starting"
    lasts exactly as long as the test wants). `desk`: each minute is handed out only once the
    desk has taken everything published so far, so the desk sees every bar whatever the
    machine's speed and shows the same thing on every run. `limit`: after that many minutes
    the feed holds (the engine stays live, with nothing new).
    """

    def __init__(self, inner: Any, *, start_gate: asyncio.Event | None = None,
                 desk: Subscription | None = None, limit: int | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.start_gate = start_gate
        self.desk = desk
        self.limit = limit
        self.handed_out = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def status(self) -> str:
        return self.inner.status

    async def start(self):
        if self.start_gate is not None:
            await self.start_gate.wait()
        return await self.inner.start()

    async def stream(self) -> AsyncIterator[list]:
        async for bars in self.inner.stream():
            while self.desk is not None and len(self.desk):
                await asyncio.sleep(0.005)
            if self.limit is not None and self.handed_out >= self.limit:
                await asyncio.Event().wait()
            self.handed_out += 1
            yield bars


def build_desk(tmp_path: Path, config: Config | None = None, *, secrets: Secrets = NO_SECRETS,
               state_file: StateFile | None = None, max_bars: int | None = None,
               paced_bars: int | None = None, start_gate: asyncio.Event | None = None,
               store: Any = None) -> tuple[DeskApp, Any]:
    config = config or desk_config()
    state_file = state_file or StateFile(tmp_path / "state.toml")
    engine = build_engine(config, secrets, EventBus(), state_file=state_file)
    app = DeskApp(engine, config, state_file, store=store, clock=lambda: FROZEN_NOW, max_bars=max_bars)
    if paced_bars is not None or start_gate is not None:
        engine.feed = ControlledFeed(engine.feed, start_gate=start_gate,
                                     desk=app.subscription if paced_bars is not None else None,
                                     limit=paced_bars)
    return app, engine


class Notices:
    """Every notice the desk shows, recorded as (title, message, severity)."""

    def __init__(self, app: DeskApp) -> None:
        self.shown: list[tuple[str, str, str]] = []
        original = app.notify

        def notify(message: str, *, title: str = "", severity: str = "information", **kwargs: Any) -> None:
            self.shown.append((title, str(message), severity))
            original(message, title=title, severity=severity, **kwargs)

        app.notify = notify  # type: ignore[method-assign]

    def texts(self) -> str:
        return "\n".join(f"{t}: {m}" for t, m, _ in self.shown)

    def any(self, needle: str) -> bool:
        return needle.lower() in self.texts().lower()


def shown(widget) -> str:
    """What a widget shows, as plain text."""
    return str(widget.render()).replace("\u00a0", " ")


async def until(pilot, condition: Callable[[], bool], what: str, steps: int = GUARD_STEPS) -> None:
    """Let the desk run until `condition` holds."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"this never happened: {what}")


KEY_CHARACTERS = {"space": " ", "question_mark": "?", "enter": "\r", "escape": "\x1b", "tab": "\t"}


async def press(pilot, *keys: str) -> None:
    """Type keys in order. Unlike `pilot.press` this does not wait for the process to go idle,
    which a running engine never quite does; tests wait for what the keys cause instead."""
    app = pilot.app
    for key in keys:
        event = events.Key(key, KEY_CHARACTERS.get(key, key if len(key) == 1 else None))
        event.set_sender(app)
        app.post_message(event)
        await asyncio.sleep(0.02)


async def until_trading(pilot, app: DeskApp, positions: int = 1) -> None:
    await until(pilot, lambda: app.engine.started, "the engine started")
    await until(pilot, lambda: app.desk.positions.open_count >= positions,
                f"the desk shows {positions} open position(s)")


@pytest.fixture
def desk_factory(tmp_path: Path):
    def make(**kwargs: Any) -> tuple[DeskApp, Any]:
        return build_desk(tmp_path, **kwargs)
    return make
