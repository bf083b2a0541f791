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

MAX_ROWS = 40  # the largest positions; redrawing hundreds of lines every second is not free
NEAR = Decimal("0.2")  # within a fifth of the way to a trip (or to liquidation): shown as an alarm


def _pct(value) -> str:
    return fmt.MISSING if value is None else f"{float(value) * 100:.1f}%"


def risk_text(r: RiskFigures | None, palette: Palette) -> Text:
    """About 40 columns wide, so it fits beside the log on a 120-column desk."""
    if r is None:
        return Text("No equity reported yet.")
    alarm = palette.alarm
    text = Text()
    use = r.gross_use
    text.append(f"Gross {fmt.compact(r.gross)} of {fmt.compact(r.gross_cap)} {fmt.bar(use, 10)} {_pct(use)}\n",
                style=alarm if use is not None and use > 1 else "")
    text.append(f"Net {fmt.compact(r.net, signed=True)} · margin {fmt.compact(r.margin_used)} used, "
                f"{fmt.compact(r.margin_free)} free\n")
    for b in r.breakers:
        if b.trips_at is None:
            text.append(f"{b.name.capitalize():<10} off\n")
            continue
        near = b.distance_pct is not None and b.distance_pct < NEAR * (1 - b.trips_at / b.reference)
        text.append(f"{b.name.capitalize():<10} {fmt.compact(b.reference)}→{fmt.compact(b.trips_at)}: "
                    f"{fmt.compact(b.distance)} ({_pct(b.distance_pct)}) away\n", style=alarm if near else "")
    if r.positions:
        text.append(f"{'Symbol':<9}{'Notion.':>7}{'Cap':>7}{'Liq.':>10}{'Dist.':>7}\n", style="bold")
    for p in r.positions[:MAX_ROWS]:
        near = p.liquidation_distance is not None and abs(p.liquidation_distance) < NEAR
        text.append(f"{p.symbol:<9}{fmt.compact(p.notional, signed=True):>7}{_pct(p.cap_use):>7}"
                    f"{fmt.price(p.liquidation):>10}{_pct(p.liquidation_distance):>7}\n", style=alarm if near else "")
    if len(r.positions) > MAX_ROWS:
        text.append(f"… and {len(r.positions) - MAX_ROWS} smaller positions\n")
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
        # A fixed height (the stylesheet's): the once-a-second update repaints the figures
        # without a layout pass of the whole screen.
        self.query_one("#risk-figures", Static).update(risk_text(figures, self.palette), layout=False)
