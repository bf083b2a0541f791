"""Open positions of the current trading mode, one row per symbol."""
from __future__ import annotations

from decimal import Decimal

from engine.events import PositionUpdate
from tui import formatting as fmt
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, Column, KeyedTable


class PositionsTable(KeyedTable):
    PANE = "Positions"
    COLUMNS = (
        # Sized to fit a 120-column desk's half without cutting a value: numbers shrink instead.
        Column("symbol", "Symbol"), Column("side", "Side", 7), Column("qty", "Qty", 9, right=True),
        Column("entry", "Entry", 10, right=True), Column("mark", "Mark", 10, right=True),
        Column("upnl", "Unrealized", 11, right=True), Column("notional", "Notional", 9, right=True),
        Column("leverage", "Lev", 5, right=True),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.palette = Palette()
        self.mode: str | None = None
        self.latest: dict[str, PositionUpdate] = {}

    def cells(self, p: PositionUpdate) -> tuple[Cell, ...]:
        side = "LONG▲" if p.quantity > 0 else "SHORT▼"
        return (
            p.symbol,
            side,
            fmt.quantity(abs(p.quantity)),
            fmt.price(p.entry_price),
            fmt.price(p.mark_price),
            self.palette.signed(fmt.signed_usd_short(p.unrealized_pnl), p.unrealized_pnl),
            fmt.notional(p.notional),
            f"{p.leverage}x",
        )

    def apply(self, updates, mode: str | None) -> None:
        """Show `updates` of `mode`; a zero quantity closes the row. A bar re-marks every open
        position, so rows out of view are written only when they come into view."""
        changed = []
        for p in updates:
            if mode is not None and p.mode.value != mode:
                continue
            if p.quantity == 0:
                self.latest.pop(p.symbol, None)
                self.drop_row(p.symbol)
            else:
                self.latest[p.symbol] = p
                changed.append(p.symbol)
        self.mark(changed)

    def cells_of(self, key: str) -> tuple[Cell, ...]:
        return self.cells(self.latest[key])

    def marked(self, signals) -> list[PositionUpdate]:
        """The shown positions whose price moved in `signals`, at that price (positions are published
        only when they change; the engine marks them with the same prices)."""
        out = []
        latest = self.latest
        for s in signals:
            p = latest.get(s.symbol)
            if p is None or s.ts < p.ts:
                continue
            mark = Decimal(repr(s.price))
            if mark != p.mark_price:
                out.append(p.marked(mark, s.ts))
        return out

    def reset(self, updates, mode: str | None) -> None:
        """Replace everything (start-up, mode switch)."""
        self.latest.clear()
        self.drop_all()
        self.apply(updates, mode)

    def set_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.apply(list(self.latest.values()), None)

    @property
    def open_count(self) -> int:
        return len(self.latest)
