"""One engine per (store, instance): a second one is refused at start with a message naming
the store and the process that holds it; other instances run side by side with their own
books; read-only tools take no lock."""
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from engine.model import Side
from storage import StoreError, db_check, status_report
from storage.lock import lock_file, server_lock_name
from storage.store import default_journal_dir
from storage.url import parse_url
from tests.storage import db, factories as f
from tests.storage.publishing import publish
from tests.storage.db import NO_SECRETS

ROOT = Path(__file__).resolve().parents[2]


def refused(url: str, instance: str = "default", pid: int | None = None) -> str:
    """The refusal, as a pattern: it names the holder's process and host, the instance and the store."""
    # MariaDB adds the holder's connection as the server sees it: "host (127.0.0.1:port)".
    who = rf"pid {pid if pid is not None else os.getpid()} on host {re.escape(socket.gethostname())}(?: \([^)]*\))?"
    return (rf"another trifactor engine \({who}, since \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC\) already runs "
            rf"instance '{instance}' on store {re.escape(str(parse_url(url)))}; stop it or pick another `instance`")


async def test_a_second_store_on_the_same_instance_is_refused_until_the_first_closes(backend):
    first = backend.open()
    await first.start()
    second = backend.open()
    with pytest.raises(StoreError, match=refused(backend.url)):
        await second.start()
    await second.close()
    # Reading tools take no lock: they work while the instance runs.
    assert db_check(backend.url, NO_SECRETS)[0] == 0
    assert "== instance default ==" in status_report(backend.url, NO_SECRETS)
    await first.close()

    third = backend.open()
    await third.start()  # the lock went with the first store
    await third.close()


async def test_the_sqlite_lock_file_names_its_holder(tmp_path):
    from tests.storage.backends import Backend
    backend = Backend("sqlite", f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    store = backend.open(instance="desk-1")
    await store.start()
    path = lock_file(parse_url(backend.url), "desk-1")
    assert path == tmp_path / "store.db.desk-1.lock"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pid, host, started = path.read_text().split()
    assert (int(pid), host) == (os.getpid(), socket.gethostname()) and started.startswith("20")
    await store.close()
    assert path.read_text() == ""  # released: nobody holds it


def test_long_server_lock_names_stay_within_the_limit():
    assert server_lock_name("trading", "default") == "trifactor:trading:default"
    long = server_lock_name("d" * 64, "i" * 32)
    assert len(long) <= 64 and long != server_lock_name("d" * 64, "j" * 32)


async def test_two_instances_keep_separate_books_side_by_side(backend):
    east = backend.open(instance="east", journal="east")
    west = backend.open(instance="west", journal="west")
    await east.start()
    await west.start()
    try:
        # The same trade ids and times in both books are different rows, not conflicts.
        await publish(east, f.fill(1, "BTCUSDT", Side.BUY, "0.002", "50000"), f.fill(2, "BTCUSDT", Side.BUY),
                      f.equity(2, "10010"), f.position("BTCUSDT", "0.003", 2), f.signal("BTCUSDT", 2, 0.5),
                      f.engine_state(2, paused=frozenset({"ETHUSDT"})), f.command("pause", 2, symbol="ETHUSDT"))
        await publish(west, f.fill(1, "SOLUSDT", Side.SELL, "3", "150"), f.equity(2, "9990"),
                      f.position("SOLUSDT", "-3", 2), f.signal("BTCUSDT", 2, -0.5),
                      f.engine_state(2, halted=True, reason="daily loss"))
        assert east.status().message == "" and west.status().message == ""
        e, w = await east.load_state("paper"), await west.load_state("paper")
        assert (e.trade_count, set(e.positions)) == (2, {"BTCUSDT"})
        assert (w.trade_count, w.positions["SOLUSDT"].quantity) == (1, Decimal(-3))
        assert [p.equity for p in await east.equity_history("paper", 5)] == [Decimal(10010)]
        assert [p.symbol for p in await west.positions("paper")] == ["SOLUSDT"]
        assert [s.final_factor for s in await west.signal_history("BTCUSDT", 5)] == [-0.5]
        assert len(await east.recent_audit(5)) == 1 and await west.recent_audit(5) == []
        ce, cw = await east.load_controls(), await west.load_controls()
        assert ce.paused == {"ETHUSDT"} and not ce.halted and cw.halted and cw.paused == frozenset()
        assert db.rows(backend.url, "SELECT instance, COUNT(*) FROM trades GROUP BY instance ORDER BY instance") == [
            ("east", 2), ("west", 1)]

        text = status_report(backend.url, NO_SECRETS)
        assert "instances  east, west" in text
        east_part, west_part = text.split("== instance east ==")[1].split("== instance west ==")
        assert "10,010.00 USDT" in east_part and "trades 2" in east_part and "BTCUSDT" in east_part
        assert "9,990.00 USDT" in west_part and "trades 1" in west_part and "HALTED (daily loss)" in west_part
        assert f"engine  running; pid {os.getpid()} on host {socket.gethostname()}, started " in west_part
        only = status_report(backend.url, NO_SECRETS, instance="west")
        assert "== instance west ==" in only and "== instance east ==" not in only
        with pytest.raises(StoreError, match=r"has no instance 'north' \(instances: east, west\)"):
            status_report(backend.url, NO_SECRETS, instance="north")
    finally:
        await east.close()
        await west.close()


def test_a_bad_instance_name_is_refused(backend):
    with pytest.raises(StoreError, match=r"instance 'a b' must be 1-32 letters.*config key `instance`"):
        backend.open(instance="a b")


# -- real engines ---------------------------------------------------------------------------------------

def trifactor_env(home: Path) -> dict:
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        (home / name.lower()).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / name.lower())
    return env


