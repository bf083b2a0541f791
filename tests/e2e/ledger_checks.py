"""The ledger's invariants, checked on what a run printed and what its store holds.

Each check returns a list of problems, one sentence each, so a test can report every broken
invariant at once (and a kill -9 trial can count itself clean or not).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from tests.e2e.output import Bar, Fill, Summary
from tests.e2e.stored_book import Book

BAR = timedelta(minutes=1)
CENT = Decimal("0.01")
RESOLVED = {"filled", "partially_filled", "rejected", "skipped", "error", "canceled", "cancelled", "expired"}


def _n(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _at_shown_precision(stored: Decimal, shown: str) -> bool:
    exponent = Decimal(shown).as_tuple().exponent
    return stored.quantize(Decimal(1).scaleb(exponent)) == Decimal(shown)


def _content(fill: Fill, row: dict) -> list[str]:
    wrong = [name for name, ok in (
        ("symbol", row["symbol"] == fill.symbol), ("side", row["side"] == fill.side),
        ("quantity", _at_shown_precision(row["quantity"], fill.quantity)),
        ("price", _at_shown_precision(row["price"], fill.price))) if not ok]
    return [f"fill {fill.trade_id} was printed with a different {', '.join(wrong)} than stored "
            f"({fill} vs {row})"] if wrong else []


def printed_fills_stored(printed: list[Fill], book: Book) -> list[str]:
    """Every printed fill is in the store, once, with the content printed."""
    problems = []
    counts = Counter(f.trade_id for f in printed)
    problems += [f"fill {tid} was printed {n} times" for tid, n in counts.items() if n > 1]
    stored = Counter(t["trade_id"] for t in book.trades)
    problems += [f"trade {tid} is stored {n} times" for tid, n in stored.items() if n > 1]
    rows = {t["trade_id"]: t for t in book.trades}
    missing = [f.trade_id for f in printed if f.trade_id not in rows]
    if missing:
        problems.append(f"{len(missing)} of {len(printed)} printed fills are not in the store: {missing[:5]}")
    for fill in printed:
        if fill.trade_id in rows:
            problems += _content(fill, rows[fill.trade_id])
    return problems


def printed_bars_stored(bars: list[Bar], book: Book) -> list[str]:
    """Every bar line printed has its performance row, with the equity printed."""
    stored = {row["timestamp"].replace(tzinfo=None): row["total_equity"] for row in book.performance}
    missing = [bar.ts for bar in bars if bar.ts not in stored]
    differ = [f"{bar.ts} printed {bar.equity} stored {stored[bar.ts]}" for bar in bars
              if bar.ts in stored and stored[bar.ts].quantize(CENT) != bar.equity]
    return ([f"{len(missing)} of {len(bars)} printed bars have no performance row, first {missing[0]}"]
            if missing else []) + ([f"{len(differ)} printed bars show another equity than stored: {differ[:3]}"]
                                   if differ else [])


def store_holds_exactly(printed: list[Fill], book: Book) -> list[str]:
    """The store holds the printed fills and nothing else."""
    problems = printed_fills_stored(printed, book)
    if not printed and book.trades:
        return problems + [f"no fill line was printed but the store holds {len(book.trades)} trades"]
    extra = {t["trade_id"] for t in book.trades} - {f.trade_id for f in printed}
    if extra:
        problems.append(f"{len(extra)} stored trades were never printed: {sorted(extra)[:5]}")
    if len(book.trades) != len(printed):
        problems.append(f"{len(printed)} fills were printed but the store holds {len(book.trades)} trades")
    return problems


def orders_resolved(book: Book) -> list[str]:
    """No order is left `new`; a filled order has fills for exactly its quantity, and no
    order has more fills than its quantity (a doubled fill)."""
    problems = []
    filled = defaultdict(Decimal)
    for t in book.trades:
        filled[t["client_order_id"]] += t["quantity"]
    orders = {o["client_order_id"]: o for o in book.orders}
    waiting = [o["client_order_id"] for o in book.orders if o["status"] not in RESOLVED]
    if waiting:
        problems.append(f"{len(waiting)} orders are left unresolved ({Counter(orders[c]['status'] for c in waiting)}): "
                        f"{waiting[:5]}")
    short = [f"{cid} ({_n(o['quantity'])} vs {_n(filled[cid])})" for cid, o in orders.items()
             if o["status"] == "filled" and filled[cid] != o["quantity"]]
    if short:
        problems.append(f"{len(short)} filled orders have trades summing to other than their quantity "
                        f"(order vs trades): {', '.join(short[:5])}")
    doubled = [f"{cid} ({_n(o['quantity'])} vs {_n(filled[cid])})" for cid, o in orders.items()
               if filled[cid] > o["quantity"]]
    if doubled:
        problems.append(f"{len(doubled)} orders have more fills than their quantity: {', '.join(doubled[:5])}")
    orphans = sorted(set(filled) - set(orders))
    if orphans:
        problems.append(f"{len(orphans)} trades belong to no stored order: {orphans[:5]}")
    return problems


def positions_match_fills(book: Book) -> list[str]:
    """Every stored position is the signed sum of its symbol's fills."""
    signed = defaultdict(Decimal)
    for t in book.trades:
        signed[t["symbol"]] += t["quantity"] if t["side"] == "BUY" else -t["quantity"]
    held = {p["symbol"]: p["quantity"] for p in book.positions}
    return [f"position {symbol} is {_n(held.get(symbol, Decimal(0)))} but its fills sum to {_n(signed[symbol])}"
            for symbol in sorted(set(signed) | set(held)) if held.get(symbol, Decimal(0)) != signed[symbol]]


def equity_identity(book: Book) -> list[str]:
    """total_equity == capital + realized - fees + unrealized + funding on every row, exactly."""
    problems = []
    for row in book.performance:
        if row["capital"] is None:
            problems.append(f"performance row at {row['timestamp']} has no capital")
            continue
        expected = (row["capital"] + row["realized_pnl_cumulative"] + row["unrealized_pnl"]
                    - row["total_fees_cumulative"] + row["funding_cumulative"])
        if row["total_equity"] != expected:
            problems.append(f"performance row at {row['timestamp']}: total_equity {row['total_equity']} != {expected}")
    if not book.performance:
        problems.append("the store holds no performance row")
    return problems[:10]


def performance_continuous(book: Book, first: datetime, last: datetime) -> list[str]:
    """One performance row per bar from `first` to `last` (market time), none missing."""
    have = {row["timestamp"].replace(tzinfo=None) for row in book.performance}
    expected, t = [], first
    while t <= last:
        expected.append(t)
        t += BAR
    missing = [t for t in expected if t not in have]
    return [f"{len(missing)} of {len(expected)} performance rows between {first} and {last} are missing, "
            f"first {missing[0]}"] if missing else []


def engine_agrees(summary: Summary | None, book: Book) -> list[str]:
    """The engine's own closing figures match the store."""
    if summary is None:
        return ["the run printed no closing summary"]
    problems = []
    if summary.trades != len(book.trades):
        problems.append(f"the engine reports {summary.trades} trades, the store holds {len(book.trades)}")
    open_positions = sum(1 for p in book.positions if p["quantity"] != 0)
    if summary.open_positions != open_positions:
        problems.append(f"the engine reports {summary.open_positions} open positions, the store {open_positions}")
    return problems


def book_consistent(book: Book) -> list[str]:
    return orders_resolved(book) + positions_match_fills(book) + equity_identity(book)


def assert_clean(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)
