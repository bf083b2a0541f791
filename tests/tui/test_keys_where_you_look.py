"""Per-symbol keys act on the row under the cursor of the focused table: Signals, Positions or
Trades (or the Signals highlight when the breakdown has focus). An empty table gets a hint."""
from __future__ import annotations

import pytest

from tests.tui.conftest import Notices, press, until
from tests.tui.fake_engine import FakeEngine
from tests.tui.test_desk_failures import desk

TARGET = "SOLUSDT"  # never the first row, so acting on the wrong row would show
PANE_KEYS = {"signals": "1", "positions": "3", "trades": "4"}


async def on_row(pilot, app, pane: str, symbol: str):
    """Show `pane`, and put its cursor on a row of `symbol`."""
    await press(pilot, PANE_KEYS[pane])
    table = {"signals": app.desk.signals, "positions": app.desk.positions, "trades": app.desk.trades}[pane]
    await until(pilot, lambda: table.has_focus, f"the {pane} table has focus")
    await until(pilot, lambda: any(table.shown_cells(k)[table._column_keys.index("symbol")] == symbol
                                   for k in table.shown_keys()), f"{symbol} shows in {pane}")
    row = next(n for n in range(table.row_count)
               if str(table.shown_cells(table.key_at(n))[table._column_keys.index("symbol")]) == symbol)
    table.move_cursor(row=row)
    await until(pilot, lambda: table.cursor_symbol == symbol, f"the cursor is on {symbol}")
    return table


async def trading_desk(pilot, app, engine):
    await until(pilot, lambda: engine.started, "the engine started")
    await until(pilot, lambda: app.desk.positions.open_count == 3, "three positions are shown")


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
@pytest.mark.parametrize("pane", ["signals", "positions", "trades"])
async def test_x_flattens_the_row_under_the_cursor_and_says_what_it_closes(tmp_path, pane, size):
    engine = FakeEngine()
    app = desk(tmp_path, engine)
    notices = Notices(app)
    async with app.run_test(size=size) as pilot:
        await trading_desk(pilot, app, engine)
        await on_row(pilot, app, pane, TARGET)
        await press(pilot, "x")
        await until(pilot, lambda: (TARGET, "flatten") in engine.orders, f"{TARGET} is flattened")
        assert [s for s, reason in engine.orders if reason == "flatten"] == [TARGET]
        await until(pilot, lambda: notices.any(f"{TARGET}: closed"), "the result is shown")
        result = next(m for t, m, _ in notices.shown if t == f"Flatten {TARGET}" and "closed" in m)
        assert result.startswith(f"{TARGET} LONG 0.5, notional "), result


@pytest.mark.parametrize("pane", ["signals", "positions", "trades"])
async def test_p_pauses_the_row_under_the_cursor(tmp_path, pane):
    engine = FakeEngine()
    app = desk(tmp_path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await trading_desk(pilot, app, engine)
        await on_row(pilot, app, pane, TARGET)
        await press(pilot, "p")
        await until(pilot, lambda: engine.paused == {TARGET}, f"{TARGET} alone is paused")
        await press(pilot, "p")
        await until(pilot, lambda: engine.paused == set(), f"{TARGET} is resumed")


@pytest.mark.parametrize("pane", ["signals", "positions", "trades"])
async def test_enter_opens_the_breakdown_of_the_row_under_the_cursor(tmp_path, pane):
    engine = FakeEngine()
    app = desk(tmp_path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await trading_desk(pilot, app, engine)
        await on_row(pilot, app, pane, TARGET)
        await press(pilot, "enter")
        await until(pilot, lambda: app.desk.shown_pane == "breakdown", "the breakdown is shown")
        assert app.desk.query_one("#breakdown-pane").border_title == f"2 Breakdown · {TARGET}"
        assert app.desk.signals.cursor_key == TARGET
        # From the breakdown, x acts on the symbol it shows.
        await press(pilot, "x")
        await until(pilot, lambda: (TARGET, "flatten") in engine.orders, f"{TARGET} is flattened")


@pytest.mark.parametrize("pane", ["signals", "positions", "trades"])
async def test_per_symbol_keys_on_an_empty_table_do_nothing_but_hint(tmp_path, pane):
    engine = FakeEngine(symbols=())
    app = desk(tmp_path, engine)
    notices = Notices(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await press(pilot, PANE_KEYS[pane], "x", "p", "enter")
        hint = f"The {pane.capitalize()} table has no row under the cursor"
        await until(pilot, lambda: notices.texts().count(hint) == 3, "one hint per key")
        assert engine.calls == []


async def test_footer_and_help_say_the_keys_act_on_the_row_under_the_cursor(tmp_path):
    engine = FakeEngine()
    app = desk(tmp_path, engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        descriptions = {b.id: b.description for b in app.desk.BINDINGS}
        assert descriptions["flatten_symbol"] == "Flatten row" and descriptions["pause_symbol"] == "Pause row"
        help_text = dict((key, text) for key, text in app.desk.help_rows())
        for key in ("x", "p", "enter"):
            assert "row under the cursor" in help_text[key] and "Positions" in help_text[key]