def run(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=trifactor_env(home),
                          capture_output=True, text=True, timeout=timeout)


async def test_a_second_trifactor_run_on_a_held_instance_exits_2(backend):
    holder = backend.open()
    await holder.start()
    try:
        out = run(backend.tmp / "home", "run", "--headless", "--bars", "2", "--db", backend.url)
    finally:
        await holder.close()
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert re.fullmatch("trifactor: error: " + refused(backend.url) + r"\n", out.stderr), out.stderr


def start_engine(home: Path, url: str) -> subprocess.Popen:
    """A real engine that runs until stopped, on the default instance of `url`."""
    return subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--headless", "--speed", "2", "--db", url],
                            cwd=ROOT, env=trifactor_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def wait_for_instance(url: str, pid: int, proc: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if db.rows(url, "SELECT pid FROM instances WHERE instance = 'default'") == [(pid,)]:
                return
        except Exception:  # noqa: BLE001 - the engine has not created the schema yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"the engine {pid} never took its instance")


def test_two_real_engines_one_instance_refused_another_instance_runs(backend):
    home = backend.tmp / "home"
    first = start_engine(home, backend.url)
    try:
        wait_for_instance(backend.url, first.pid, first)
        second = run(home, "run", "--headless", "--bars", "2", "--db", backend.url)
        assert second.returncode == 2, second.stderr
        assert re.search(refused(backend.url, pid=first.pid), second.stderr), second.stderr
        other = run(home, "run", "--headless", "--bars", "2", "--instance", "other", "--db", backend.url)
        assert other.returncode == 0, other.stderr
        assert "done: 2 live bars" in other.stdout
    finally:
        first.terminate()
        first.wait(timeout=30)
    status = run(home, "status", "--db", backend.url)
    assert status.returncode == 0, status.stderr
    assert "instances  default, other" in status.stdout
    assert f"engine  not running; last pid {first.pid} on host" in status.stdout
    # The other instance's fills are its own: counted from its trades, none of them in the default book.
    other_trades = db.rows(backend.url, "SELECT COUNT(*) FROM trades WHERE instance = 'other'")[0][0]
    assert other_trades > 0
    assert f"trades {other_trades}" in status.stdout.split("== instance other ==")[1]
    only = run(home, "status", "--db", backend.url, "--instance", "other")
    assert only.returncode == 0 and "== instance other ==" in only.stdout and "instance default" not in only.stdout
    bad = run(home, "run", "--headless", "--bars", "2", "--instance", "no/slashes", "--db", backend.url)
    assert bad.returncode == 2
    assert bad.stderr == "trifactor: error: command line: `instance` 'no/slashes' must be 1-32 letters, digits, " \
                         "_, . or -\n"


def test_each_instance_has_its_own_journal_directory(tmp_path):
    sqlite = parse_url(f"sqlite:///{tmp_path / 'store.db'}")
    assert default_journal_dir(sqlite) == tmp_path / "store.db.spool"  # where it was before instances
    assert default_journal_dir(sqlite, "east") == tmp_path / "store.db.east.spool"
    mysql = parse_url("mysql://u@h:3306/db")
    assert default_journal_dir(mysql, "east") != default_journal_dir(mysql) and \
        default_journal_dir(mysql, "east").name == "h_3306_db.east"


async def test_a_lost_lock_connection_is_taken_again_or_reported(mariadb_backend, caplog):
    backend = mariadb_backend
    first = backend.open()
    await first.start()
    name = server_lock_name(backend.database, "default")
    with backend.server.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT IS_USED_LOCK(%s)", (name,))
        (holder,) = cur.fetchone()
        cur.execute(f"KILL CONNECTION {int(holder)}")  # the server frees the lock with it
    second = backend.open(journal="second")
    await second.start()  # the instance was free: taken by another engine in the meantime
    caplog.set_level(logging.ERROR, logger="storage")
    await first.flush()
    await first._in_writer(first._heartbeat.beat)
    await first.flush()
    assert re.search(refused(backend.url), caplog.text)  # the first engine says so, in the log and its status
    assert first.status().message.startswith("lost the lock on instance 'default': another trifactor engine")
    await second.close()
    await first._in_writer(first._heartbeat.beat)  # free again: the first engine takes it back
    await first.flush()
    assert first.status().message == ""
    third = backend.open(journal="third")
    with pytest.raises(StoreError, match=refused(backend.url)):
        await third.start()
    await third.close()
    await first.close()


def test_a_killed_engine_leaves_no_lock_behind(backend):
    home = backend.tmp / "home"
    first = start_engine(home, backend.url)
    try:
        wait_for_instance(backend.url, first.pid, first)
    finally:
        first.kill()  # kill -9: no chance to release anything
        first.wait(timeout=30)
    status = run(home, "status", "--db", backend.url)
    assert f"engine  not running; last pid {first.pid} on host" in status.stdout, status.stdout + status.stderr
    again = run(home, "run", "--headless", "--bars", "2", "--db", backend.url)
    assert again.returncode == 0, again.stderr
    assert db.rows(backend.url, "SELECT pid FROM instances WHERE instance = 'default'") != [(first.pid,)]
