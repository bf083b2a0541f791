"""The desk's top line: mode, market, feed and store health, UTC clock, halt, breakers, equity.

A narrow terminal gets the items on two lines, broken between items, never inside one.
Alarming states are spelled out in capitals, so they read without colour too.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from rich.text import Text
from textual.widgets import Static

from engine.events import EngineState, EquityUpdate, StoreStatus
from tui import formatting as fmt
from tui.palette import Palette

SEPARATOR = " │ "


def header_text(mode: str, state: EngineState | None, store: StoreStatus | None,
                equity: EquityUpdate | None, now: datetime, palette: Palette,
                engine: str, width: int = 1000) -> Text:
    """`engine` is starting, running or stopped."""
    items: list[tuple[str, str]] = []
    if mode == "live" and engine == "running":
        items.append(("‼ LIVE ‼", f"bold reverse {palette.loss}"))
    elif mode == "live":  # asked for, but nothing is live yet (or any more): no alarm that lies
        items.append(("live: not trading", f"bold {palette.warn}"))
    else:
        items.append((mode.upper(), "bold reverse"))
    if engine != "running":
        items.append(("engine starting…" if engine == "starting" else "ENGINE STOPPED",
                      palette.warn if engine == "starting" else f"bold {palette.loss}"))
    if state is not None and state.connecting:
        items.append((f"connecting ({state.connecting})", f"bold {palette.warn}"))
    if state is not None:
        items.append((f"market {state.market}", ""))
        feed_ok = state.feed_status == "live"
        items.append((f"feed {state.feed_status}", "" if feed_ok else f"bold {palette.warn}"))
    if store is None:
        items.append(("db off", ""))
    else:
        db_ok = store.status in ("up", "off")
        spool = f" ({store.spooled} queued)" if store.spooled else ""
        items.append((f"db {store.status}{spool}", "" if db_ok else f"bold {palette.warn}"))
    items.append((now.strftime("%H:%M:%S UTC"), ""))
    if state is not None:
        if state.halted:
            reason = f": {state.halt_reason}" if state.halt_reason else ""
            items.append((f"ENTRIES HALTED{reason}", f"bold {palette.loss}"))
        else:
            items.append(("entries on", ""))
        tripped = [f"{name}: {why}" for name, why in state.breakers.items() if why]
        if tripped:
            items.append(("BREAKER " + "; ".join(tripped), f"bold {palette.loss}"))
        else:
            items.append(("breakers ok", ""))
        if state.paused:
            items.append((f"{len(state.paused)} paused", palette.warn))
    if equity is not None:
        items.append((f"equity {fmt.usd(equity.equity)}", "bold"))
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

    def redraw(self) -> None:
        mode = self.state.mode.value if self.state is not None else self.mode
        # Its height is fixed by the stylesheet, so no layout pass is needed.
        self.update(header_text(mode, self.state, self.store, self.equity, self.clock(),
                                self.palette, self.engine, self.size.width or 1000), layout=False)

    def on_resize(self) -> None:
        self.redraw()
