"""Every key of the desk, against the real engine on the seeded sim market."""
from __future__ import annotations

import asyncio

from engine.events import OrderUpdate
from engine.statefile import StateFile
from tests.tui.conftest import Notices, build_desk, desk_config, press, shown, until, until_trading
from tui.screens.help import HelpScreen
from tui.screens.mode import ModeScreen


async def test_flatten_all_closes_everything_at_once_and_halts_entries(desk_factory):
    app, engine = desk_factory()
    notices = Notices(app)
    async with app.run_test(size=(160, 48)) as pilot:
        await until_trading(pilot, app, positions=2)
        await press(pilot, "F")
        await until(pilot, lambda: notices.any("flat:"), "the flatten-all result is shown")
        assert notices.any("Closing every position"), "progress is shown before the result"
        result = next(m for t, m, _ in notices.shown if t == "Flatten all" and "flat:" in m)
        assert "\n" not in result and "see the log (6)" in result, "the notice is one line pointing to the log"
        def per_symbol():
            return [e for e in app.desk.event_log.entries if e.text.startswith("flatten all: closed ")]

        await until(pilot, lambda: len(per_symbol()) >= 2, "each symbol's outcome is logged")
        assert all(e.symbol for e in per_symbol())
        assert engine.snapshot().positions == {}
        await until(pilot, lambda: app.desk.positions.open_count == 0, "the positions pane is empty")
        assert app.desk.query_one("#positions-empty").display
        await until(pilot, lambda: app.desk.header.state.halted, "the header shows entries halted")
        # Entries stay halted: later bars open nothing.
        bars = engine.live_bars
        await until(pilot, lambda: engine.live_bars >= bars + 5, "five more bars")
        assert engine.snapshot().positions == {}


async def test_pause_stops_orders_for_that_symbol_while_the_others_trade(desk_factory):
    app, engine = desk_factory()
    orders = engine.bus.subscribe("test", coalesce=False, maxsize=10**9)
    async with app.run_test(size=(160, 48)) as pilot:
        await until_trading(pilot, app)
        held = next(iter(engine.snapshot().positions))
        table = app.desk.signals
        table.move_cursor(row=table.get_row_index(held))
        await press(pilot, "p")
        await until(pilot, lambda: held in engine.snapshot().state.paused, f"{held} is paused")
        await until(pilot, lambda: "paused" in str(table.shown_cells(held)[-1]), "the row says paused")
        kept = engine.snapshot().positions.get(held)
        orders.drain()
        sent: list[OrderUpdate] = []

        def other_symbols_traded() -> bool:
            sent.extend(e for e in orders.drain() if isinstance(e, OrderUpdate) and e.status == "new")
            return any(o.symbol != held for o in sent)

        await until(pilot, other_symbols_traded, "the other symbols kept trading")
        bars = engine.live_bars
        await until(pilot, lambda: engine.live_bars >= bars + 10, "ten more bars")
        other_symbols_traded()
        assert all(o.symbol != held for o in sent), f"no order for the paused {held}"
        now = engine.snapshot().positions.get(held)
        assert (now and now.quantity) == (kept and kept.quantity), "a paused symbol keeps its position"
        await press(pilot, "p")
        await until(pilot, lambda: held not in engine.snapshot().state.paused, f"{held} resumed")


async def test_flatten_highlighted_symbol_closes_only_that_one(desk_factory):
    app, engine = desk_factory()
    orders = engine.bus.subscribe("test", coalesce=False, maxsize=10**9)
    async with app.run_test(size=(160, 48)) as pilot:
        await until_trading(pilot, app, positions=2)
        target = next(iter(engine.snapshot().positions))
        table = app.desk.signals
        table.move_cursor(row=table.get_row_index(target))
        await press(pilot, "p")  # keep the strategy from re-opening it at once
        await until(pilot, lambda: target in engine.snapshot().state.paused, f"{target} paused")
        await press(pilot, "x")
        await until(pilot, lambda: target not in engine.snapshot().positions, f"{target} flat")
        await until(pilot, lambda: not app.desk.positions.has_row(target), f"{target} gone from the pane")
        closed = {e.symbol for e in orders.drain() if isinstance(e, OrderUpdate) and e.reason == "flatten"}
        assert closed == {target}, "x closes the highlighted symbol and nothing else"


