"""The equity curve (a Sparkline), the account's figures as the engine reports them, and the
per-symbol PnL table."""
from __future__ import annotations

from collections import deque
from datetime import datetime
from decimal import Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from engine.events import EquityUpdate
from tui import formatting as fmt
from tui.widgets.symbol_pnl import SymbolPnlTable


def equity_text(e: EquityUpdate | None) -> Text:
    if e is None:
        return Text(f"Equity {fmt.MISSING}")
    rows = (
        ("Equity", fmt.usd(e.equity), "Realized", fmt.signed_usd(e.realized)),
        ("Unreal.", fmt.signed_usd(e.unrealized), "Fees", fmt.usd(e.fees)),
        ("Funding", fmt.signed_usd(e.funding), "Drawdown", fmt.fraction_pct(e.drawdown)),
        ("Capital", fmt.usd(e.capital), "Trades", str(e.trade_count)),
    )
    # 40 columns: it fits the right-hand column of a 120-column desk without wrapping.
    return Text("\n".join(f"{a:<8}{b:>11}  {c:<8}{d:>11}" for a, b, c, d in rows), no_wrap=True)


class EquityPane(Vertical):
    def __init__(self, points: int = 240, **kwargs) -> None:
        super().__init__(**kwargs)
        self.curve: deque[float] = deque(maxlen=points)
        self._last_ts: datetime | None = None
        self.latest: EquityUpdate | None = None

    def compose(self) -> ComposeResult:
        yield Sparkline([], id="equity-curve")
        yield Static(equity_text(None), id="equity-figures")
        yield SymbolPnlTable(id="symbol-pnl")

    def reset(self, history: list[tuple[datetime, Decimal]]) -> None:
        """Start the curve afresh from `history` (start-up, mode switch)."""
        self.curve.clear()
        self._last_ts = None
        self.latest = None
        for ts, equity in history[-self.curve.maxlen:]:
            self.curve.append(float(equity))
            self._last_ts = ts
        self._show()

    def apply(self, e: EquityUpdate) -> None:
        """One point per bar: a second update within the same bar replaces that bar's point."""
        self.latest = e
        if self._last_ts is None or e.ts > self._last_ts or not self.curve:
            self.curve.append(float(e.equity))
            self._last_ts = e.ts
        else:
            self.curve[-1] = float(e.equity)
        self._show()

    def _show(self) -> None:
        self.query_one(Sparkline).data = list(self.curve)  # a new list: Sparkline redraws on assignment
        self.query_one("#equity-figures", Static).update(equity_text(self.latest), layout=False)
