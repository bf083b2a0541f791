"""Log, store, journal, spool and state files hold trading history: created 0600 in 0700
directories whatever the umask, and tightened if an earlier version left them open."""
import asyncio
import logging
import os
import stat
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

import storage
from engine.events import EquityUpdate, EventBus
from engine.model import Mode
from engine.config import StorageConfig
from engine.logsetup import setup_logging
from engine.paths import private_file
from engine.secrets import Secrets
from engine.statefile import StateFile
from storage.journal import Journal
from tests.logging_support import restored_root_logging

NO_SECRETS = Secrets.load(environ={})


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_log_files_are_private_also_after_a_rollover(tmp_path):
    with restored_root_logging():
        path = setup_logging("INFO", NO_SECRETS, path=tmp_path / "new" / "logs" / "trifactor.log", max_bytes=200)
        for n in range(20):
            logging.getLogger("test").info("line %d of some length to roll the file over", n)
    rolled = sorted(path.parent.glob("trifactor.log*"))
    assert len(rolled) > 1
    assert all(mode(f) == 0o600 for f in rolled), {f.name: oct(mode(f)) for f in rolled}
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700


def test_the_state_file_is_private(tmp_path):
    state = StateFile(tmp_path / "state" / "state.toml")
    state.update(theme="dark")
    assert mode(state.path) == 0o600 and mode(state.path.parent) == 0o700


def test_a_journal_is_private_and_an_old_open_one_is_tightened(tmp_path):
    old = tmp_path / "old.jsonl"
    old.write_text("")
    old.chmod(0o644)
    Journal(old).close()
    Journal(tmp_path / "spool" / "spool.jsonl").close()
    assert mode(old) == 0o600 and mode(tmp_path / "spool" / "spool.jsonl") == 0o600
    assert mode(tmp_path / "spool") == 0o700


def test_an_existing_directory_the_user_chose_is_left_as_it_is(tmp_path):
    tmp_path.chmod(0o755)
    private_file(tmp_path / "x.db")
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "x.db") == 0o600


async def test_the_sqlite_store_its_wal_and_its_spool_are_private(tmp_path):
    db = tmp_path / "data" / "trifactor.db"
    store = storage.open_store(f"sqlite:///{db}", StorageConfig(), NO_SECRETS)
    await store.start()
    try:
        bus = EventBus()
        store.attach(bus)
        bus.publish(EquityUpdate(Mode.PAPER, datetime(2026, 1, 1, tzinfo=timezone.utc), *[Decimal(1)] * 8, 0))
        await store.flush()
        await asyncio.sleep(0.05)  # the ledger notes the market time in its own thread
        created = [p for p in db.parent.rglob("*") if p.is_file()]
        assert {p.name for p in created} >= {"trifactor.db", "trifactor.db-wal", "trifactor.db-shm",
                                             "spool.jsonl", "market-time"}
        assert all(mode(p) == 0o600 for p in created), {p.name: oct(mode(p)) for p in created}
        assert all(mode(d) == 0o700 for d in [db.parent, *(p for p in db.parent.rglob("*") if p.is_dir())])
    finally:
        await store.close()
