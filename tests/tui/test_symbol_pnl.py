"""Per-symbol PnL and the Trades pane carry across restarts: the second run starts from the
store's totals and its last fills."""
from __future__ import annotations

import sqlite3
from decimal import Decimal

from engine.secrets import Secrets
from storage import open_store
from tests.tui.conftest import build_desk, desk_config, press, until, until_trading


async def test_per_symbol_totals_carry_across_a_restart(tmp_path):
    config = desk_config()
    db = tmp_path / "desk.db"

    def store():
        return open_store(f"sqlite:///{db}", config.storage, Secrets.load(environ={}), journal_dir=tmp_path / "j")

    first, engine = build_desk(tmp_path, config, store=store())
    async with first.run_test(size=(160, 48)) as pilot:
        await until_trading(pilot, first, positions=2)
        await until(pilot, lambda: sum(b.trades for b in first.desk.symbol_pnl.books.values()) >= 4, "fills")
        await press(pilot, "q")
        await until(pilot, lambda: not first.is_running, "the first run quit")
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT symbol, COUNT(*) FROM trades GROUP BY symbol").fetchall())
        fees = dict(conn.execute("SELECT symbol, SUM(commission) FROM trades GROUP BY symbol").fetchall())

    second, _ = build_desk(tmp_path, config, store=store())
    async with second.run_test(size=(80, 24)) as pilot:
        books = second.desk.symbol_pnl.books
        await until(pilot, lambda: {s: b.trades for s, b in books.items() if b.trades} and all(
            books.get(s) and books[s].trades >= n for s, n in stored.items()), "the totals are read back")
        for symbol, fee in fees.items():
            assert books[symbol].fees >= Decimal(str(fee)) - Decimal("1e-9")
        await press(pilot, "5")
        await until(pilot, lambda: second.desk.symbol_pnl.row_count >= len(stored), "the table shows each symbol")
        await until(pilot, lambda: second.desk.trades.count >= sum(stored.values()), "earlier fills in Trades")
        b = next(iter(books.values()))
        assert b.net == b.realized + b.unrealized - b.fees + b.funding


def test_the_trades_title_counts_the_whole_book_and_says_when_it_shows_only_the_latest():
    from types import SimpleNamespace

    from tui.screens.desk import DeskScreen

    def title(book_trades, applied, rows):
        desk = SimpleNamespace(equity=SimpleNamespace(latest=SimpleNamespace(trade_count=book_trades)),
                               trades=SimpleNamespace(count=applied, row_count=rows))
        return DeskScreen._trades_title(desk)

    assert title(296, 214, 200) == "4 Trades · 296 fills · latest 200"  # after a restart: earlier runs count
    assert title(3, 3, 3) == "4 Trades · 3 fills"
    assert title(0, 2, 2) == "4 Trades · 2 fills"  # fills before the first equity update
