"""The engine's events as small Textual messages.

Per-symbol state arrives in batches (one message per drain of the event stream), so the
desk pays one dispatch per frame however many symbols changed. Latest-value messages
coalesce: a pending one is dropped when a newer one is right behind it.
"""
from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.events import (CommandResult, EngineError, EngineState, EquityUpdate, FillEvent, FlattenProgress,
                           FundingPayment, OrderUpdate, PositionUpdate, SignalUpdate, StoreStatus)
from tui.event_log import LogEntry


@dataclass
class SignalsArrived(Message):
    updates: tuple[SignalUpdate, ...]


@dataclass
class PositionsArrived(Message):
    updates: tuple[PositionUpdate, ...]


@dataclass
class FillsArrived(Message):
    fills: tuple[FillEvent, ...]


@dataclass
class OrdersArrived(Message):
    updates: tuple[OrderUpdate, ...]


@dataclass
class FundingArrived(Message):
    payments: tuple[FundingPayment, ...]


@dataclass
class TradeHistoryLoaded(Message):
    """The mode's last fills from the store (earlier runs), oldest first, as fill events."""

    mode: str
    fills: tuple[FillEvent, ...]


@dataclass
class ChartHistoryLoaded(Message):
    """Each symbol's (time, price, final factor) of the store's newest minutes, oldest first."""

    points: dict


@dataclass
class SymbolTotalsLoaded(Message):
    """Per-symbol totals of the mode from the store (storage.SymbolTotals)."""

    mode: str
    totals: tuple


@dataclass
class LogHistoryLoaded(Message):
    """The event log's entries from the store (earlier runs), oldest first."""

    entries: tuple[LogEntry, ...]


@dataclass
class FlattenProgressed(Message):
    updates: tuple[FlattenProgress, ...]


@dataclass
class EquityChanged(Message):
    equity: EquityUpdate

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EquityChanged)


@dataclass
class EngineStateChanged(Message):
    state: EngineState

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EngineStateChanged)


@dataclass
class StoreStatusChanged(Message):
    status: StoreStatus

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreStatusChanged)


@dataclass
class CommandAnswered(Message):
    result: CommandResult


@dataclass
class EngineReported(Message):
    """Problems the engine reported (rejected orders, bad bars, store trouble), in order."""

    errors: tuple[EngineError, ...]