async def test_space_halts_and_resumes_all_entries(desk_factory):
    app, engine = desk_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await press(pilot, "space")
        await until(pilot, lambda: engine.snapshot().state.halted, "entries halted")
        await until(pilot, lambda: "ENTRIES HALTED" in shown(app.desk.header), "the header says so")
        await press(pilot, "space")
        await until(pilot, lambda: not engine.snapshot().state.halted, "entries resumed")
        await until(pilot, lambda: "entries on" in shown(app.desk.header),
                    "the header says entries are on")


async def test_live_mode_is_refused_without_keys_and_the_refusal_is_shown(desk_factory):
    app, engine = desk_factory()
    # The keys check comes after the market check; look at it as on a Binance market.
    engine.market = "binance"
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await press(pilot, "m")
        await until(pilot, lambda: isinstance(app.screen, ModeScreen) and app.screen.query("#mode-consequences"),
                    "the mode switcher opened")
        text = shown(app.screen.query_one("#mode-consequences"))
        assert "closes nothing" in text and "own positions" in text
        await press(pilot, "down", "down", "enter")  # live: asks for the typed confirmation
        await until(pilot, lambda: app.screen.query_one("#mode-confirm").has_focus, "asked to type LIVE")
        await press(pilot, *"LIVE", "enter")
        await until(pilot, lambda: "Refused" in shown(app.screen.query_one("#mode-answer")),
                    "the refusal is shown in the switcher")
        assert "API keys" in shown(app.screen.query_one("#mode-answer"))
        assert notices.any("API keys")
        assert engine.mode.value == "paper"
        await press(pilot, "escape")
        await until(pilot, lambda: not isinstance(app.screen, ModeScreen), "the switcher closed")


async def test_mode_switch_to_testnet_is_refused_on_the_sim_market(desk_factory):
    app, engine = desk_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await press(pilot, "m")
        await until(pilot, lambda: isinstance(app.screen, ModeScreen), "the mode switcher opened")
        await press(pilot, "down", "enter")
        await until(pilot, lambda: "Refused" in shown(app.screen.query_one("#mode-answer")),
                    "the refusal is shown")
        assert "market" in shown(app.screen.query_one("#mode-answer"))
        assert engine.mode.value == "paper"


async def test_theme_and_paused_symbols_survive_a_restart(tmp_path):
    state_file = StateFile(tmp_path / "state.toml")
    app, engine = build_desk(tmp_path, state_file=state_file)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started and app.desk.signals.row_count == 3, "signals shown")
        assert app.theme == "dark"
        await press(pilot, "t")
        await until(pilot, lambda: app.theme == "light", "the next theme is in use")
        symbol = app.desk.signals.cursor_key
        await press(pilot, "p")
        await until(pilot, lambda: symbol in engine.snapshot().state.paused, f"{symbol} paused")
        await press(pilot, "q")
        await until(pilot, lambda: not app.is_running, "the desk quit")
    assert not engine.started, "quitting stopped the engine"

    again, engine2 = build_desk(tmp_path, state_file=StateFile(tmp_path / "state.toml"))
    async with again.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine2.started and again.desk.signals.has_row(symbol), "signals shown")
        assert again.theme == "light"
        assert symbol in engine2.snapshot().state.paused
        await until(pilot, lambda: "paused" in str(again.desk.signals.shown_cells(symbol)[-1]),
                    f"{symbol} shows as paused")


async def test_keys_pressed_while_the_engine_starts_get_one_notice(desk_factory):
    gate = asyncio.Event()
    app, engine = desk_factory(start_gate=gate)
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await press(pilot, "F", "x", "p", "space", "m")
        await until(pilot, lambda: notices.any("still starting"), "a notice")
        await press(pilot, "F", "x")
        await pilot.pause()  # nothing runs while the engine waits at its start: this settles
        assert notices.texts().count("still starting") == 1, notices.texts()
        assert not isinstance(app.screen, ModeScreen)
        assert "starting" in shown(app.desk.header)
        gate.set()
        await until(pilot, lambda: engine.started, "the engine started")
        await press(pilot, "space")
        await until(pilot, lambda: engine.snapshot().state.halted, "the same key works now")


