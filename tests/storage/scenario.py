"""A deterministic trading stream whose positions a test can recompute from the fills."""
from __future__ import annotations

from decimal import Decimal

from engine.events import Event
from engine.model import Side
from tests.storage import factories as f

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def trade(i: int) -> tuple[str, Side, Decimal]:
    """Trade i: its symbol, side and quantity."""
    side = Side.BUY if i % 4 != 3 else Side.SELL
    return SYMBOLS[i % 3], side, Decimal("0.01") * (1 + i % 5)


def trading_events(start: int, stop: int) -> tuple[list[Event], dict[str, Decimal]]:
    """Events of trades start..stop-1 (each fill followed by the position it leads to, a signal
    and an equity point), and every symbol's position after trade stop-1."""
    held = {s: Decimal(0) for s in SYMBOLS}
    events: list[Event] = []
    for i in range(stop):
        symbol, side, qty = trade(i)
        held[symbol] += qty * side.sign
        if i >= start:
            events += [f.fill(i, symbol, side, str(qty), str(100 + i)), f.position(symbol, str(held[symbol]), i),
                       f.signal(symbol, i), f.equity(i, str(10000 + i))]
    return events, held
