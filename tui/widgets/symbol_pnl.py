"""Per-symbol PnL since the mode began: realized, unrealized, fees, funding, net, fill count and
turnover. Seeded from the store's totals at start (so it carries across restarts), then kept
up to date from this run's fills, funding payments and positions. The last three columns are
this run's PnL by factor (tui/factor_pnl.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

from tui import formatting as fmt
from tui.factor_pnl import FactorPnl
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, Column, KeyedTable

ZERO = Decimal(0)


@dataclass
class SymbolBook:
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    trades: int = 0
    turnover: Decimal = ZERO
    unrealized: Decimal = field(default=ZERO)

    @property
    def net(self) -> Decimal:
        return self.realized + self.unrealized - self.fees + self.funding


class SymbolPnlTable(KeyedTable):
    PANE = "PnL"
    COLUMNS = (
        Column("symbol", "Symbol"), Column("realized", "Realized", 10, right=True),
        Column("unrealized", "Unreal.", 10, right=True), Column("fees", "Fees", 8, right=True),
        Column("funding", "Funding", 9, right=True), Column("net", "Net", 10, right=True),
        Column("trades", "Fills", 6, right=True), Column("turnover", "Turnover", 9, right=True),
        # This run's price and funding PnL split by the factor that set each position (README).
        Column("by_funding", "Fund.", 9, right=True), Column("by_mr", "MeanRev", 9, right=True),
        Column("by_flow", "Flow", 9, right=True),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.books: dict[str, SymbolBook] = {}
        self.palette = Palette()
        self._stale: set[str] = set()
        self.by_factor = FactorPnl()

    def book(self, symbol: str) -> SymbolBook:
        self._stale.add(symbol)
        return self.books.setdefault(symbol, SymbolBook())

    def reset(self, totals: Iterable, new_mode: bool = False) -> None:
        """Start from the store's per-symbol totals (storage.SymbolTotals), keeping unrealized
        (and this run's attribution, unless the book is another mode's)."""
        if new_mode:
            self.by_factor = FactorPnl()
        unrealized = {s: b.unrealized for s, b in self.books.items()}
        self.books.clear()
        self.drop_all()
        for t in totals:
            self.books[t.symbol] = SymbolBook(t.realized, t.fees, t.funding, t.trades, t.turnover,
                                              unrealized.pop(t.symbol, ZERO))
        for symbol, value in unrealized.items():
            self.book(symbol).unrealized = value
        self._stale = set(self.books)

    def add_fills(self, fills, mode: str) -> None:
        for event in fills:
            f = event.fill
            if f.mode.value != mode:
                continue
            b = self.book(f.symbol)
            b.realized += f.realized_pnl
            b.fees += f.fee
            b.trades += 1
            b.turnover += abs(f.quantity) * f.price

    def add_funding(self, payments, mode: str) -> None:
        for p in payments:
            if p.mode.value == mode:
                self.book(p.symbol).funding += p.amount
                self.by_factor.on_funding(p.symbol, p.amount)

    def set_unrealized(self, positions, mode: str) -> None:
        for p in positions:
            if p.mode.value == mode:
                self.book(p.symbol).unrealized = p.unrealized_pnl if p.quantity else ZERO
                self.by_factor.on_position(p.symbol, p.quantity)

    def on_bars(self, signals) -> None:
        for s in signals:
            self.by_factor.on_bar(s.symbol, s.price, s.components)
            if s.symbol in self.by_factor.parts:
                self._stale.add(s.symbol)
                self.books.setdefault(s.symbol, SymbolBook())

    def cells(self, symbol: str, b: SymbolBook) -> tuple[Cell, ...]:
        signed = self.palette.signed
        parts = self.by_factor.parts.get(symbol, {})
        by = [signed(fmt.signed_usd_short(parts.get(k, ZERO)), parts.get(k, ZERO)) for k in ("funding", "mr", "flow")]
        return (symbol, signed(fmt.signed_usd_short(b.realized), b.realized),
                signed(fmt.signed_usd_short(b.unrealized), b.unrealized), fmt.compact(b.fees),
                signed(fmt.signed_usd_short(b.funding), b.funding), signed(fmt.signed_usd_short(b.net), b.net),
                str(b.trades), fmt.compact(b.turnover), *by)

    def show_stale(self) -> None:
        """Write the rows that changed (called at most once a second): new rows, and changed
        rows that can be seen; the others keep their mark until they come into view."""
        if not self.is_on_screen:
            return
        visible = {self.key_at(n) for n in self.visible_row_range()}
        for symbol in sorted(self._stale):
            if not self.has_row(symbol) or symbol in visible:
                self.show_row(symbol, self.cells(symbol, self.books[symbol]))
                self._stale.discard(symbol)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.call_after_refresh(self.show_stale)
