"""The outside kill switch with real processes: `trifactor ctl ...` against a running headless
engine, and `trifactor flatten --all` with and without one (paper, on the simulated market)."""
from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from storage.recovery import positions_from_fills

ROOT = Path(__file__).resolve().parents[1]
GUARD_S = 90  # only a guard against a hang


def environment(home: Path) -> dict[str, str]:
    runtime = home / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(home / "cfg"),
            "XDG_DATA_HOME": str(home / "data"), "XDG_STATE_HOME": str(home / "state"),
            "XDG_RUNTIME_DIR": str(runtime)}


def trifactor(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=environment(home),
                          capture_output=True, text=True, timeout=GUARD_S)


def start_engine(home: Path, db: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--headless", "--bars", "100000",
                             "--speed", "50", "--db", db], cwd=ROOT, env=environment(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def socket_file(home: Path) -> Path:
    return home / "run" / "trifactor" / "trifactor-default.sock"


def open_positions_in(status_text: str) -> int:
    line = next(line for line in status_text.splitlines() if line.startswith("positions"))
    return int(line.split()[1])


def wait_for_positions(home: Path, engine: subprocess.Popen) -> str:
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        assert engine.poll() is None, f"the engine ended early: {engine.stderr.read()}"
        out = trifactor(home, "ctl", "status")
        if out.returncode == 0 and open_positions_in(out.stdout) > 0:
            return out.stdout
        time.sleep(0.5)
    raise AssertionError("the engine never opened a position")


def stored_paper_positions(db_file: Path) -> dict:
    """The paper book as the next start rebuilds it: from the stored fills."""
    with sqlite3.connect(db_file) as conn:
        rows = conn.execute("SELECT symbol, side, quantity, price FROM trades WHERE mode = 'paper' "
                            "ORDER BY timestamp, id").fetchall()
    return positions_from_fills([(s, side, Decimal(str(q)), Decimal(str(p))) for s, side, q, p in rows])


def eventually(check, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(engine: subprocess.Popen) -> int:
    engine.send_signal(signal.SIGTERM)
    try:
        return engine.wait(GUARD_S)
    finally:
        if engine.poll() is None:
            engine.kill()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def test_ctl_commands_reach_the_running_engine_and_flatten_leaves_the_store_flat(home):
    db_file = home / "t.db"
    engine = start_engine(home, f"sqlite:///{db_file}")
    try:
        status = wait_for_positions(home, engine)
        assert "mode       paper on sim (running" in status and "halt       entries allowed" in status

        sock = socket_file(home)
        assert stat.S_ISSOCK(sock.stat().st_mode)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700

        second = trifactor(home, "run", "--headless", "--bars", "1", "--db", f"sqlite:///{home / 'other.db'}")
        assert second.returncode == 2
        assert "another trifactor engine" in second.stderr and str(sock) in second.stderr

        paused = trifactor(home, "ctl", "pause", "BTCUSDT")
        assert paused.returncode == 0 and paused.stdout.startswith("ok pause: BTCUSDT paused")
        assert "paused     BTCUSDT" in trifactor(home, "ctl", "status").stdout
        resumed = trifactor(home, "ctl", "resume", "btcusdt")
        assert resumed.returncode == 0 and resumed.stdout.startswith("ok resume: BTCUSDT resumed")
        unknown = trifactor(home, "ctl", "pause", "NOPEUSDT")
        assert unknown.returncode == 1 and unknown.stdout.startswith("REFUSED pause: unknown symbol")
        halted = trifactor(home, "ctl", "halt")
        assert halted.returncode == 0 and halted.stdout.startswith("ok halt: entries halted")
        assert "halt       entries halted: operator" in trifactor(home, "ctl", "status").stdout
        entries = trifactor(home, "ctl", "resume-entries")
        assert entries.returncode == 0 and entries.stdout.startswith("ok resume_entries: entries resumed")

        flat = trifactor(home, "ctl", "flatten")
        assert flat.returncode == 0, flat.stdout + flat.stderr
        assert flat.stdout.startswith("ok flatten_all: flat: ") and "closed" in flat.stdout
        after = trifactor(home, "ctl", "status").stdout
        assert open_positions_in(after) == 0 and "entries halted: flatten all" in after
        eventually(lambda: stored_paper_positions(db_file) == {} and trifactor(
            home, "status", "--db", f"sqlite:///{db_file}").stdout.count("positions (paper): none"),
            "the store to show the paper book flat")

        # With an engine running, `trifactor flatten` goes through its socket, not around it.
        through = trifactor(home, "flatten", "--all", "--db", f"sqlite:///{db_file}")
        assert through.returncode == 0
        assert through.stdout.startswith("ok flatten_all: flat: nothing was open")
        assert "directly" not in through.stdout + through.stderr
        other_mode = trifactor(home, "flatten", "--all", "--mode", "testnet")
        assert other_mode.returncode == 1
        assert other_mode.stdout.startswith("REFUSED flatten: the running engine trades paper, not testnet")
    finally:
        code = stop(engine)
    assert code == 0
    assert not socket_file(home).exists()

    gone = trifactor(home, "ctl", "status")
    assert gone.returncode == 3
    assert gone.stderr.strip() == (f"trifactor: no trifactor engine is running for instance default "
                                   f"(no socket at {socket_file(home)})")


def test_a_killed_engine_leaves_a_stale_socket_that_neither_ctl_nor_the_next_start_trips_on(home):
    db_file = home / "t.db"
    engine = start_engine(home, f"sqlite:///{db_file}")
    try:
        wait_for_positions(home, engine)
        # The store writes behind the engine: wait until the stored book has positions too.
        eventually(lambda: stored_paper_positions(db_file), "stored open positions")
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.wait(GUARD_S)
    assert socket_file(home).exists()  # nothing removed it
    open_before = stored_paper_positions(db_file)
    assert open_before

    status = trifactor(home, "ctl", "status")
    assert status.returncode == 3 and "no trifactor engine is running for instance default" in status.stderr

    flat = trifactor(home, "flatten", "--all", "--db", f"sqlite:///{db_file}")
    assert flat.returncode == 0, flat.stdout + flat.stderr
    assert "flattening paper directly" in flat.stderr
    # The ledger's last fills reach the database when the flatten opens the store, so the book it
    # closes is the killed engine's last one, which the database alone may not show yet.
    assert flat.stdout.startswith("ok flatten_all: flat: ") and " position(s) closed" in flat.stdout
    assert sum(line.startswith("  ") and ": closed " in line for line in flat.stdout.splitlines()) >= 1
    assert stored_paper_positions(db_file) == {}
    with sqlite3.connect(db_file) as conn:  # the closes pay the paper taker fee, like the engine's own
        closes = conn.execute("SELECT quantity, price, commission FROM trades WHERE mode = 'paper' "
                              "ORDER BY id DESC LIMIT ?", (len(open_before),)).fetchall()
    for qty, price, fee in closes:
        assert abs(Decimal(str(fee)) - Decimal(str(qty)) * Decimal(str(price)) * Decimal("0.0005")) < Decimal("1e-9")
    stored_status = trifactor(home, "status", "--db", f"sqlite:///{db_file}").stdout
    assert "positions (paper): none" in stored_status and "HALTED (flatten all)" in stored_status

    # The next start replaces the stale socket, sees the book flat and stays halted.
    again = trifactor(home, "run", "--headless", "--bars", "2", "--speed", "50", "--db", f"sqlite:///{db_file}")
    assert again.returncode == 0, again.stderr
    assert "0 open positions" in again.stdout and "HALTED" in again.stdout
    assert not socket_file(home).exists()


def test_ctl_with_no_engine_exits_3_with_the_socket_path(home):
    out = trifactor(home, "ctl", "flatten", "BTCUSDT")
    assert out.returncode == 3
    assert out.stderr.strip() == (f"trifactor: no trifactor engine is running for instance default "
                                  f"(no socket at {socket_file(home)})")
    assert os.listdir(home / "run") == []  # a client creates nothing
