"""SIGTERM and SIGHUP to a desk in a real terminal quit it like q: exit 0, the store written,
and the terminal back from the alternate screen with mouse reporting off."""
import asyncio
import os
import shutil
import sqlite3
import sys

import pytest
import yaml

from tests.engine.headless_process import ROOT, process_env
from tests.tui.tmux_desk import TmuxDesk

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.mark.parametrize("sig", ["TERM", "HUP"])
async def test_a_stop_signal_quits_like_q(tmp_path, sig):
    db = tmp_path / "trifactor.db"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"universe": {"type": "list", "symbol_list": ["BTCUSDT", "ETHUSDT"]},
                                      "sim": {"speed": 4}, "storage": {"url": f"sqlite:///{db}"}}))
    pid_file, code_file = tmp_path / "pid", tmp_path / "code"
    desk = TmuxDesk(["bash", "-c", f'echo $$ > {pid_file}; {sys.executable} -m tui run --config {config}; '
                                   f'echo $? > {code_file}'],
                    process_env(tmp_path), str(ROOT), width=100, height=30)
    desk.session = desk.socket = f"desk-sig-{sig}-{desk.socket}"
    desk.start()
    try:
        await desk.wait_for(r"Signals ·", "the desk is up")
        desk.keys("3")
        await desk.wait_for(r"Positions · [1-9]", "the desk trades")
        assert desk._tmux("display", "-p", "-t", desk.session, "#{alternate_on}").strip() == "1"
        found = await asyncio.create_subprocess_exec("pgrep", "-P", pid_file.read_text().strip(),
                                                     stdout=asyncio.subprocess.PIPE)
        desk_pid = (await found.communicate())[0].decode().split()[0]  # the shell's one child: the desk
        await asyncio.create_subprocess_exec("kill", f"-{sig}", desk_pid)
        for _ in range(150):
            if code_file.exists() and code_file.read_text().strip():
                break
            await asyncio.sleep(0.1)
        assert code_file.read_text().strip() == "0", desk.screen()
        flags = desk._tmux("display", "-p", "-t", desk.session, "#{alternate_on} #{mouse_any_flag}").split()
        assert flags == ["0", "0"], f"the terminal was left as {flags}"
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM trades").fetchone()[0] > 0
    finally:
        desk.close()


async def test_a_closed_terminal_ends_the_desk(tmp_path):
    """The SSH session or the tmux pane goes away: the desk must not linger without a terminal."""
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"universe": {"type": "list", "symbol_list": ["BTCUSDT"]}, "sim": {"speed": 4},
                                      "storage": {"url": f"sqlite:///{tmp_path / 'x.db'}"}}))
    pid_file = tmp_path / "pid"
    desk = TmuxDesk(["bash", "-c", f"echo $$ > {pid_file}; exec {sys.executable} -m tui run --config {config}"],
                    process_env(tmp_path), str(ROOT), width=100, height=30)
    desk.session = desk.socket = f"desk-gone-{desk.socket}"
    desk.start()
    try:
        await desk.wait_for(r"Signals ·", "the desk is up")
    finally:
        desk.close()
    pid = int(pid_file.read_text())
    for _ in range(300):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.1)
    os.kill(pid, 9)
    raise AssertionError("the desk kept running after its terminal closed")
