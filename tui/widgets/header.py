"""The desk's top line: mode, market, feed and store health, UTC clock, halt, breakers, equity.

A narrow terminal gets the items on two lines, broken between items, never inside one.
Alarming states are spelled out in capitals, so they read without colour too.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Callable

from rich.text import Text
from textual.widgets import Static

from engine.events import EngineState, EquityUpdate, StoreStatus
from tui import formatting as fmt
from tui.palette import Palette

SEPARATOR = " │ "
MAX_LINES = 3


def header_text(mode: str, state: EngineState | None, store: StoreStatus | None,
                equity: EquityUpdate | None, now: datetime, palette: Palette,
                engine: str, width: int = 1000, alert: str = "", market_ts: datetime | None = None,
                bar_age: float | None = None) -> Text:
    """`engine` is starting, running or stopped; `alert` the latest alert while it is shown;
    `market_ts` the newest bar's market time and `bar_age` how many seconds ago it arrived.

    What the operator must always see comes first (mode, engine, equity, halt, breakers), so
    when the items wrap onto a second line nothing of that is what moves."""
    items: list[tuple[str, str]] = []
    if alert:
        items.append((f"⚠ {alert}", palette.alarm))
    if mode == "live" and engine == "running":
        items.append(("‼ LIVE ‼", palette.alarm))
    elif mode == "live":  # asked for, but nothing is live yet (or any more): no alarm that lies
        items.append(("live: not trading", palette.caution))
    else:
        items.append((mode.upper(), "bold reverse"))
    if engine != "running":
        items.append(("engine starting…" if engine == "starting" else "ENGINE STOPPED",
                      palette.warn if engine == "starting" else palette.alarm))
    if equity is not None:
        items.append((f"equity {fmt.usd(equity.equity)}", "bold"))
    if state is not None:
        if state.halted:
            reason = f": {state.halt_reason}" if state.halt_reason else ""
            items.append((f"ENTRIES HALTED{reason}", palette.alarm))
        else:
            items.append(("entries on", ""))
        tripped = [f"{name}: {why}" for name, why in state.breakers.items() if why]
        if tripped:
            items.append(("BREAKER " + "; ".join(tripped), palette.alarm))
        else:
            items.append(("breakers ok", ""))
        if state.paused:
            items.append((f"{len(state.paused)} paused", palette.warn))
        if state.flattening:
            items.append(("FLATTENING", palette.alarm))
    if state is not None and state.connecting:
        items.append((f"connecting ({state.connecting})", palette.caution))
    if state is not None:
        items.append((f"market {state.market}", ""))
        if state.rate_limited_until is not None:
            left = math.ceil((state.rate_limited_until - now).total_seconds())
            if left > 0:
                items.append((f"rate-limited, {left}s", f"bold {palette.loss}"))
        feed_ok = state.feed_status == "live"
        items.append((f"feed {state.feed_status}", "" if feed_ok else palette.caution))
    if store is None:
        items.append(("db off", ""))
    else:
        db_ok = store.status in ("up", "off")
        spool = f" ({store.spooled} queued)" if store.spooled else ""
        items.append((f"db {store.status}{spool}", "" if db_ok else palette.caution))
    if market_ts is not None:
        age = f", {bar_age:.0f}s ago" if bar_age is not None else ""
        items.append((f"bar {market_ts:%Y-%m-%d %H:%M}{age}", ""))
    items.append((now.strftime("%H:%M:%S UTC"), ""))
    text = Text(no_wrap=True, overflow="ellipsis")
    used = 0
    for n, (label, style) in enumerate(items):
        if n and used + len(SEPARATOR) + len(label) > width:
            text.append("\n")
            used = 0
        elif n:
            text.append(SEPARATOR, style="dim")
            used += len(SEPARATOR)
        text.append(label, style=style)
        used += len(label)
    return text


class DeskHeader(Static):
    def __init__(self, clock: Callable[[], datetime], **kwargs) -> None:
        super().__init__("", **kwargs)
        self.clock = clock
        self.mode = "paper"
        self.state: EngineState | None = None
        self.store: StoreStatus | None = None
        self.equity: EquityUpdate | None = None
        self.palette = Palette()
        self.engine = "starting"
        self.alert = ""
        self.market_ts: datetime | None = None
        self.bar_age: Callable[[], float | None] = lambda: None

    def redraw(self) -> None:
        mode = self.state.mode.value if self.state is not None else self.mode
        # Its height is fixed by the stylesheet, so no layout pass is needed.
        text = header_text(mode, self.state, self.store, self.equity, self.clock(), self.palette, self.engine,
                           self.size.width or 1000, self.alert, self.market_ts, self.bar_age())
        lines = min(MAX_LINES, text.plain.count("\n") + 1)
        if self.size.width and self.styles.height is not None and self.styles.height.value != lines:
            self.styles.height = lines  # wraps rather than hides: a layout pass only when that changes
        self.update(text, layout=False)
        self.set_class(bool(self.alert), "-alert")

    def on_resize(self) -> None:
        self.redraw()
