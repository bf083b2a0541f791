"""The tables change by diffs: stable row keys, only changed cells written, rows out of view
written when they come into view, a bounded number of rows per frame."""
from datetime import datetime, timezone
from decimal import Decimal

from textual.app import App, ComposeResult

from engine.events import EngineState, PositionUpdate, SignalUpdate
from engine.model import Mode
from tests.tui.conftest import until
from tui.widgets import keyed_table as keyed_table_module
from tui.widgets.keyed_table import Column, KeyedTable
from tui.widgets.positions import PositionsTable
from tui.widgets.signals import SignalsTable, row_status

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Three(KeyedTable):
    COLUMNS = (Column("a", "A"), Column("b", "B", 8, right=True), Column("c", "C"))


class Host(App):
    def __init__(self, table_class) -> None:
        super().__init__()
        self.table_class = table_class

    def compose(self) -> ComposeResult:
        yield self.table_class()


def signal(symbol: str, price: float, status: str = "active", progress: float = 1.0) -> SignalUpdate:
    return SignalUpdate(symbol=symbol, ts=T0, price=price, ret=0.001, status=status, progress=progress,
                        components={}, final_factor=0.25, target_factor=0.2, target_notional=Decimal(100),
                        current_notional=Decimal(0))


def state(paused=(), halted=False, mismatched=()) -> EngineState:
    return EngineState(mode=Mode.PAPER, market="sim", halted=halted, halt_reason="", paused=frozenset(paused),
                       breakers={}, mismatched=frozenset(mismatched), feed_status="live", ts=T0)


async def test_only_changed_cells_are_written_and_rows_keep_their_keys():
    async with Host(Three).run_test(size=(60, 20)) as pilot:
        table = pilot.app.query_one(Three)
        writes: list[tuple] = []
        original = KeyedTable.update_cell

        def spy(self, row_key, column_key, value, **kwargs):
            writes.append((str(row_key), str(column_key), str(value)))
            return original(self, row_key, column_key, value, **kwargs)

        table.update_cell = spy.__get__(table)
        assert table.show_row("r1", ("x", "1", "y"))
        assert not table.show_row("r1", ("x", "1", "y")), "nothing changed, nothing written"
        assert table.show_row("r1", ("x", "2", "y"))
        assert writes == [("r1", "b", "2")]
        await pilot.pause()
        assert [str(cell).strip() for cell in table.get_row("r1")] == ["x", "2", "y"]
        table.drop_row("r1")
        assert table.row_count == 0 and not table.has_row("r1")


async def test_a_cell_update_repaints_its_row_with_the_new_value():
    async with Host(Three).run_test(size=(60, 20)) as pilot:
        table = pilot.app.query_one(Three)
        for i in range(5):
            table.show_row(f"r{i}", (f"r{i}", "old", "z"))
        await pilot.pause()
        before = [table.render_line(y).text for y in range(1, 6)]
        table.show_row("r2", ("r2", "new", "z"))
        await pilot.pause()
        after = [table.render_line(y).text for y in range(1, 6)]
        assert "new" in after[2] and "old" not in after[2]
        assert after[:2] == before[:2] and after[3:] == before[3:]


async def test_rows_out_of_view_are_written_when_scrolled_to():
    async with Host(SignalsTable).run_test(size=(100, 12)) as pilot:
        table = pilot.app.query_one(SignalsTable)
        table.apply([signal(f"S{i:02d}", 1.0) for i in range(40)])
        await pilot.pause()
        table.apply([signal(f"S{i:02d}", 2.0) for i in range(40)])
        await pilot.pause()
        assert "2.0000" in str(table.get_row("S00")[1])
        assert "1.0000" in str(table.get_row("S39")[1]), "out of view: not written yet"
        table.move_cursor(row=39)
        await until(pilot, lambda: "2.0000" in str(table.get_row("S39")[1]), "written once in view")


async def test_a_whole_bar_is_written_over_a_few_frames(monkeypatch):
    monkeypatch.setattr(keyed_table_module, "ROWS_PER_FRAME", 3)
    async with Host(SignalsTable).run_test(size=(100, 14)) as pilot:
        table = pilot.app.query_one(SignalsTable)
        table.apply([signal(f"S{i:02d}", 1.0) for i in range(10)])
        await pilot.pause()
        table.apply([signal(f"S{i:02d}", 2.0) for i in range(10)])
        written = sum("2.0000" in str(table.get_row(f"S{i:02d}")[1]) for i in range(10))
        assert written == 3, "at most ROWS_PER_FRAME rows in one frame"
        await until(pilot, lambda: all("2.0000" in str(table.get_row(f"S{i:02d}")[1]) for i in range(10)),
                    "the rest follow in the next frames")


