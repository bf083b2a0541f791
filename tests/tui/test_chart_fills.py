"""The breakdown's chart marks the symbol's fills (▲ buy, ▼ sell) at their bar and price, and
shows the position held at each bar under the plot; fills outside the window are not drawn."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from engine.events import FillEvent
from engine.model import Fill, Mode, Side
from tests.tui.conftest import press, shown, until
from tests.tui.fake_engine import T0, FakeEngine
from tests.tui.test_desk_failures import desk
from tui import messages as m
from tui.fill_marks import FillMark, FillMarks, bar_of, positions_at
from tui.palette import Palette
from tui.widgets.chart import BLOCKS, plot_text, position_strip

TIMES = [T0 + timedelta(minutes=i) for i in range(10)]
PRICES = [100.0 + i for i in range(10)]


def mark(minute: float, qty: str, trade_id: str = "") -> FillMark:
    ts = T0 + timedelta(minutes=minute)
    return FillMark(ts, 100.0 + minute, Decimal(qty), trade_id or f"t{minute}")


def fill(symbol: str, side: Side, qty: str, minute: int, trade_id: str, mode: Mode = Mode.PAPER) -> FillEvent:
    return FillEvent(Fill(mode, symbol, side, Decimal(qty), Decimal(100 + minute), Decimal("0.01"), "USDT",
                          T0 + timedelta(minutes=minute), f"c{trade_id}", trade_id))


def test_a_fill_belongs_to_the_bar_it_happened_in_and_none_outside_the_window():
    assert bar_of(TIMES, TIMES[3]) == 3
    assert bar_of(TIMES, TIMES[3] + timedelta(seconds=59)) == 3
    assert bar_of(TIMES, TIMES[-1] + timedelta(seconds=60)) == 9  # within the last bar
    assert bar_of(TIMES, TIMES[-1] + timedelta(seconds=61)) is None
    assert bar_of(TIMES, TIMES[0] - timedelta(seconds=1)) is None


def test_the_position_is_walked_back_from_the_one_held_now():
    marks = [mark(-5, "7"), mark(2, "0.5"), mark(6, "-1.5")]  # the first is before the window
    held = positions_at(TIMES, marks, Decimal("-1"))
    assert held == [Decimal(0)] * 2 + [Decimal("0.5")] * 4 + [Decimal("-1")] * 4


def test_fills_are_kept_once_per_trade_for_the_shown_mode_only():
    marks = FillMarks(keep=2)
    got = marks.add([fill("BTCUSDT", Side.BUY, "1", 1, "a"), fill("BTCUSDT", Side.BUY, "1", 1, "a"),
                     fill("ETHUSDT", Side.SELL, "2", 2, "b", Mode.TESTNET)], "paper")
    assert got == {"BTCUSDT"} and len(marks.of("BTCUSDT")) == 1 and marks.of("ETHUSDT") == []
    marks.add([fill("BTCUSDT", Side.SELL, "1", 3, "c"), fill("BTCUSDT", Side.BUY, "1", 2, "d")], "paper")
    assert [x.trade_id for x in marks.of("BTCUSDT")] == ["d", "c"]  # the newest two, oldest first
    assert marks.of("BTCUSDT")[1].quantity == Decimal(-1)


def lines_of(text) -> list[str]:
    return text.plain.split("\n")


def column_of(lines: list[str], char: str) -> int:
    return next(line.index(char) for line in lines if char in line and "long" not in line)


def test_markers_at_their_bar_the_position_under_them_and_nothing_outside_the_window():
    marks = [mark(-3, "1"), mark(2, "0.5"), mark(6, "-1.5"), mark(12, "-1")]  # first and last: outside
    text = plot_text("BTCUSDT", TIMES, PRICES, [0.1] * 10, marks, Decimal("-2"), 60, 14)
    lines = lines_of(text)
    assert text.plain.count("▲") == 1 + 1 and text.plain.count("▼") == 1 + 1  # once each, and in the title
    long_row = next(line for line in lines if line.lstrip().startswith("long"))
    buy, sell = column_of(lines[1:], "▲"), column_of(lines[1:], "▼")
    assert long_row[buy - 1] == " " and long_row[buy] != " " and long_row[sell - 1] != " " and long_row[sell] == " "
    assert set(long_row[buy:sell]) == {BLOCKS[2]}  # 0.5 of the largest position (2): two eighths
    assert long_row.rstrip().endswith("2")
    times = [line for line in lines if line.strip()][-1].split()
    assert times[0] == "00:00" and times[-1] == "00:09", "market time, not the wall clock"


def test_without_colour_the_short_side_is_reverse_video_and_the_markers_differ_by_shape():
    plain = Palette(profit="", loss="", warn="", muted="dim")
    text = plot_text("BTCUSDT", TIMES, PRICES, [0.1] * 10, [mark(2, "1"), mark(6, "-2")], Decimal("-1"), 60, 14,
                     plain)
    short_row = next(k for k, line in enumerate(lines_of(text)) if line.lstrip().startswith("short"))
    start = sum(len(line) + 1 for line in lines_of(text)[:short_row])
    styles = {str(span.style) for span in text.spans if start <= span.start < start + len(lines_of(text)[short_row])}
    assert styles == {"reverse"}
    assert "▲" in text.plain and "▼" in text.plain


def test_a_short_chart_keeps_the_plot_and_drops_the_position_rows():
    text = plot_text("BTCUSDT", TIMES, PRICES, [0.1] * 10, [mark(2, "1")], Decimal("1"), 60, 9)
    assert "long" not in text.plain and "▲" in text.plain


async def bars(pilot, app, engine, n: int) -> None:
    """One bar at a time, each seen by the desk (the fake engine alone would outrun it)."""
    for _ in range(n):
        engine.step()
        await until(pilot, lambda: len(app.desk.history.series("BTCUSDT")[0]) == engine.bars, "the bar")


async def test_the_breakdown_chart_marks_this_symbols_fills_and_its_position(tmp_path):
    engine = FakeEngine()  # buys 0.5 of each symbol when it is warm (bar 2)
    app = desk(tmp_path, engine, max_bars=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await bars(pilot, app, engine, 12)
        await press(pilot, "enter")
        chart = app.desk.chart
        await until(pilot, lambda: chart.symbol == "BTCUSDT" and chart.up_to_date and "▲" in shown(chart),
                    "the buy is marked")
        assert "▼" not in shown(chart).split("\n", 1)[1]
        engine.trade("BTCUSDT", Side.SELL, Decimal("1.5"), Decimal("101"), T0 + timedelta(minutes=12), "rebalance")
        engine.trade("ETHUSDT", Side.SELL, Decimal("0.5"), Decimal("201"), T0 + timedelta(minutes=12), "rebalance")
        await until(pilot, lambda: "▼" in shown(chart).split("\n", 1)[1] and chart.up_to_date, "the sell is marked")
        lines = shown(chart).split("\n")
        assert sum(line.count("▼") for line in lines[1:]) == 1, "another symbol's fill is not drawn here"
        long_row = next(line for line in lines if line.lstrip().startswith("long"))
        assert long_row.rstrip().endswith("1") and BLOCKS[4] in long_row  # 0.5 long of the largest, 1 short


async def test_after_a_restart_the_trades_from_the_store_are_marked(tmp_path):
    engine = FakeEngine(warmup=100)  # never trades by itself
    app = desk(tmp_path, engine, max_bars=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await bars(pilot, app, engine, 12)
        chart = app.desk.chart
        await until(pilot, lambda: chart.symbol == "BTCUSDT", "the chart shows the highlighted symbol")
        await until(pilot, lambda: chart.up_to_date, "the chart is drawn")
        assert "▲" not in shown(chart).split("\n", 1)[1]
        earlier = (fill("BTCUSDT", Side.BUY, "1", 4, "old-1"), fill("BTCUSDT", Side.SELL, "1", 8, "old-2"))
        app.desk.post_message(m.TradeHistoryLoaded("paper", earlier))
        await until(pilot, lambda: "▼" in shown(chart).split("\n", 1)[1] and chart.up_to_date, "the store's fills")
        body = shown(chart).split("\n", 1)[1]
        assert body.count("▲") == 1 and body.count("▼") == 1


def test_a_large_position_is_labelled_short_enough_for_the_axis():
    strip = position_strip([Decimal(0), Decimal(40000), Decimal(-20000)], left=6, cells=3, right=5)
    long_row, short_row = strip.plain.split("\n")[1:]
    assert long_row == f" long  {BLOCKS[8]}  40.0k" and short_row.startswith("short ")
