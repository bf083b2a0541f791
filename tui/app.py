"""The desk application: hosts the engine in a worker and shows what it does.

The engine runs in its own exclusive worker group; the event pump runs in another. Every
worker failure lands in one handler that shows a plain notice (the traceback goes to the
log file, never to the screen).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

from textual.app import App
from textual.keys import _normalize_key_list
from textual.worker import Worker, WorkerState

from engine.config import Config
from engine.paths import log_file
from engine.events import FillEvent, StoreStatus
from engine.model import Fill, Mode, Side
from engine.startup import StartError
from engine.statefile import StateFile
from storage.errors import InstanceBusy
from themes import ThemeSet, load_themes
from tui import event_log
from tui.alert_command import run_alert_command
from tui.alerts import Alert
from tui import messages as m
from tui.bindings import ALL_BINDING_IDS, APP_BINDINGS, FLATTEN_ALL, unknown_binding_ids
from tui.palette import Palette
from tui.pump import EventPump
from tui.screens.desk import DeskScreen

log = logging.getLogger("trifactor.desk")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
HARD_EXIT_S = 12.0
STOP_TIMEOUT_S = 2.5  # with the store's own bounded close, quitting takes under 5 s whatever the database does
HISTORY_ORDERS, HISTORY_TRADES, HISTORY_COMMANDS = 500, 500, 200  # what the event log reads back at start


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def fill_event(t: Any) -> FillEvent:
    """A stored trade (storage.TradeRecord) as the fill event the Trades pane shows."""
    return FillEvent(Fill(Mode(t.mode), t.symbol, Side(t.side), t.quantity, t.price, t.fee, t.fee_asset or "",
                          t.ts, t.client_order_id or "", t.trade_id, realized_pnl=t.realized_pnl))


def describe_error(error: BaseException | None) -> str:
    text = str(error).strip() if error is not None else ""
    name = type(error).__name__ if error is not None else "unknown error"
    return (text or name)[:400]


class DeskApp(App):
    CSS_PATH = Path(__file__).with_name("desk.tcss")  # absolute: subclasses live elsewhere
    TITLE = "trifactor"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = APP_BINDINGS
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide"), (200, "-very-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    def __init__(self, engine: Any, config: Config, state_file: StateFile, store: Any | None = None, *,
                 clock: Callable[[], datetime] = utc_now, max_bars: int | None = None,
                 theme_dirs: tuple[Path, ...] = (), control: Any | None = None) -> None:
        """`store` (optional) is started on the desk's event loop before the engine runs, and
        closed after it stops; the desk carries on without it if it cannot open. `control` (an
        engine.control.ControlServer, claimed by the caller) serves while the engine runs."""
        super().__init__()
        self.engine = engine
        self.config = config
        self.state_file = state_file
        self.store = store
        self.clock = clock
        self.max_bars = max_bars
        self.control = control
        self.themes: ThemeSet = load_themes(*theme_dirs)
        self.keymap_in_use: dict[str, str] = {}
        self.engine_done = False
        self.stopping = False
        # Subscribe before the engine starts, so the desk sees its very first events.
        self.subscription = engine.bus.subscribe("desk", maxsize=20_000, coalesce=True)
        self.pump = EventPump(self.subscription, max_fps=config.ui.max_fps)
        self.desk = DeskScreen(self)

    # Start-up ---------------------------------------------------------------------------

    async def on_mount(self) -> None:
        notices = list(self.themes.problems)
        for theme in self.themes.themes.values():
            self.register_theme(theme)
        notices += self._choose_theme()
        notices += self._apply_keymap()
        if self.state_file.problem:
            notices.append(self.state_file.problem)
        self.theme_changed_signal.subscribe(
            self, lambda theme: self.desk.set_palette(Palette.from_theme(theme, plain=self.no_color)))
        await self.push_screen(self.desk)
        self.desk.set_palette(Palette.from_theme(self.current_theme, plain=self.no_color))
        self.desk.seed()
        self.pump.post = self.desk.post_message
        self.run_worker(self.pump.run(), name="event pump", group="events", exclusive=True,
                        exit_on_error=False)
        self.run_worker(self._run_engine(), name="engine", group="engine", exclusive=True,
                        exit_on_error=False)
        self._handle_stop_signals()
        self.set_interval(1.0, self.desk.tick, name="clock")
        for notice in notices:
            self.notify(notice, severity="warning", timeout=10)

    def _handle_stop_signals(self) -> None:
        """SIGTERM (a service manager, `kill`) and SIGHUP (the SSH session or tmux pane went away)
        quit like q: the engine stops, the store is flushed and closed, the terminal restored."""
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._stop_signal, sig)

    def _stop_signal(self, sig: signal.Signals) -> None:
        log.info("%s received: stopping the engine and quitting", signal.Signals(sig).name)
        # With the terminal gone (SIGHUP) restoring it can block for good: whatever happens,
        # the process ends once the engine and the store had their bounded time to stop.
        deadline = threading.Timer(HARD_EXIT_S, os._exit, args=(128 + int(sig),))
        deadline.daemon = True
        deadline.start()
        self.shutdown()

    def _choose_theme(self) -> list[str]:
        wanted = self.state_file.read().get("theme") or self.config.ui.theme
        names = self.themes.names
        if wanted in names:
            self.theme = wanted
            return []
        self.theme = names[0]
        return [f"theme {wanted!r} is not known (known: {', '.join(names)}); using {names[0]!r}"]

    def _apply_keymap(self) -> list[str]:
        keys = dict(self.config.ui.keys)
        unknown = unknown_binding_ids(keys)
        for binding_id in unknown:
            keys.pop(binding_id)
        self.keymap_in_use = keys
        self.set_keymap(keys)
        if unknown:
            return [f"config `ui.keys`: unknown binding id {', '.join(map(repr, unknown))} "
                    f"(known: {', '.join(sorted(ALL_BINDING_IDS))})"]
        return []

    @property
    def flatten_keys(self) -> frozenset[str]:
        """The keys that flatten everything, after the keymap (Textual's key names)."""
        return frozenset(_normalize_key_list(self.keymap_in_use.get(FLATTEN_ALL.id, FLATTEN_ALL.key)).split(","))

    def action_flatten_all(self) -> None:
        """F from any screen, dialog or prompt: the desk's flatten, with its notices."""
        self.desk.action_flatten_all()

    def hurry(self) -> None:
        self.pump.hurry()

    def run_command(self, call: Awaitable[Any], name: str) -> None:
        self.run_worker(call, name=name, group="commands", exit_on_error=False)

    def ring(self, alert: Alert) -> None:
        self.bell()
        log.warning("%s", alert.line())
        command = self.config.alerts.command
        if command:
            self.run_worker(self._alert_command(command, alert), name="alert command", group="alerts",
                            exit_on_error=False)

    async def _alert_command(self, command: str, alert: Alert) -> None:
        problem = await run_alert_command(command, alert, self.config.alerts.timeout_s)
        if problem:
            log.warning("%s", problem)
            self.desk.log_entries([event_log.LogEntry(self.clock(), "error", problem, alarm=True)])

    def store_status(self) -> StoreStatus | None:
        return self.store.status() if self.store is not None else None

    async def _run_engine(self) -> None:
        if self.store is not None and not await self._start_store():
            return
        if self.store is not None:
            await self._load_log_history()
        if self.control is not None:
            await self.control.start(self.engine)
        try:
            await self.engine.run(max_bars=self.max_bars)
        finally:
            if self.control is not None:
                await self.control.close()

    async def _start_store(self) -> bool:
        """Start the store; False when the engine must not run (another engine keeps its book)."""
        try:
            await self.store.start()
        except InstanceBusy as e:  # a second engine on one book is refused, as headless refuses it
            self.exit(return_code=2, message=f"trifactor: error: {e}")
            return False
        except Exception as e:  # noqa: BLE001 - the desk and the engine carry on without a store
            log.error("the store could not be opened", exc_info=e)
            self.notify(f"The store could not be opened: {describe_error(e)}. Trading goes on; "
                        "nothing is recorded until it is fixed and the desk restarted.",
                        title="Store", severity="error", timeout=30)
            self.store = None
            self.engine.detach_store()
            self.desk.header.store = StoreStatus("down", message=describe_error(e))
            return True
        self.store.attach(self.engine.bus)  # starts the store's own writer task
        return True

    async def _load_log_history(self) -> None:
        """Earlier runs' orders, fills and commands into the event log, the per-symbol totals and
        the chart's recent bars (before the engine runs, so nothing of this run is read back twice)."""
        mode = self.engine.mode.value
        try:
            orders = await self.store.recent_orders(mode, HISTORY_ORDERS)
            trades = await self.store.last_trades(HISTORY_TRADES, mode)
            audit = await self.store.recent_audit(HISTORY_COMMANDS)
            totals = await self.store.symbol_totals(mode)
            chart = await self.store.chart_history(self.desk.history.bars)
        except Exception as e:  # noqa: BLE001 - the log starts empty; trading is not held up
            log.warning("the event log's history could not be read from the store: %s", describe_error(e))
            return
        self.desk.post_message(m.LogHistoryLoaded(tuple(event_log.from_store(orders, trades, audit))))
        self.desk.post_message(m.SymbolTotalsLoaded(mode, tuple(totals)))
        self.desk.post_message(m.ChartHistoryLoaded(chart))
        self.desk.post_message(m.TradeHistoryLoaded(mode, tuple(fill_event(t) for t in reversed(trades))))

    # Workers ------------------------------------------------------------------------
    # Every worker runs on the app (worker state messages do not bubble), so this one
    # handler sees every failure.

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "engine" and event.state in (WorkerState.ERROR, WorkerState.SUCCESS,
                                                         WorkerState.CANCELLED):
            self.engine_done = True
            self.desk.header.engine = "stopped"
            self.desk.header.redraw()
            if not self.stopping:
                why = describe_error(worker.error) if event.state == WorkerState.ERROR else "it ended"
                self.desk.raise_alerts([Alert("engine", f"the engine stopped: {why}")])
        if event.state == WorkerState.ERROR:
            log.error("%s failed", worker.name, exc_info=worker.error)
            if isinstance(worker.error, StartError):
                self.notify(f"{describe_error(worker.error)}. The desk stays in {worker.error.mode} mode; "
                            "fix the cause and start trifactor again.",
                            title=f"{worker.error.mode.capitalize()} could not start", severity="error",
                            timeout=3600)
            elif worker.group == "engine":
                self.notify(f"The engine stopped after an error: {describe_error(worker.error)}. "
                            "Positions are left as they are; details are in the log file.",
                            title="Engine stopped", severity="error", timeout=60)
            else:
                self.notify(f"{worker.name} failed: {describe_error(worker.error)}",
                            severity="error", timeout=10)
        elif event.state == WorkerState.SUCCESS and worker.group == "engine" and not self.stopping:
            self.notify("The engine has stopped.", title="Engine", timeout=10)

    def _handle_exception(self, error: Exception) -> None:
        """An unexpected error in the desk itself: the traceback goes to the log file and the
        screen gets one sentence. Under a test pilot Textual's own handling stays, so tests fail."""
        if self.is_headless:
            super()._handle_exception(error)
            return
        log.critical("the desk stopped on an internal error", exc_info=error)
        self.exit(return_code=1, message=f"trifactor: the desk stopped on an internal error "
                                         f"({type(error).__name__}); details are in {log_file()}. "
                                         "Positions are left as they are.")

    # Theme ---------------------------------------------------------------------------

    def next_theme(self) -> None:
        self.theme = self.themes.after(self.theme)
        try:
            self.state_file.update(theme=self.theme)
        except OSError as e:
            self.notify(f"The theme {self.theme!r} is in use but could not be remembered: "
                        f"{self.state_file.path}: {e.strerror}", severity="warning")
            return
        self.notify(f"Theme: {self.theme}", timeout=2)

    # Quit -----------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Textual's own quit key (ctrl+q) takes the same careful way out as q."""
        self.desk.action_quit_desk()

    def shutdown(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.notify("Stopping the engine…", timeout=STOP_TIMEOUT_S)
        self.run_worker(self._stop_and_exit(), name="shutdown", group="shutdown", exclusive=True,
                        exit_on_error=False)

    async def _stop_and_exit(self) -> None:
        try:
            await asyncio.wait_for(self.engine.stop(), STOP_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.error("the engine did not stop within %.0f s; quitting anyway", STOP_TIMEOUT_S)
        finally:
            try:
                if self.store is not None:
                    await asyncio.wait_for(self.store.close(), STOP_TIMEOUT_S)
            except Exception as e:  # noqa: BLE001 - quitting must not hang on the store
                log.error("closing the store failed", exc_info=e)
            finally:
                self.engine.bus.unsubscribe(self.subscription)
                self.exit()
