"""In a real terminal at 80x24: 3 (positions), down one row, x. The store must record a flatten
of the symbol on that row, and of no other."""
import asyncio
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml

from tests.engine.headless_process import ROOT, process_env
from tests.tui.tmux_desk import TmuxDesk

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]
ROW = re.compile(r"│\s*([A-Z]{3,}USDT)\s+(LONG|SHORT)")


def flattened(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT symbol FROM orders WHERE reason = 'flatten'")]


async def test_x_on_the_second_position_row_flattens_that_symbol(tmp_path):
    db = tmp_path / "trifactor.db"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"universe": {"type": "list", "symbol_list": SYMBOLS},
                                      "sim": {"speed": 4}, "storage": {"url": f"sqlite:///{db}"}}))
    desk = TmuxDesk([sys.executable, "-m", "tui", "run", "--config", str(config)], process_env(tmp_path),
                    str(ROOT), width=80, height=24)
    desk.session = desk.socket = f"desk-row-{desk.socket}"
    desk.start()
    try:
        await desk.wait_for(r"Signals", "the desk is up")
        desk.keys("3")
        screen = await desk.wait_for(r"Positions · [2-9] open", "two or more positions are open")
        desk.keys("Down")
        rows = ROW.findall(screen)
        assert len(rows) >= 2, screen
        target = rows[1][0]
        desk.keys("x")
        await desk.wait_for(rf"Flatten {target}", f"the result for {target} shows")
        for _ in range(100):  # the ledger is fsync'ed before the desk shows the result
            if flattened(db):
                break
            await asyncio.sleep(0.1)
        assert set(flattened(db)) == {target}, f"the store says {flattened(db)}, the cursor was on {target}"
        desk.keys("q")
    finally:
        desk.close()
