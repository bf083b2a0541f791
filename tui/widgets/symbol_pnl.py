"""Per-symbol PnL since the mode began: realized, unrealized, fees, funding, net, fill count and
turnover. Seeded from the store's totals at start (so it carries across restarts), then kept
up to date from this run's fills, funding payments and positions."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

from tui import formatting as fmt
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
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.books: dict[str, SymbolBook] = {}
        self.palette = Palette()
        self._stale: set[str] = set()

    def book(self, symbol: str) -> SymbolBook:
        self._stale.add(symbol)
        return self.books.setdefault(symbol, SymbolBook())

    def reset(self, totals: Iterable) -> None:
        """Start from the store's per-symbol totals (storage.SymbolTotals), keeping unrealized."""
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

    def set_unrealized(self, positions, mode: str) -> None:
        for p in positions:
            if p.mode.value == mode:
                self.book(p.symbol).unrealized = p.unrealized_pnl if p.quantity else ZERO

    def cells(self, symbol: str, b: SymbolBook) -> tuple[Cell, ...]:
        signed = self.palette.signed
        return (symbol, signed(fmt.signed_usd_short(b.realized), b.realized),
                signed(fmt.signed_usd_short(b.unrealized), b.unrealized), fmt.compact(b.fees),
                signed(fmt.signed_usd_short(b.funding), b.funding), signed(fmt.signed_usd_short(b.net), b.net),
                str(b.trades), fmt.compact(b.turnover))

    def show_stale(self) -> None:
        """Write the rows that changed (called at most once a second)."""
        for symbol in sorted(self._stale):
            self.show_row(symbol, self.cells(symbol, self.books[symbol]))
        self._stale.clear()
