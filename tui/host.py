"""What the desk screen needs from whoever hosts it, and nothing more.

The app owns the engine, the store and the event pump; the screen is handed this small
interface at construction, so screens and actions never import the app (and the app is free
to import them).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Awaitable, Callable, Mapping, Protocol

from engine.config import Config
from engine.events import StoreStatus
from tui.alerts import Alert


class DeskHost(Protocol):
    @property
    def engine(self) -> Any:
        """The engine's command methods (flatten_all, flatten, pause, resume, halt_entries,
        resume_entries, set_mode, can_trade), `snapshot()`, `mode` and `started`."""

    @property
    def engine_done(self) -> bool:
        """The engine's worker has ended (error, stop or cancel)."""

    @property
    def keymap_in_use(self) -> Mapping[str, str]:
        """Binding id -> key, after the config's `ui.keys`."""

    clock: Callable[[], datetime]
    config: Config  # the caps and breakers the risk pane measures against

    def hurry(self) -> None:
        """Deliver the engine's newest events now rather than at the next frame."""

    def run_command(self, call: Awaitable[Any], name: str) -> None:
        """Run one command coroutine as a worker whose failures the host reports."""

    def store_status(self) -> StoreStatus | None: ...

    def next_theme(self) -> None: ...

    def ring(self, alert: Alert) -> None:
        """The terminal bell, and `alerts.command` when the config sets one."""

    def shutdown(self) -> None:
        """Stop the engine, close the store and leave."""
