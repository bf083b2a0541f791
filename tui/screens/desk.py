"""The desk: header, signals, factor breakdown and chart, positions, trades and equity.

Wide terminals show every pane at once; narrow or short ones show one pane at a time
(keys 1-5, or enter for the breakdown). Engine messages are applied as diffs inside one
batch update, so each frame is drawn once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui import messages as m
from tui.actions import DESK_COMMANDS, DeskActions, describe_result
from tui.bindings import DESK_BINDINGS, HELP_TEXT, INSPECT
from tui.history import SignalHistory
from tui.palette import Palette
from tui.widgets.breakdown import FactorBreakdown
from tui.widgets.chart import PriceFactorChart
from tui.widgets.equity import EquityPane
from tui.widgets.flatten import FlattenPane
from tui.widgets.header import DeskHeader
from tui.widgets.positions import PositionsTable
from tui.widgets.signals import SignalsTable
from tui.widgets.trades import TradesLog

if TYPE_CHECKING:
    from tui.app import DeskApp

PANES = ("signals", "breakdown", "positions", "trades", "equity")
PANE_FOCUS = {"signals": "#signals", "breakdown": "#breakdown-scroll", "positions": "#positions",
              "trades": "#trades"}
MAX_ERROR_LINES = 4


class DeskScreen(DeskActions, Screen):
    BINDINGS = DESK_BINDINGS
    app: "DeskApp"

    def __init__(self) -> None:
        super().__init__()
        self._in_flight: set[str] = set()
        self.history = SignalHistory()
        self.shown_pane = "signals"

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.app.clock, id="header")
        yield FlattenPane(id="flatten-progress")
        yield Static(id="pane-tabs")
        with Vertical(id="body"):
            with Vertical(id="signals-pane", classes="pane -shown"):
                yield SignalsTable(id="signals")
            with Vertical(id="breakdown-pane", classes="pane"):
                with VerticalScroll(id="breakdown-scroll"):
                    yield FactorBreakdown(id="breakdown")
                yield PriceFactorChart(self.history, id="chart")
            with Vertical(id="positions-pane", classes="pane"):
                yield PositionsTable(id="positions")
                yield Static("No open positions.", id="positions-empty")
            with Vertical(id="trades-pane", classes="pane"):
                yield TradesLog(id="trades")
            yield EquityPane(id="equity-pane", classes="pane")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.signals = self.query_one(SignalsTable)
        self.header = self.query_one(DeskHeader)
        self.flatten_pane = self.query_one(FlattenPane)
        self.flatten_pane.stop_key = self.key_for(next(b for b in DESK_BINDINGS if b.id == "stop_flatten"))
        self.flatten_pane.display = False
        self.breakdown = self.query_one(FactorBreakdown)
        self.chart = self.query_one(PriceFactorChart)
        self.positions = self.query_one(PositionsTable)
        self.trades = self.query_one(TradesLog)
        self.equity = self.query_one(EquityPane)
        self.header.mode = self.app.engine.mode.value
        self.show_pane(self.shown_pane)
        self.retitle()
        self.signals.focus()

    # Engine messages ------------------------------------------------------------------

    def on_signals_arrived(self, message: m.SignalsArrived) -> None:
        with self.app.batch_update():
            for signal in message.updates:
                self.history.record(signal)
            new_rows = len(self.signals.latest)
            self.signals.apply(message.updates)
            symbol = self.signals.cursor_key
            if symbol is not None:
                self.breakdown.show_signal(self.signals.latest.get(symbol))
                if any(s.symbol == symbol for s in message.updates):
                    self.chart.request(symbol)
            if len(self.signals.latest) != new_rows:
                self.retitle()

    def on_engine_state_changed(self, message: m.EngineStateChanged) -> None:
        state = message.state
        previous = self.signals.state
        with self.app.batch_update():
            self.header.state = state
            if self.app.engine.started:
                self.header.engine = "running"
            self.header.redraw()
            self.signals.set_state(state)
            if previous is not None and previous.mode != state.mode:
                self.reload_mode()
            if self.flatten_pane.running != state.flattening:
                self.flatten_pane.set_running(state.flattening)
                self.refresh_bindings()  # the stop key shows in the footer only while it can work

    def on_flatten_progressed(self, message: m.FlattenProgressed) -> None:
        self.flatten_pane.apply(message.updates)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_flatten":
            return self.flatten_pane.running
        return True


    def on_positions_arrived(self, message: m.PositionsArrived) -> None:
        with self.app.batch_update():
            self.positions.apply(message.updates, self.current_mode)
            self.retitle()

    def on_fills_arrived(self, message: m.FillsArrived) -> None:
        with self.app.batch_update():
            self.trades.apply(message.fills, self.current_mode)
            self.retitle()

    def on_equity_changed(self, message: m.EquityChanged) -> None:
        if message.equity.mode.value != self.current_mode:
            return
        with self.app.batch_update():
            self.equity.apply(message.equity)
            self.header.equity = message.equity
            self.header.redraw()

    def on_store_status_changed(self, message: m.StoreStatusChanged) -> None:
        self.header.store = message.status
        self.header.redraw()

    def on_command_answered(self, message: m.CommandAnswered) -> None:
        result = message.result
        if result.command not in DESK_COMMANDS:  # breakers, reconciliation: the engine acted alone
            self.notify(describe_result(result), title=result.command.replace("_", " ").capitalize(),
                        severity="warning" if result.ok else "error", timeout=15)

    def on_engine_reported(self, message: m.EngineReported) -> None:
        # One notice per frame however many problems arrived, so a burst cannot bury the screen.
        errors = message.errors
        lines = [e.message for e in errors[:MAX_ERROR_LINES]]
        if len(errors) > MAX_ERROR_LINES:
            lines.append(f"… and {len(errors) - MAX_ERROR_LINES} more (see the log file)")
        self.notify("\n".join(lines), title="Engine", severity="error", timeout=10)

    # Local state ------------------------------------------------------------------------

    @property
    def current_mode(self) -> str:
        state = self.signals.state
        return state.mode.value if state is not None else self.app.engine.mode.value

    def seed(self) -> None:
        """Fill the panes from the engine's snapshot (what happened before the desk listened)."""
        snapshot = self.app.engine.snapshot()
        with self.app.batch_update():
            if snapshot.state is not None:
                self.on_engine_state_changed(m.EngineStateChanged(snapshot.state))
            self.on_signals_arrived(m.SignalsArrived(tuple(snapshot.signals.values())))
            self.show_book(snapshot)

    def reload_mode(self) -> None:
        """Each mode keeps its own book: show the new mode's positions, trades and equity."""
        self.show_book(self.app.engine.snapshot())

    def show_book(self, snapshot) -> None:
        mode = self.current_mode
        self.positions.reset(snapshot.positions.values(), mode)
        self.trades.reset(snapshot.fills, mode)
        self.equity.reset(list(snapshot.equity_history))
        if snapshot.equity is not None and snapshot.equity.mode.value == mode:
            self.equity.apply(snapshot.equity)
        self.header.equity = snapshot.equity
        self.header.redraw()
        self.retitle()

    def set_palette(self, palette: Palette) -> None:
        with self.app.batch_update():
            self.header.palette = palette
            self.header.redraw()
            self.signals.set_palette(palette)
            self.positions.set_palette(palette)
            self.trades.palette = palette

    def tick(self) -> None:
        """Once a second: the clock and the store's health."""
        self.header.store = self.app.store_status() or self.header.store
        self.header.redraw()

    def resort(self) -> None:
        if self.signals.sort_index:
            self.signals.resort()

    def retitle(self) -> None:
        count = len(self.signals.latest)
        self.query_one("#signals-pane").border_title = (
            f"1 Signals · {count} symbols · sort {self.signals.sort_label}")
        symbol = self.signals.cursor_key
        self.query_one("#breakdown-pane").border_title = f"2 Breakdown · {symbol or 'no symbol'}"
        open_count = self.positions.open_count
        self.query_one("#positions-pane").border_title = f"3 Positions · {open_count} open"
        empty = self.query_one("#positions-empty")
        if empty.display != (open_count == 0):  # a display change is a layout pass: only when needed
            empty.display = open_count == 0
        self.query_one("#trades-pane").border_title = f"4 Trades · {self.trades.count} fills"
        self.query_one("#equity-pane").border_title = f"5 Equity · {self.current_mode}"

    # Panes and the highlighted symbol ------------------------------------------------------

    @on(DataTable.RowHighlighted, "#signals")
    def follow_highlight(self, event: DataTable.RowHighlighted) -> None:
        symbol = event.row_key.value
        self.breakdown.show_signal(self.signals.latest.get(symbol))
        self.chart.request(symbol)
        self.retitle()

    @on(SignalsTable.Inspect)
    def inspect(self) -> None:
        if self.highlighted_symbol():
            self.show_pane("breakdown")

    def show_pane(self, name: str) -> None:
        self.shown_pane = name
        for pane in PANES:
            self.query_one(f"#{pane}-pane").set_class(pane == name, "-shown")
        tabs = Text()
        for n, pane in enumerate(PANES, 1):
            label = f" {n} {pane.capitalize()} "
            if pane == name:  # brackets as well as reverse video: it reads without colour
                tabs.append(f"[{label}]", style="bold reverse")
            else:
                tabs.append(f" {label} ")
        self.query_one("#pane-tabs", Static).update(tabs)
        target = PANE_FOCUS.get(name)
        if target:
            self.query_one(target).focus()

    def action_show_pane(self, name: str) -> None:
        self.show_pane(name)

    def action_back(self) -> None:
        self.show_pane("signals")

    def action_sort(self) -> None:
        self.signals.next_sort()
        self.retitle()
        self.notify(f"Signals sorted by {self.signals.sort_label}.", timeout=2)

    def help_rows(self) -> list[tuple[str, str]]:
        """(key as shown, what it does) for every desk binding, after the keymap."""
        return [(self.key_for(b), HELP_TEXT.get(b.id, b.description)) for b in [*DESK_BINDINGS, INSPECT]]

    def key_for(self, binding) -> str:
        """The key that does `binding` now, after any keymap override."""
        return self.app.keymap_in_use.get(binding.id, binding.key_display or binding.key)
