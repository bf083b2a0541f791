"""Moves the engine's event stream into the desk, at most `max_fps` batches a second.

Between two batches the engine keeps publishing into the desk's coalescing subscription,
so a symbol that changed five times since the last frame arrives once, with its newest
state. This pacing is what caps the desk's redraw rate.
"""
from __future__ import annotations

import asyncio
from typing import Callable, Iterable

from textual.message import Message

from engine.events import (CommandResult, EngineError, EngineState, EquityUpdate, Event, FillEvent,
                           FlattenProgress, FundingPayment, OrderUpdate, PositionUpdate, SignalBatch, StoreStatus,
                           Subscription)
from tui import messages as m


def to_messages(events: Iterable[Event]) -> list[Message]:
    """Group one drained batch into messages, keeping the engine's order within each kind."""
    signals: SignalBatch | None = None
    positions: list[PositionUpdate] = []
    fills: list[FillEvent] = []
    orders: list[OrderUpdate] = []
    funding: list[FundingPayment] = []
    errors: list[EngineError] = []
    flattening: list[FlattenProgress] = []
    singles: list[Message] = []
    for event in events:
        if isinstance(event, SignalBatch):
            signals = event  # a newer batch holds every symbol an older one did
        elif isinstance(event, PositionUpdate):
            positions.append(event)
        elif isinstance(event, FillEvent):
            fills.append(event)
        elif isinstance(event, OrderUpdate):
            orders.append(event)
        elif isinstance(event, FundingPayment):
            funding.append(event)
        elif isinstance(event, EquityUpdate):
            singles.append(m.EquityChanged(event))
        elif isinstance(event, EngineState):
            singles.append(m.EngineStateChanged(event))
        elif isinstance(event, StoreStatus):
            singles.append(m.StoreStatusChanged(event))
        elif isinstance(event, CommandResult):
            singles.append(m.CommandAnswered(event))
        elif isinstance(event, EngineError):
            errors.append(event)
        elif isinstance(event, FlattenProgress):
            flattening.append(event)
    # State first: a signal row's status depends on the pause/halt set that came with it. Positions
    # before signals: the signals' prices re-mark the positions the minute's fills left.
    out: list[Message] = [s for s in singles if isinstance(s, m.EngineStateChanged)]
    if positions:
        out.append(m.PositionsArrived(tuple(positions)))
    if signals is not None:
        out.append(m.SignalsArrived(signals.updates))
    if orders:
        out.append(m.OrdersArrived(tuple(orders)))
    if fills:
        out.append(m.FillsArrived(tuple(fills)))
    if funding:
        out.append(m.FundingArrived(tuple(funding)))
    if errors:
        out.append(m.EngineReported(tuple(errors)))
    if flattening:
        out.append(m.FlattenProgressed(tuple(flattening)))
    out.extend(s for s in singles if not isinstance(s, m.EngineStateChanged))
    return out


class EventPump:
    """Forwards batches to `post` until the subscription closes.

    `hurry()` ends the current frame's wait early: after an operator command, the state
    it changed should show at once rather than on the next frame.
    """

    def __init__(self, subscription: Subscription, max_fps: float,
                 post: Callable[[Message], object] | None = None) -> None:
        self.subscription = subscription
        self.frame = 1.0 / max_fps
        self.post = post
        self._hurry = asyncio.Event()

    def hurry(self) -> None:
        self._hurry.set()

    async def run(self) -> None:
        while True:
            events = await self.subscription.get_batch()
            if not events:
                return  # closed
            for message in to_messages(events):
                self.post(message)
            try:
                await asyncio.wait_for(self._hurry.wait(), self.frame)
            except asyncio.TimeoutError:
                pass
            self._hurry.clear()
