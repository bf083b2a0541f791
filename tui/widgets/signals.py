"""One row per symbol: what the strategy and sizing decided on its last bar.

Only rows that can be seen are written; a row that changes while scrolled out of view is
only marked, and its newest values are written when it comes into view.
"""
from __future__ import annotations

from typing import Any, Callable

from engine.events import EngineState, SignalUpdate
from tui import formatting as fmt
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, Column, KeyedTable


def row_status(signal: SignalUpdate, state: EngineState | None) -> str:
    """The status word: the engine's latest flags win over the one the last bar carried."""
    if state is not None:
        if signal.symbol in state.mismatched:
            return "mismatch"
        if signal.symbol in state.uncertain:
            return "uncertain"
        if signal.symbol in state.paused:
            return "paused"
    kind = signal.status
    if kind in ("paused", "mismatch", "halted", "uncertain"):  # possibly cleared since that bar
        kind = "warming" if signal.progress < 1 else "active"
    if kind == "active" and state is not None and state.halted:
        return "halted"
    return kind


def number(value: Any) -> tuple[bool, Any]:
    """A sort key that puts values still missing (NaN while warming up) last."""
    return (value == value, value)


# Column, sort value (from the event, never recomputed), highest first?
SORTS: tuple[tuple[Column, Callable[[SignalUpdate], Any], bool], ...] = (
    (Column("symbol", "Symbol"), lambda s: s.symbol, False),
    (Column("price", "Price", 10, right=True), lambda s: number(s.price), True),
    (Column("ret", "Return", 9, right=True), lambda s: number(s.ret), True),
    (Column("final", "Final", 7, right=True), lambda s: number(s.final_factor), True),
    (Column("target", "Target", 7, right=True), lambda s: number(s.target_factor), True),
    (Column("target_notional", "Tgt $", 8, right=True), lambda s: s.target_notional, True),
    (Column("current_notional", "Cur $", 8, right=True), lambda s: s.current_notional, True),
    (Column("status", "Status", 13), lambda s: s.status, False),
)


def sorted_symbols(latest: dict[str, SignalUpdate], sort_index: int) -> list[str]:
    """Every symbol in the chosen order. Equal values keep the symbols' alphabetical order (a
    stable sort of an alphabetical list), so equal rows never swap places between updates."""
    _, value, descending = SORTS[sort_index]
    by_symbol = sorted(latest)
    if not sort_index:
        return by_symbol
    return sorted(by_symbol, key=lambda symbol: value(latest[symbol]), reverse=descending)


class SignalsTable(KeyedTable):
    COLUMNS = tuple(column for column, _, _ in SORTS)
    PANE = "Signals"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.latest: dict[str, SignalUpdate] = {}
        self.state: EngineState | None = None
        self.palette = Palette()
        self.sort_index = 0

    def cells(self, s: SignalUpdate) -> tuple[Cell, ...]:
        p = self.palette
        status = row_status(s, self.state)
        return (
            s.symbol,
            fmt.price(s.price),
            p.signed(fmt.signed_pct(s.ret), s.ret),
            p.signed(fmt.factor(s.final_factor), s.final_factor),
            p.signed(fmt.factor(s.target_factor), s.target_factor),
            fmt.notional(s.target_notional),
            fmt.notional(s.current_notional),
            p.status(fmt.status(status, s.progress), status),
        )

    def apply(self, updates: list[SignalUpdate] | tuple[SignalUpdate, ...]) -> None:
        for s in updates:
            self.latest[s.symbol] = s
        self._show(s.symbol for s in updates)
        if self.sort_index:  # the chosen order holds at every update
            self.resort()

    def set_state(self, state: EngineState) -> None:
        before = self.state
        self.state = state
        if before is None or (before.paused, before.halted, before.mismatched, before.uncertain) != (
                state.paused, state.halted, state.mismatched, state.uncertain):
            self._show(self.latest)

    def set_palette(self, palette: Palette) -> None:
        self.palette = palette
        self._show(self.latest)

    def _show(self, symbols) -> None:
        self.mark(symbols)

    def cells_of(self, key: str) -> tuple[Cell, ...]:
        return self.cells(self.latest[key])

    # Sorting -----------------------------------------------------------------------

    @property
    def sort_label(self) -> str:
        column, _, descending = SORTS[self.sort_index]
        return f"{column.label} {'▼' if descending else '▲'}"

    def next_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.resort()

    def sorted_keys(self) -> list[str]:
        return sorted_symbols(self.latest, self.sort_index)

    def resort(self) -> None:
        """Order rows by the sort column, keeping the cursor on the same symbol. Only when the
        order changed: re-sorting a table redraws all of it."""
        if not self.row_count:
            return
        order = self.sorted_keys()
        if [row.key.value for row in self.ordered_rows] == order:
            return
        keep = self.cursor_key
        position = {symbol: n for n, symbol in enumerate(order)}
        self.sort("symbol", key=lambda symbol: position[str(symbol)])
        if keep is not None:
            self.move_cursor(row=self.get_row_index(keep), scroll=False)
        self.call_after_refresh(self.show_pending)  # rows that moved into view show their newest values
