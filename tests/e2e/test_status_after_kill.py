"""`trifactor status` after a crash that left rows on local disk: it says that its figures may
lack them and where they wait, and once the instance has started again the store holds every
fill the crashed run printed and the warning is gone."""
import subprocess
import sys

from tests.e2e.engine_process import Sandbox
from tests.e2e.sqlite_lock import SqliteLock
from tests.e2e.stored_book import read_book


def status(sandbox: Sandbox, url: str) -> str:
    out = subprocess.run([sys.executable, "-m", "tui.cli", "status", "--db", url], cwd=sandbox.root,
                         env=sandbox.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    return out.stdout


def test_status_after_kill9_names_the_rows_the_store_does_not_have_yet(sandbox, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    run = sandbox.start(url, bars=100_000, speed=50)
    assert run.wait_for(lambda out: len(out.bars) >= 3), run.stderr_text()[-2000:]
    with SqliteLock(url):  # the database is away: what happens now is only in the ledger and spool
        before = len(run.output().fills)
        assert run.wait_for(lambda out: len(out.fills) >= before + 3, timeout=90), "no fills while the store was away"
        run.kill9()
    printed = {f.trade_id for f in sandbox.fills()}
    stored = {t["trade_id"] for t in read_book(url).trades}
    assert printed - stored, "the crashed run's last fills should not be in the database yet"

    text = status(sandbox, url)
    assert "engine  not running" in text
    assert "of a run that stopped before the database had them wait in" in text, text
    assert ".spool" in text  # where they are

    sandbox.run(url, bars=1, speed=50)  # the next start writes them first
    stored = {t["trade_id"] for t in read_book(url).trades}
    assert printed <= stored, f"fills printed before the crash are missing: {sorted(printed - stored)}"
    assert "of a run that stopped" not in status(sandbox, url)
