"""F with each dialog open, in a real `trifactor` desk at 80x24 inside tmux, trading live
against the fake exchange through the real ccxt: the exchange must end flat every time, and
the dialog must still be there."""
import asyncio
import re
import shutil
import sys
from contextlib import suppress

import pytest

from tests.engine.headless_process import ROOT, process_env, write_config
from tests.fake_binance import FakeBinance
from tests.fake_binance.helpers import eventually
from tests.tui.tmux_desk import TmuxDesk

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
BAR_EVERY_S = 0.7

# How to open each dialog from the desk, and what shows once it is open.
DIALOGS = {
    "help": (["?"], r"Keys \(escape closes\)", ["Escape"]),
    "mode switcher": (["m"], r"Trading mode · now live", ["Escape"]),
    "live prompt": (["m", "Enter"], r"Type LIVE in the box", ["Escape"]),
    "quit question": (["q"], r"Quit with live positions open", ["n"]),
}


async def push_bars(fake: FakeBinance) -> None:
    while True:
        for symbol in SYMBOLS:
            await fake.push_kline(symbol)
        await asyncio.sleep(BAR_EVERY_S)


def closes(fake: FakeBinance) -> int:
    return sum(1 for order in fake.orders if order["reduceOnly"])


async def test_f_flattens_with_each_dialog_open_in_a_real_terminal(tmp_path):
    async with FakeBinance(SYMBOLS, history_bars=500) as fake:
        config = write_config(tmp_path, fake.base_url, SYMBOLS)
        desk = TmuxDesk([sys.executable, "-m", "tui", "run", "--mode", "live", "--confirm", "LIVE", "--market", "binance",
                         "--config", str(config)], process_env(tmp_path), str(ROOT))
        desk.start()
        bars = None
        try:
            for symbol in SYMBOLS:
                await fake.wait_subscribed(f"{symbol.lower()}@kline_1m", timeout=120)
            bars = asyncio.ensure_future(push_bars(fake))
            await desk.wait_for(r"‼ LIVE ‼", "the header says LIVE once live trading runs")
            for name, (open_keys, shows, close_keys) in DIALOGS.items():
                await eventually(lambda: bool(fake.positions), 120, f"open positions before the {name}")
                desk.keys("3")  # the positions pane: the desk too must know they are open
                await desk.wait_for(r"Positions · [1-9]\d* open", f"the desk shows positions before the {name}")
                desk.keys(*open_keys)
                await desk.wait_for(shows, f"the {name} opened")
                if name == "live prompt":
                    desk.keys("L", "I")
                    await desk.wait_for(r"\bLI\b", "LI typed into the prompt")
                before = closes(fake)
                desk.keys("F")
                await eventually(lambda: not fake.positions, 60, f"flat on the exchange after F in the {name}")
                assert closes(fake) > before, "reduce-only closes were sent"
                screen = await desk.wait_for(r"flat: \d+ position", f"the flatten result over the {name}")
                assert re.search(shows, screen), f"the {name} is still open:\n{screen}"
                if name == "live prompt":
                    assert "LIF" not in screen, f"F was typed into the prompt:\n{screen}"
                desk.keys(*close_keys)
                await desk.wait_for(r"Positions · 0 open", f"the {name} closed, no positions left")
                desk.keys("Space")  # resume entries, so the next dialog has positions to flatten
                await desk.wait_for(r"entries resumed|entries on", "entries resumed")
        finally:
            if bars is not None:
                bars.cancel()
                with suppress(asyncio.CancelledError):
                    await bars
            desk.close()
