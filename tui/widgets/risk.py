"""The risk pane: exposure against the caps, margin, distance to each breaker, and each
position's use of its cap and distance to liquidation."""
from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui import formatting as fmt
from tui.palette import Palette
from tui.risk_view import RiskFigures

NEAR = Decimal("0.2")  # within a fifth of the way to a trip (or to liquidation): shown as an alarm


def _pct(value) -> str:
    return fmt.MISSING if value is None else f"{float(value) * 100:.1f}%"


def risk_text(r: RiskFigures | None, palette: Palette) -> Text:
    if r is None:
        return Text("No equity reported yet.")
    alarm = palette.alarm
    text = Text(no_wrap=True, overflow="ellipsis")
    use = r.gross_use
    text.append(f"Gross   {fmt.compact(r.gross):>7} of {fmt.compact(r.gross_cap):>7} {fmt.bar(use)} {_pct(use):>6}",
                style=alarm if use is not None and use > 1 else "")
    text.append(f"   net {fmt.compact(r.net, signed=True)}\n")
    text.append(f"Margin  used {fmt.compact(r.margin_used)}  free {fmt.compact(r.margin_free)} USDT\n")
    for b in r.breakers:
        if b.trips_at is None:
            text.append(f"{b.name.capitalize():<11} off\n")
            continue
        near = b.distance_pct is not None and b.distance_pct < NEAR * (1 - b.trips_at / b.reference)
        text.append(f"{b.name.capitalize():<11} ref {fmt.compact(b.reference)}  trips at {fmt.compact(b.trips_at)}  "
                    f"{fmt.compact(b.distance)} USDT ({_pct(b.distance_pct)}) away\n", style=alarm if near else "")
    if r.positions:
        text.append(f"{'Symbol':<13}{'Notional':>9}  {'Cap use':<14}{'Liq.':>11}{'Dist.':>8}\n", style="bold")
    for p in r.positions:
        near = p.liquidation_distance is not None and abs(p.liquidation_distance) < NEAR
        text.append(f"{p.symbol:<13}{fmt.compact(p.notional, signed=True):>9}  {fmt.bar(p.cap_use, 6)} "
                    f"{_pct(p.cap_use):>6}{fmt.price(p.liquidation):>11}{_pct(p.liquidation_distance):>8}\n",
                    style=alarm if near else "")
    text.rstrip()
    return text


class RiskPane(VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.palette = Palette()
        self.figures: RiskFigures | None = None

    def compose(self):
        yield Static(risk_text(None, self.palette), id="risk-figures")

    def show(self, figures: RiskFigures | None) -> None:
        if figures == self.figures:
            return
        self.figures = figures
        self.query_one("#risk-figures", Static).update(risk_text(figures, self.palette))
