"""The desk: header, signals, factor breakdown and chart, positions, trades, equity and the
event log.

Wide terminals show every pane at once; narrow or short ones show one pane at a time
(keys 1-6, or enter for the breakdown). Whatever happened (orders, fills, commands, breakers,
mismatches, feed and store changes, errors) goes to the event log and the log file; a notice
is one short line that points there. Engine messages are applied as diffs inside one
batch update, so each frame is drawn once.
"""
from __future__ import annotations

import logging
from decimal import Decimal

from rich.text import Text

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui import event_log
from tui.alerts import Alert, AlertWatch
from tui import messages as m
from tui.actions import DESK_COMMANDS, DeskActions, first_line
from tui.bindings import DESK_BINDINGS, HELP_TEXT, WIDGET_BINDINGS
from tui.fill_marks import FillMarks
from tui.history import SignalHistory
from tui.host import DeskHost
from tui.palette import Palette
from tui.risk_view import DayOpen, risk_figures
from tui.widgets.breakdown import FactorBreakdown
from tui.widgets.chart import PriceFactorChart
from tui.widgets.equity import EquityPane
from tui.widgets.event_log import EventLogPane
from tui.widgets.flatten import FlattenPane
from tui.widgets.header import DeskHeader
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.positions import PositionsTable
from tui.widgets.risk import RiskPane
from tui.widgets.signals import SignalsTable
from tui.widgets.symbol_pnl import SymbolPnlTable
from tui.widgets.trades import TradesLog

PANES = ("signals", "breakdown", "positions", "trades", "equity", "log", "risk")
PANE_FOCUS = {"signals": "#signals", "breakdown": "#breakdown-scroll", "positions": "#positions",
              "trades": "#trades", "log": "#event-log", "risk": "#risk-pane"}
LOG_POINTER = "see the log (6)"
TRADES_ROWS, BOTTOM_ROWS, MIN_PANE_ROWS = 10, 8, 5
FIXED_ROWS = TRADES_ROWS + BOTTOM_ROWS
ALERT_SHOWN_S = 60.0  # how long the header stays highlighted after an alert
events_log = logging.getLogger("trifactor.events")


