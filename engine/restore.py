"""Picking up where the last run stopped: operator controls and the paper book.

Controls come from the TOML state file (written synchronously, so it is the freshest) and,
for any key it lacks, from the store.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from engine.book import ModeBook
from engine.config import MODES
from engine.model import Mode
from engine.store import RestoredControls, RestoredState


@dataclass
class Controls:
    paused: set[str] = field(default_factory=set)
    halted: bool = False
    halt_reason: str = ""
    mode: str | None = None
    problems: list[str] = field(default_factory=list)


def merge_controls(stored: RestoredControls | None, file_data: dict[str, Any], file_name: str) -> Controls:
    out = Controls()
    if stored is not None:
        out.paused = set(stored.paused)
        out.halted, out.halt_reason, out.mode = stored.halted, stored.halt_reason, stored.mode
    paused = file_data.get("paused")
    if paused is not None:
        if isinstance(paused, list) and all(isinstance(s, str) for s in paused):
            out.paused = set(paused)
        else:
            out.problems.append(f"{file_name}: `paused` must be a list of symbols; ignored")
    halted = file_data.get("halted")
    if halted is not None:
        if isinstance(halted, bool):
            out.halted = halted
            out.halt_reason = str(file_data.get("halt_reason", "")) if halted else ""
        else:
            out.problems.append(f"{file_name}: `halted` must be true or false; ignored")
    mode = file_data.get("mode")
    if mode is not None:
        if mode in MODES:
            out.mode = mode
        else:
            out.problems.append(f"{file_name}: `mode` {mode!r} is not one of {', '.join(MODES)}; ignored")
    return out


def apply_state(book: ModeBook, state: RestoredState) -> None:
    """Load a mode's committed state into a fresh book (and the paper venue's own book)."""
    p = book.portfolio
    p.realized, p.fees, p.funding, p.trade_count = state.realized, state.fees, state.funding, state.trade_count
    if book.mode is not Mode.PAPER:  # paper trade ids are the simulation's own, not an exchange's
        book.trade_ids.update(state.trade_ids)
    book.last_funding_at = state.last_funding_at
    restore_venue = getattr(book.venue, "restore", None)
    for symbol, pos in state.positions.items():
        if pos.quantity:
            p.adopt(symbol, pos.quantity, pos.entry_price, cost=pos.cost)
            if restore_venue is not None:
                restore_venue(symbol, pos.quantity, pos.entry_price)
    day = state.equity_tail[-1][0].date() if state.equity_tail else None
    book.breakers.restore(state.peak_equity, state.day_open_equity, day)
    book.equity_history.extend(state.equity_tail[-book.equity_history.maxlen:])
    # Rows are stamped with the close time of the bar just processed; that bar opened a minute earlier.
    last_bar_open = state.equity_tail[-1][0] - timedelta(minutes=1) if state.equity_tail else None
    book.funding_clock.resume(state.last_funding_at, last_bar_open)
