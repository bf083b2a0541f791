"""What happened, one line each: orders through their life, fills with their fee, operator
commands and their per-symbol outcome, breaker trips, reconciliation mismatches, feed and store
status changes, and errors. Built from the engine's events while it runs and from the store's
rows at start, so the log carries across restarts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from engine.events import CommandResult, EngineError, EngineState, FillEvent, OrderUpdate, StoreStatus
from tui import formatting as fmt

KINDS = ("order", "fill", "command", "breaker", "mismatch", "feed", "store", "error", "alert")
ALARM_STATUSES = ("rejected", "error")
FILLED = ("filled", "partially_filled")  # shown by the fill itself, with its price and fee
MAX_DETAILS = 50


@dataclass(frozen=True)
class LogEntry:
    ts: datetime
    kind: str  # one of KINDS
    text: str
    symbol: str | None = None
    alarm: bool = False  # something went wrong: shown bold and reverse

    def line(self) -> str:
        """The entry as one line of plain text (the log file, the pane)."""
        return f"{self.ts:%m-%d %H:%M:%S} {self.kind:<8} {self.symbol or '-':<9} {self.text}"

    def matches(self, words: Iterable[str]) -> bool:
        """Every word is a prefix of the symbol, the kind, or appears in the text."""
        haystack = self.text.lower()
        for word in words:
            if not ((self.symbol or "").lower().startswith(word) or self.kind.startswith(word)
                    or word in haystack):
                return False
        return True


def order_entry(ts: datetime, symbol: str, side: str, quantity: Any, reason: str, reduce_only: bool,
                status: str, message: str) -> LogEntry | None:
    """An order's step: sent, or its end with the reason (rejected, skipped, error); None for
    a fill, which its fill entry shows with price and fee."""
    if status in FILLED:
        return None
    outcome = "sent" if status in ("new", "sent") else (f"{status}: {message}" if message else status)
    text = f"{side} {fmt.quantity(quantity)} ({reason or 'order'}{', reduce-only' if reduce_only else ''}) {outcome}"
    return LogEntry(ts, "order", text, symbol, alarm=status in ALARM_STATUSES)


def fill_entry(ts: datetime, symbol: str, side: str, quantity: Any, price: Any, fee: Any, fee_asset: str | None,
               realized: Any) -> LogEntry:
    gain = f", realized {fmt.signed_usd(realized)}" if realized else ""
    return LogEntry(ts, "fill", f"{side} {fmt.quantity(quantity)} @ {fmt.price(price)} filled, "
                                f"fee {fmt.usd(fee, 4)} {fee_asset or ''}{gain}".rstrip(), symbol)


def from_order(o: OrderUpdate) -> LogEntry | None:
    return order_entry(o.ts, o.symbol, o.side, o.quantity, o.reason, o.reduce_only, o.status, o.message)


def from_fill(event: FillEvent) -> LogEntry:
    f = event.fill
    return fill_entry(f.ts, f.symbol, f.side.value, f.quantity, f.price, f.fee, f.fee_asset, f.realized_pnl)


def command_kind(command: str, ok: bool) -> str:
    if command == "breaker":
        return "breaker"
    if command == "reconcile" and not ok:
        return "mismatch"
    return "command"


def from_command(command: str, ok: bool, message: str, symbol: str | None, details: dict,
                 ts: datetime) -> list[LogEntry]:
    """The command's answer, then one line per symbol it reports on (a flatten's outcome)."""
    kind = command_kind(command, ok)
    name = command.replace("_", " ")
    entries = [LogEntry(ts, kind, f"{name}: {'ok' if ok else 'REFUSED'}: {message}", symbol,
                        alarm=not ok or kind != "command")]
    for key, value in list(details.items())[:MAX_DETAILS]:
        entries.append(LogEntry(ts, kind, f"{name}: {value}", str(key)))
    return entries


def from_result(r: CommandResult) -> list[LogEntry]:
    return from_command(r.command, r.ok, r.message, r.symbol, dict(r.details), r.ts)


def from_error(e: EngineError) -> LogEntry:
    return LogEntry(e.ts, "error", e.message, e.symbol, alarm=True)


def from_store_status(status: StoreStatus, ts: datetime) -> LogEntry:
    spooled = f", {status.spooled} event(s) spooled" if status.spooled else ""
    message = f": {status.message}" if status.message else ""
    return LogEntry(ts, "store", f"store {status.status}{spooled}{message}", alarm=status.status != "up")


def state_changes(before: EngineState | None, after: EngineState) -> list[LogEntry]:
    """Feed status changes, symbols frozen by an order of unknown outcome, and breaker trips
    between two engine states."""
    entries: list[LogEntry] = []
    if before is None or before.feed_status != after.feed_status:
        entries.append(LogEntry(after.ts, "feed", f"feed {after.feed_status}",
                                alarm=after.feed_status in ("stale", "reconnecting", "stopped")))
    was_uncertain = before.uncertain if before is not None else frozenset()
    for symbol in sorted(after.uncertain - was_uncertain):
        entries.append(LogEntry(after.ts, "order", "an order's outcome is unknown: the symbol is frozen until a "
                                                   "lookup settles it", symbol, alarm=True))
    for symbol in sorted(was_uncertain - after.uncertain):
        entries.append(LogEntry(after.ts, "order", "the unknown order is settled: trading resumes", symbol))
    old = before.breakers if before is not None else {}
    for name, reason in after.breakers.items():
        if reason and old.get(name) != reason:
            entries.append(LogEntry(after.ts, "breaker", f"{name.replace('_', ' ')} tripped: {reason}", alarm=True))
    return entries


def from_store(orders: Iterable[Any], trades: Iterable[Any], audit: Iterable[Any]) -> list[LogEntry]:
    """Entries from stored rows (storage's OrderRecord, TradeRecord, AuditRecord), oldest first."""
    entries = [e for o in orders if (e := order_entry(o.updated_at, o.symbol, o.side, o.quantity, o.reason,
                                                      o.reduce_only, o.status, o.message)) is not None]
    entries += [fill_entry(t.ts, t.symbol, t.side, t.quantity, t.price, t.fee, t.fee_asset, t.realized_pnl)
                for t in trades]
    for a in audit:
        entries.extend(from_command(a.command, a.ok, a.message, a.symbol, a.details, a.ts))
    entries.sort(key=lambda e: e.ts)
    return entries