async def test_enter_opens_the_breakdown_of_the_highlighted_symbol(desk_factory):
    app, engine = desk_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.desk.signals.row_count == 3, "signals shown")
        await press(pilot, "down")
        await until(pilot, lambda: app.desk.signals.cursor_row == 1, "the cursor moved")
        symbol = app.desk.signals.cursor_key
        await press(pilot, "enter")
        await until(pilot, lambda: app.desk.shown_pane == "breakdown", "the breakdown is shown")
        assert symbol in app.desk.query_one("#breakdown-pane").border_title
        await until(pilot, lambda: "Funding" in shown(app.desk.breakdown), "every stage is listed")
        text = shown(app.desk.breakdown)
        for stage in ("Mean reversion", "Flow", "Weights", "Regime", "Risk scale", "Conviction",
                      "Smoothing", "Standardise", "Decision"):
            assert stage in text
        await press(pilot, "escape")
        await until(pilot, lambda: app.desk.shown_pane == "signals", "back to the signals")


async def test_number_keys_switch_panes_on_a_small_terminal(desk_factory):
    app, engine = desk_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        panes = ("signals", "breakdown", "positions", "trades", "equity")
        for key, pane in (("3", "positions"), ("4", "trades"), ("5", "equity"), ("2", "breakdown"),
                          ("1", "signals")):
            await press(pilot, key)
            await until(pilot, lambda: app.desk.shown_pane == pane, f"key {key} shows {pane}")
            assert [p for p in panes if app.desk.query_one(f"#{p}-pane").display] == [pane]


async def test_sort_key_cycles_columns_and_keeps_the_highlighted_symbol(desk_factory):
    app, engine = desk_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.desk.signals.row_count == 3, "signals shown")
        table = app.desk.signals
        await press(pilot, "down")
        await until(pilot, lambda: table.cursor_row == 1, "the cursor moved")
        symbol = table.cursor_key
        await press(pilot, "s")  # price, highest first
        await until(pilot, lambda: "Price" in table.sort_label, "sorted by price")
        assert table.cursor_key == symbol
        prices = [table.latest[table.key_at(i)].price for i in range(3)]
        assert prices == sorted(prices, reverse=True)
        assert "sort Price" in app.desk.query_one("#signals-pane").border_title


async def test_help_lists_every_key(desk_factory):
    app, engine = desk_factory()
    async with app.run_test(size=(100, 40)) as pilot:
        await press(pilot, "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen.query("#help-box Static"),
                    "the help opened")
        text = shown(app.screen.query_one("#help-box Static"))
        for key, what in app.desk.help_rows():
            assert key in text and what in text
        assert len(app.desk.help_rows()) == 20
        for key in ("F ", "x ", "p ", "space ", "m ", "enter ", "t ", "? ", "q "):
            assert f"\n{key}" in f"\n{text}", f"{key.strip()} is listed"
        await press(pilot, "escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "the help closed")


async def test_quit_stops_the_engine_without_asking_in_paper_mode(desk_factory):
    app, engine = desk_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await until_trading(pilot, app)
        await press(pilot, "q")
        await until(pilot, lambda: not app.is_running, "the desk quit")
    assert not engine.started
    assert engine.snapshot().positions, "quitting paper mode closes nothing"


async def test_configured_keymap_moves_a_key(tmp_path):
    config = desk_config(ui={"keys": {"flatten_all": "ctrl+k", "no_such_binding": "z"}})
    app, engine = build_desk(tmp_path, config)
    notices = Notices(app)
    async with app.run_test(size=(160, 48)) as pilot:
        await until_trading(pilot, app)
        assert notices.any("unknown binding id 'no_such_binding'")
        await press(pilot, "ctrl+k")
        await until(pilot, lambda: notices.any("flat:"), "ctrl+k flattened everything")
        assert any(key == "ctrl+k" for key, _ in app.desk.help_rows())


async def test_ctrl_q_takes_the_same_careful_way_out(desk_factory):
    app, engine = desk_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await press(pilot, "ctrl+q")
        await until(pilot, lambda: not app.is_running, "the desk quit")
    assert not engine.started, "the engine was stopped, not abandoned"


async def test_the_layout_follows_the_terminal_size(desk_factory):
    app, engine = desk_factory()
    panes = ("signals", "breakdown", "positions", "trades", "equity")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        assert all(app.desk.query_one(f"#{p}-pane").display for p in panes)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: app.desk.has_class("-narrow"), "the narrow layout")
        await until(pilot, lambda: app.desk.query_one("#pane-tabs").region.height == 1, "the pane tabs show")
        assert [p for p in panes if app.desk.query_one(f"#{p}-pane").region.height] == ["signals"]
        await pilot.resize_terminal(220, 50)
        await until(pilot, lambda: app.desk.has_class("-very-wide"), "the very wide layout")
        await until(pilot, lambda: all(app.desk.query_one(f"#{p}-pane").region.height for p in panes),
                    "every pane at once again")
