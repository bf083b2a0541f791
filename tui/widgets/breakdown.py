"""Every stage of one symbol's factor pipeline, with its value and the threshold it met.

The values are the strategy's own mapping as the engine sent it; this only lays them out.
"""
from __future__ import annotations

from typing import Any, Mapping

from rich.text import Text
from textual.widgets import Static

from engine.events import SignalUpdate
from tui import formatting as fmt

# (stage, [(label, value key, threshold key or None)])
STAGES: tuple[tuple[str, tuple[tuple[str, str, str | None], ...]], ...] = (
    ("Funding", (
        ("rate", "funding_rate", None),
        ("z-score", "funding_z", "funding_threshold"),
        ("raw signal", "funding_signal_raw", None),
        ("signal", "funding_signal", None),
    )),
    ("Mean reversion", (
        ("returns", "returns", None),
        ("z-score", "returns_z", "mr_threshold"),
        ("trend filter", "trend_filter_mr", None),
        ("volume ratio", "volume_ratio", None),
        ("volume filter", "volume_filter", None),
        ("signal", "mr_signal", None),
    )),
    ("Flow", (
        ("buy ratio", "buy_ratio", None),
        ("buy ratio z", "buy_ratio_z", None),
        ("$ delta z", "dollar_delta_z", None),
        ("combined", "flow_combined", "flow_threshold"),
        ("volume scale", "volume_scale", None),
        ("signal", "flow_signal", None),
    )),
    ("Weights", (
        ("funding", "funding_weight", None),
        ("mean reversion", "mr_weight", None),
        ("flow", "flow_weight", None),
    )),
    ("Regime", (
        ("volatility", "vol_regime", None),
        ("trend", "trend_regime", None),
        ("extreme market", "extreme_market_factor", None),
    )),
    ("Risk scale", (
        ("volatility part", "vol_risk_scale", None),
        ("drawdown part", "drawdown_scale", None),
        ("risk scale", "risk_scale", None),
        ("trend filter", "trend_filter", None),
    )),
    ("Conviction", (
        ("raw factor", "raw_factor", "signal_threshold"),
        ("filtered", "filtered_factor", None),
        ("scale", "conviction_scale", None),
        ("factor", "conviction_factor", None),
    )),
    ("Smoothing", (
        ("smoothed", "smoothed_factor", None),
    )),
    ("Standardise", (
        ("factor std", "factor_std", None),
        ("final factor", "final_factor", None),
    )),
    ("Decision", (
        ("target factor", "target_factor", "change_threshold"),
        ("changed?", "target_changed", None),
    )),
)


STAGE_W, LABEL_W, VALUE_W, THRESHOLD_W = 14, 14, 10, 14
GROUP_W = STAGE_W + LABEL_W + VALUE_W + THRESHOLD_W + 3
GAP = "  "


def columns_for(width: int) -> int:
    return 2 if width >= 2 * GROUP_W + len(GAP) else 1


def breakdown_text(signal: SignalUpdate | None, columns: int = 1) -> Text:
    """The stages as fixed-width lines in `columns` side-by-side groups.

    Plain padded lines, not a Rich table: this is redrawn several times a second and a
    table's measuring pass would cost more than everything else in the pane.
    """
    if signal is None:
        return Text("No symbol highlighted.", style="italic")
    comps: Mapping[str, Any] = signal.components or {}
    if not comps:
        return Text(f"{signal.symbol}: warming up {signal.progress * 100:.0f}%: the factor "
                    "pipeline has no values until its history is long enough.")
    entries: list[tuple[str, str, str, str]] = []
    for stage, items in STAGES:
        for n, (label, key, threshold_key) in enumerate(items):
            threshold = f"thr {fmt.number(comps.get(threshold_key))}" if threshold_key else ""
            entries.append((stage if n == 0 else "", label, fmt.number(comps.get(key)), threshold))
    per_column = -(-len(entries) // columns)
    text = Text(no_wrap=True, overflow="crop")
    for row in range(per_column):
        if row:
            text.append("\n")
        for col in range(columns):
            i = col * per_column + row
            if i >= len(entries):
                break
            stage, label, value, threshold = entries[i]
            if col:
                text.append(GAP)
            text.append(f"{stage:<{STAGE_W}} ", style="bold")
            text.append(f"{label:<{LABEL_W}} {value:>{VALUE_W}} ")
            text.append(f"{threshold:>{THRESHOLD_W}}", style="dim")
    return text


class FactorBreakdown(Static):
    """Re-rendered only when the highlighted symbol's signal changes, and only while shown.

    A new symbol's values have the same shape as the last one's, so most updates skip the
    (whole-screen) layout pass; only a change of shape (warming up, column count) needs it.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.signal: SignalUpdate | None = None
        self._drawn: SignalUpdate | None = None
        self._shape: tuple | None = None

    def show_signal(self, signal: SignalUpdate | None, force: bool = False) -> None:
        self.signal = signal
        if (signal is self._drawn and not force) or not self.is_on_screen:
            return
        self._drawn = signal
        columns = columns_for(self.size.width)
        shape = (columns, signal is None, bool(signal.components) if signal else False)
        self.update(breakdown_text(signal, columns), layout=shape != self._shape)
        self._shape = shape

    def on_resize(self) -> None:
        self.show_signal(self.signal, force=True)

    def on_show(self) -> None:
        self.show_signal(self.signal, force=True)
