"""The latest fills, newest at the bottom; older rows beyond `keep` are dropped."""
from __future__ import annotations

from collections import deque

from tui import formatting as fmt
from tui.palette import Palette
from tui.widgets.keyed_table import Column, KeyedTable


class TradesLog(KeyedTable):
    PANE = "Trades"
    COLUMNS = (
        Column("time", "Time"), Column("symbol", "Symbol"), Column("side", "Side", 7),
        Column("qty", "Qty", 10, right=True), Column("price", "Price", 11, right=True),
        Column("fee", "Fee", 9, right=True), Column("realized", "Realized", 12, right=True),
    )

    def __init__(self, keep: int = 200, **kwargs) -> None:
        super().__init__(**kwargs)
        self.keep = keep
        self.palette = Palette()
        self._keys: deque[str] = deque()
        self.count = 0

    def apply(self, fills, mode: str) -> None:
        """Add the fills of `mode` (each mode keeps its own trades)."""
        fills = [event for event in fills if event.fill.mode.value == mode]
        # Follow the newest fill unless the operator is reading older ones.
        follow = not self.has_focus or self.cursor_row >= self.row_count - 1
        for event in fills:
            f = event.fill
            self.count += 1
            key = f"{self.count}:{f.trade_id}"
            side = "BUY ▲" if f.side.value == "BUY" else "SELL ▼"
            self.show_row(key, (
                f.ts.strftime("%m-%d %H:%M"), f.symbol, side, fmt.quantity(f.quantity), fmt.price(f.price),
                fmt.usd(f.fee, 4), self.palette.signed(fmt.signed_usd(f.realized_pnl), f.realized_pnl),
            ))
            self._keys.append(key)
            while len(self._keys) > self.keep:
                self.drop_row(self._keys.popleft())
        if fills and follow:
            self.move_cursor(row=self.row_count - 1, scroll=False)
            # The new rows' height is only known after the next layout, so scroll then.
            self.call_after_refresh(self.scroll_end, animate=False)

    def reset(self, fills, mode: str) -> None:
        """Replace everything (start-up, mode switch) with the latest `keep` fills of `mode`."""
        self.drop_all()
        self._keys.clear()
        self.count = 0
        self.apply(list(fills)[-self.keep:], mode)