async def test_sorting_keeps_the_cursor_on_the_same_symbol():
    async with Host(SignalsTable).run_test(size=(100, 14)) as pilot:
        table = pilot.app.query_one(SignalsTable)
        table.apply([signal("AAA", 3.0), signal("BBB", 1.0), signal("CCC", 2.0)])
        await pilot.pause()
        table.apply([signal("DDD", float("nan"))])
        await pilot.pause()
        table.move_cursor(row=1)
        table.next_sort()  # price, highest first, missing last
        assert [table.key_at(i) for i in range(4)] == ["AAA", "CCC", "BBB", "DDD"]
        assert table.cursor_key == "BBB"
        assert table.sort_label == "Price ▼"


def test_row_status_prefers_the_engines_latest_flags():
    s = signal("A", 1.0)
    assert row_status(s, None) == "active"
    assert row_status(s, state(paused={"A"})) == "paused"
    assert row_status(s, state(mismatched={"A"}, paused={"A"})) == "mismatch"
    assert row_status(s, state(halted=True)) == "halted"
    assert row_status(signal("A", 1.0, status="paused"), state()) == "active", "resumed since that bar"
    assert row_status(signal("A", 1.0, status="halted"), state()) == "active", "entries resumed since"
    assert row_status(signal("A", 1.0, status="paused", progress=0.5), state()) == "warming"
    assert row_status(signal("A", 1.0, status="warming", progress=0.5), state(halted=True)) == "warming"


async def test_positions_are_re_marked_at_the_prices_the_signals_bring():
    async with Host(PositionsTable).run_test(size=(120, 20)) as pilot:
        table = pilot.app.query_one(PositionsTable)
        later = T0.replace(minute=5)
        table.apply([PositionUpdate(Mode.PAPER, "BTCUSDT", Decimal("0.5"), Decimal(100), Decimal(100), Decimal(0),
                                    5, later)], "paper")
        assert table.marked([signal("BTCUSDT", 90.0)]) == [], "a price older than the fill marks nothing"
        assert table.marked([signal("ETHUSDT", 90.0)]) == [], "no position, nothing to mark"
        moved = signal("BTCUSDT", 110.5)._replace(ts=later)
        (marked,) = table.marked([moved])
        assert marked.mark_price == Decimal("110.5") and marked.unrealized_pnl == Decimal("5.25")
        assert (marked.quantity, marked.entry_price, marked.ts) == (Decimal("0.5"), Decimal(100), later)
        table.apply([marked], "paper")
        await pilot.pause()
        assert "+5.25" in " ".join(str(cell) for cell in table.get_row("BTCUSDT"))
        assert table.marked([moved]) == [], "the same price again changes nothing"


async def test_positions_out_of_view_are_written_when_they_come_into_view():
    """A bar re-marks every open position; only the rows on screen are drawn at once."""
    def position(symbol: str, mark: str, quantity: str = "1") -> PositionUpdate:
        return PositionUpdate(Mode.PAPER, symbol, Decimal(quantity), Decimal("10"), Decimal(mark), Decimal(0), 5,
                              datetime(2026, 1, 1, tzinfo=timezone.utc))

    async with Host(PositionsTable).run_test(size=(100, 14)) as pilot:
        table = pilot.app.query_one(PositionsTable)
        table.apply([position(f"P{i:02d}USDT", "11") for i in range(40)], "paper")
        await pilot.pause()
        table.apply([position(f"P{i:02d}USDT", "12") for i in range(40)], "paper")
        await until(pilot, lambda: table.up_to_date, "the rows in view are written")
        assert "12" in str(table.get_row("P00USDT")[4])
        assert "11" in str(table.get_row("P39USDT")[4]), "out of view: not written yet"
        table.move_cursor(row=39)
        await until(pilot, lambda: "12" in str(table.get_row("P39USDT")[4]), "written once in view")
        table.apply([position("P39USDT", "12", quantity="0")], "paper")
        assert not table.has_row("P39USDT") and table.open_count == 39


async def test_a_table_is_up_to_date_only_once_its_new_rows_are_measured():
    # The cached renderings a measuring makes stale are dropped (KeyedTable._update_dimensions): without
    # that, the 80x24 snapshot showed "BTCUSD" whenever the row was drawn before it was measured.
    async with Host(Three).run_test(size=(60, 20)) as pilot:
        table = pilot.app.query_one(Three)
        table.show_row("short", ("x", "1", "y"))
        await pilot.pause()
        table.show_row("long", ("BTCUSDT", "2", "y"))
        long_row = table.get_row_index("long")
        table.render_line(long_row + 1)  # drawn in a frame before DataTable measured the new row (header first)
        assert table.up_to_date is False  # the width is not known yet
        await until(pilot, lambda: table.up_to_date, "the new row is measured")
        assert "BTCUSDT" in table.render_line(long_row + 1).text
