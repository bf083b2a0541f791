"""The flatten key works over every screen, dialog and prompt, with the default key and with
a keymap override; the dialog it was pressed in stays as it was."""
import pytest
from textual.widgets import Input, OptionList

from engine.config import from_mapping
from engine.statefile import StateFile
from tests.tui.conftest import FROZEN_NOW, Notices, press, until
from tests.tui.fake_engine import FakeEngine
from tui.app import DeskApp
from tui.screens.help import HelpScreen
from tui.screens.mode import ModeScreen
from tui.screens.quit import QuitScreen

MODALS = ("help", "mode switcher", "live prompt", "quit question")


async def open_modal(pilot, app: DeskApp, which: str) -> None:
    if which == "help":
        await press(pilot, "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen.query("Static"), "help")
    elif which == "quit question":
        app.push_screen(QuitScreen())
        await until(pilot, lambda: isinstance(app.screen, QuitScreen) and app.screen.query("Static"), "quit")
    else:
        await press(pilot, "m")
        await until(pilot, lambda: isinstance(app.screen, ModeScreen) and app.screen.query(OptionList)
                    and app.screen.query_one(OptionList).has_focus, "the mode switcher")
        if which == "live prompt":
            await press(pilot, "down", "down", "enter")
            await until(pilot, lambda: app.screen.query_one("#mode-confirm").has_focus, "the LIVE prompt")
            await press(pilot, "L", "I")
            await until(pilot, lambda: app.screen.query_one("#mode-confirm", Input).value == "LI", "typed LI")


@pytest.mark.parametrize("keymap", [{}, {"flatten_all": "ctrl+f"}], ids=["F", "ctrl+f"])
@pytest.mark.parametrize("modal", MODALS)
async def test_flatten_works_with_each_modal_open(tmp_path, modal, keymap):
    engine = FakeEngine(live_keys=True)
    config = from_mapping({"ui": {"keys": keymap}})
    app = DeskApp(engine, config, StateFile(tmp_path / "state.toml"), clock=lambda: FROZEN_NOW, max_bars=3)
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine.started and len(engine.positions) == 3, "positions are open")
        await open_modal(pilot, app, modal)
        dialog = app.screen
        await press(pilot, keymap.get("flatten_all", "F"))
        await until(pilot, lambda: notices.any("flattened 3 positions"), "the flatten result is shown")
        assert engine.calls.count("flatten_all") == 1 and engine.positions == {}
        assert [reason for _, reason in engine.orders].count("flatten") == 3
        assert app.screen is dialog, f"the {modal} stays open"
        if modal == "live prompt":
            # The flatten key is never typed into the prompt: LIVE still completes it.
            assert app.screen.query_one("#mode-confirm", Input).value == "LI"
            await press(pilot, "V", "E", "enter")
            await until(pilot, lambda: engine.mode.value == "live", "the typed LIVE switched the mode")


async def test_with_the_flatten_key_moved_f_is_just_a_letter_in_the_live_prompt(tmp_path):
    engine = FakeEngine(live_keys=True)
    app = DeskApp(engine, from_mapping({"ui": {"keys": {"flatten_all": "ctrl+f"}}}),
                  StateFile(tmp_path / "state.toml"), clock=lambda: FROZEN_NOW, max_bars=3)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine.started and len(engine.positions) == 3, "positions are open")
        await open_modal(pilot, app, "live prompt")
        await press(pilot, "F")
        await until(pilot, lambda: app.screen.query_one("#mode-confirm", Input).value == "LIF", "F typed")
        assert "flatten_all" not in engine.calls and len(engine.positions) == 3