class DeskScreen(DeskActions, Screen):
    BINDINGS = DESK_BINDINGS

    def __init__(self, host: DeskHost) -> None:
        super().__init__()
        self.host = host
        self._in_flight: set[str] = set()
        self.history = SignalHistory()
        self.fill_marks = FillMarks()
        self.day_open = DayOpen()
        self.alerts = AlertWatch()
        self._alert_timer = None
        self._grid_rows = ""
        self._titles: dict[str, str] = {}
        self._risk_stale = True
        self._last_bar_ts = None
        self.shown_pane = "signals"

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.host.clock, id="header")
        yield FlattenPane(id="flatten-progress")
        yield Static(id="pane-tabs")
        with Vertical(id="body"):
            with Vertical(id="signals-pane", classes="pane -shown"):
                yield SignalsTable(id="signals")
            with Vertical(id="breakdown-pane", classes="pane"):
                with VerticalScroll(id="breakdown-scroll"):
                    yield FactorBreakdown(id="breakdown")
                yield PriceFactorChart(self.history, self.fill_marks, self.held, id="chart")
            with Vertical(id="positions-pane", classes="pane"):
                yield PositionsTable(id="positions")
                yield Static("No open positions.", id="positions-empty")
            with Vertical(id="trades-pane", classes="pane"):
                yield TradesLog(id="trades")
            yield EquityPane(id="equity-pane", classes="pane")
            yield EventLogPane(id="log-pane", classes="pane")
            yield RiskPane(id="risk-pane", classes="pane")
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
        self.event_log = self.query_one(EventLogPane)
        self.risk = self.query_one(RiskPane)
        self.symbol_pnl = self.query_one(SymbolPnlTable)
        self.header.mode = self.host.engine.mode.value
        self.header.bar_age = lambda: self.alerts.bar_age(self.now_s())
        self.show_pane(self.shown_pane)
        self.retitle()
        self.signals.focus()

    # Engine messages ------------------------------------------------------------------

    def on_signals_arrived(self, message: m.SignalsArrived) -> None:
        latest = self.signals.latest
        updates = [s for s in message.updates if latest.get(s.symbol) is not s]  # a batch carries unchanged ones
        if not updates:
            return
        newest = max(s.ts for s in updates)
        if newest is not None and (self._last_bar_ts is None or newest > self._last_bar_ts):
            self._last_bar_ts = newest
            self.alerts.on_bar(self.now_s())
            self.header.market_ts = newest
        with self.app.batch_update():
            for signal in updates:
                self.history.record(signal)
            new_rows = len(latest)
            self.signals.apply(updates)
            self.symbol_pnl.on_bars(updates)
            symbol = self.signals.cursor_key
            if symbol is not None:
                self.breakdown.show_signal(latest.get(symbol))
                if any(s.symbol == symbol for s in updates):
                    self.chart.request(symbol)
            marked = self.positions.marked(updates)
            if marked:
                self.show_positions(marked)
            elif len(latest) != new_rows:
                self.retitle()

    def on_engine_state_changed(self, message: m.EngineStateChanged) -> None:
        state = message.state
        previous = self.signals.state
        self.log_entries(event_log.state_changes(previous, state))
        self.raise_alerts(self.alerts.on_state(state))
        with self.app.batch_update():
            self.header.state = state
            if self.host.engine.started:
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
        self.show_positions(message.updates)

    def show_positions(self, updates) -> None:
        with self.app.batch_update():
            self.positions.apply(updates, self.current_mode)
            self.symbol_pnl.set_unrealized(updates, self.current_mode)
            self.retitle()
            self.refresh_risk()
            self.redraw_chart_for({p.symbol for p in updates})

    def on_orders_arrived(self, message: m.OrdersArrived) -> None:
        self.log_entries(e for e in map(event_log.from_order, message.updates) if e is not None)

    def on_fills_arrived(self, message: m.FillsArrived) -> None:
        self.log_entries(map(event_log.from_fill, message.fills))
        self.symbol_pnl.add_fills(message.fills, self.current_mode)
        with self.app.batch_update():
            self.trades.apply(message.fills, self.current_mode)
            self.retitle()
            self.redraw_chart_for(self.fill_marks.add(message.fills, self.current_mode))

    def on_equity_changed(self, message: m.EquityChanged) -> None:
        if message.equity.mode.value != self.current_mode:
            return
        self.day_open.see(message.equity.ts, message.equity.equity)
        with self.app.batch_update():
            self.equity.apply(message.equity)
            self.header.equity = message.equity
            self.header.redraw()
            self.refresh_risk()
            self.retitle()

    def on_store_status_changed(self, message: m.StoreStatusChanged) -> None:
        before = self.header.store
        if before is None or (before.status, before.spooled > 0) != (message.status.status,
                                                                     message.status.spooled > 0):
            self.log_entries([event_log.from_store_status(message.status, self.host.clock())])
        self.alerts.on_store(message.status, self.now_s())
        self.header.store = message.status
        self.header.redraw()

    def on_command_answered(self, message: m.CommandAnswered) -> None:
        result = message.result
        self.log_entries(event_log.from_result(result))
        self.raise_alerts(self.alerts.on_result(result))
        if result.command not in DESK_COMMANDS:  # breakers, reconciliation: the engine acted alone
            self.notify(f"{first_line(result.message)} · {LOG_POINTER}",
                        title=result.command.replace("_", " ").capitalize(),
                        severity="warning" if result.ok else "error", timeout=8)

    def on_engine_reported(self, message: m.EngineReported) -> None:
        # One short notice per frame however many problems arrived; the log has each of them.
        errors = message.errors
        self.log_entries(map(event_log.from_error, errors))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        self.notify(f"{first_line(errors[0].message)}{more} · {LOG_POINTER}", title="Engine",
                    severity="error", timeout=8)

    def on_funding_arrived(self, message: m.FundingArrived) -> None:
        self.symbol_pnl.add_funding(message.payments, self.current_mode)

    def on_trade_history_loaded(self, message: m.TradeHistoryLoaded) -> None:
        """Earlier runs' fills first, so after a restart the pane is not just this run's."""
        if message.mode == self.current_mode:
            fills = [*message.fills, *self.host.engine.snapshot().fills]
            self.trades.reset(fills, message.mode)
            self.fill_marks.reset(fills, message.mode)
            self.retitle()
            self.redraw_chart_for({self.signals.cursor_key})

    def on_symbol_totals_loaded(self, message: m.SymbolTotalsLoaded) -> None:
        if message.mode == self.current_mode:
            self.symbol_pnl.reset(message.totals)

    def on_chart_history_loaded(self, message: m.ChartHistoryLoaded) -> None:
        self.history.load(message.points)

    def on_log_history_loaded(self, message: m.LogHistoryLoaded) -> None:
        self.event_log.add_history(message.entries)

    def held(self, symbol: str) -> Decimal:
        """The position in `symbol` now, in the shown mode (0 when flat)."""
        p = self.positions.latest.get(symbol)
        return p.quantity if p is not None else Decimal(0)

    def redraw_chart_for(self, symbols: set[str | None]) -> None:
        """The chart again when the symbol it shows got fills or a position change."""
        symbol = self.signals.cursor_key
        if symbol is not None and symbol in symbols:
            self.chart.request(symbol)

    def now_s(self) -> float:
        """The host's clock in seconds: the bar age and the alerts that are about time use it,
        so a test's frozen clock keeps them still."""
        return self.host.clock().timestamp()

    def raise_alerts(self, alerts: list[Alert]) -> None:
        """Each alert: a line in the log, the bell (and the alert command), the header highlighted."""
        if not alerts:
            return
        self.log_entries(event_log.LogEntry(self.host.clock(), "alert", a.text, alarm=True) for a in alerts)
        for alert in alerts:
            self.host.ring(alert)
        self.header.alert = f"ALERT {alerts[-1].kind}: {alerts[-1].text}"
        self.header.redraw()
        if self._alert_timer is not None:
            self._alert_timer.stop()
        self._alert_timer = self.set_timer(ALERT_SHOWN_S, self.clear_alert)

    def clear_alert(self) -> None:
        self.header.alert = ""
        self.header.redraw()

    def log_entries(self, entries) -> None:
        """Into the event log pane and the log file."""
        entries = list(entries)
        if not entries:
            return
        for entry in entries:
            events_log.info("%s", entry.line())
        self.event_log.add(entries)

    # Local state ------------------------------------------------------------------------

    @property
    def current_mode(self) -> str:
        state = self.signals.state
        return state.mode.value if state is not None else self.host.engine.mode.value

    def live_positions_open(self) -> bool:
        return self.current_mode == "live" and self.positions.open_count > 0

    def seed(self) -> None:
        """Fill the panes from the engine's snapshot (what happened before the desk listened)."""
        snapshot = self.host.engine.snapshot()
        with self.app.batch_update():
            if snapshot.state is not None:
                self.on_engine_state_changed(m.EngineStateChanged(snapshot.state))
            self.on_signals_arrived(m.SignalsArrived(tuple(snapshot.signals.values())))
            self.show_book(snapshot)

    def reload_mode(self) -> None:
        """Each mode keeps its own book: show the new mode's positions, trades and equity."""
        self.show_book(self.host.engine.snapshot())

    def show_book(self, snapshot) -> None:
        mode = self.current_mode
        self.positions.reset(snapshot.positions.values(), mode)
        self.trades.reset(snapshot.fills, mode)
        self.fill_marks.reset(snapshot.fills, mode)
        self.redraw_chart_for({self.signals.cursor_key})
        self.symbol_pnl.reset((), new_mode=True)  # the store's totals for this mode follow at start
        self.symbol_pnl.add_fills(snapshot.fills, mode)
        self.symbol_pnl.set_unrealized(snapshot.positions.values(), mode)
        self.equity.reset(list(snapshot.equity_history))
        self.day_open = DayOpen()
        for ts, equity in snapshot.equity_history:
            self.day_open.see(ts, equity)
        if snapshot.equity is not None and snapshot.equity.mode.value == mode:
            self.equity.apply(snapshot.equity)
            self.day_open.see(snapshot.equity.ts, snapshot.equity.equity)
        self.header.equity = snapshot.equity
        self.header.redraw()
        self.retitle()
        self.refresh_risk()

    def refresh_risk(self) -> None:
        """Mark the risk figures stale; the once-a-second tick recomputes them (with hundreds of
        positions that is not free, and exposure does not need to move ten times a second)."""
        self._risk_stale = True

    def show_risk(self) -> None:
        if not self._risk_stale or not self.risk.display or not self.risk.is_on_screen:
            return
        self._risk_stale = False
        self.risk.show(risk_figures(self.host.config, self.positions.latest.values(), self.equity.latest,
                                    self.day_open.equity))

    def set_palette(self, palette: Palette) -> None:
        with self.app.batch_update():
            self.header.palette = palette
            self.header.redraw()
            self.signals.set_palette(palette)
            self.risk.palette = palette
            self.event_log.palette = palette
            self.positions.set_palette(palette)
            self.trades.palette = palette
            self.chart.palette = palette
            self.chart.redraw()

    def tick(self) -> None:
        """Once a second: the clock, the store's health, alerts that are about time, the risk pane."""
        self.show_risk()
        self.symbol_pnl.show_stale()
        self.header.store = self.host.store_status() or self.header.store
        if self.header.store is not None:
            self.alerts.on_store(self.header.store, self.now_s())
        self.header.redraw()
        if self.host.engine.started and not self.host.engine_done:
            self.raise_alerts(self.alerts.tick(self.now_s()))

    def fit_rows(self) -> None:
        """Wide layout: Positions gets the rows its positions need before Signals gets rows it
        would leave empty; Trades and the log/risk row keep fixed heights."""
        if not (self.has_class("-wide") or self.has_class("-very-wide")) or not self.has_class("-tall"):
            return
        body = self.query_one("#body")
        free = body.size.height - FIXED_ROWS
        if free <= 0:
            return
        framed = 3  # border top and bottom, and the column header
        positions = max(self.positions.open_count, 1) + framed
        signals = len(self.signals.latest) + framed
        positions = min(positions, max(MIN_PANE_ROWS, free - min(signals, free // 2)))
        rows = f"{max(MIN_PANE_ROWS, free - positions)} {positions} {TRADES_ROWS} {BOTTOM_ROWS}"
        if rows != self._grid_rows:
            self._grid_rows = rows
            body.styles.grid_rows = rows

    def on_resize(self) -> None:
        self.call_after_refresh(self.fit_rows)

    def retitle(self) -> None:
        self.fit_rows()
        count = len(self.signals.latest)
        self._title("#signals-pane", f"1 Signals · {count} symbols · sort {self.signals.sort_label}")
        symbol = self.signals.cursor_key
        self._title("#breakdown-pane", f"2 Breakdown · {symbol or 'no symbol'}")
        open_count = self.positions.open_count
        self._title("#positions-pane", f"3 Positions · {open_count} open")
        empty = self.query_one("#positions-empty")
        if empty.display != (open_count == 0):  # a display change is a layout pass: only when needed
            empty.display = open_count == 0
        self._title("#trades-pane", self._trades_title())
        self._title("#equity-pane", f"5 Equity · {self.current_mode}")
        self._title("#log-pane", "6 Log · / filters by symbol or kind")
        self._title("#risk-pane", "7 Risk")

    def _trades_title(self) -> str:
        # The book's count covers earlier runs too (the Equity pane's "Trades"); the pane holds the latest.
        equity = self.equity.latest
        total = max(equity.trade_count if equity is not None else 0, self.trades.count)
        shown = self.trades.row_count
        return f"4 Trades · {total} fills" + (f" · latest {shown}" if shown < total else "")

    def _title(self, pane: str, title: str) -> None:
        # Setting a border title repaints the whole pane, children included, even when it is the
        # same text: several times a bar that was most of the desk's drawing.
        if self._titles.get(pane) != title:
            self._titles[pane] = title
            self.query_one(pane).border_title = title

    # Panes and the highlighted symbol ------------------------------------------------------

    @on(DataTable.RowHighlighted, "#signals")
    def follow_highlight(self, event: DataTable.RowHighlighted) -> None:
        symbol = event.row_key.value
        self.breakdown.show_signal(self.signals.latest.get(symbol))
        self.chart.request(symbol)
        self.retitle()

    @on(KeyedTable.Inspect)
    def inspect(self, event: KeyedTable.Inspect) -> None:
        """enter on any table: that row's symbol in the breakdown and chart."""
        symbol = event.symbol
        if symbol is None:
            self.hint_no_row(event.table)
            return
        if self.signals.has_row(symbol) and self.signals.cursor_key != symbol:
            self.signals.move_cursor(row=self.signals.get_row_index(symbol))
        self.breakdown.show_signal(self.signals.latest.get(symbol))
        self.chart.request(symbol)
        self.show_pane("breakdown")
        self.retitle()

    def show_pane(self, name: str) -> None:
        self.shown_pane = name
        for pane in PANES:
            self.query_one(f"#{pane}-pane").set_class(pane == name, "-shown")
        tabs = Text()
        for n, pane in enumerate(PANES, 1):
            label = f"{n} {pane.capitalize()}"
            if pane == name:  # brackets as well as reverse video: it reads without colour
                tabs.append(f"[{label}]", style="bold reverse")
            else:
                tabs.append(f" {label} ")
            tabs.append(" ")
        self.query_one("#pane-tabs", Static).update(tabs)
        target = PANE_FOCUS.get(name)
        if target:
            self.query_one(target).focus()
        if name == "risk":
            self.call_after_refresh(self.show_risk)

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
        return [(self.key_for(b), HELP_TEXT.get(b.id, b.description)) for b in [*DESK_BINDINGS, *WIDGET_BINDINGS]]

    def key_for(self, binding) -> str:
        """The key that does `binding` now, after any keymap override."""
        return self.host.keymap_in_use.get(binding.id, binding.key_display or binding.key)
