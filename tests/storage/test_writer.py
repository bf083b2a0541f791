"""The write-behind core against a scripted backend: batching, spooling, replay order."""
from datetime import datetime
from decimal import Decimal

import pytest

from storage.errors import Unavailable
from storage.rows import signal_minute_rows
from storage.signal_pack import pack_minute
from storage.writer import Writer
from tests.storage import factories as f


class ScriptedBackend:
    """Records committed rows; `down` makes writes fail as an unreachable database does."""

    dialect = "sqlite"

    def __init__(self) -> None:
        self.committed: list[tuple] = []
        self.transactions = 0
        self.down = False
        self.refuse: set[str] = set()  # trade ids whose row the database refuses

    def write(self, rows):
        if self.down:
            raise Unavailable("database is locked")
        if any(values.get("trade_id") in self.refuse for _, values in rows):
            raise ValueError("Data too long for column 'trade_id'")
        self.transactions += 1
        self.committed += rows


def trade(i: int):
    return ("trade", {"trade_id": f"t{i}", "price": Decimal("1.5"), "timestamp": datetime(2025, 1, 1, 0, i % 60)})


def ids(backend):
    return [values["trade_id"] for _, values in backend.committed]


@pytest.fixture
def clock():
    return [0.0]


@pytest.fixture
def writer(tmp_path, clock):
    w = Writer(ScriptedBackend(), tmp_path / "journal", retry_interval_s=5.0, clock=lambda: clock[0])
    yield w
    w.close()


def test_one_transaction_per_batch(writer):
    writer.write([trade(i) for i in range(1000)])
    assert writer.backend.transactions == 1
    assert ids(writer.backend) == [f"t{i}" for i in range(1000)]
    assert writer.state.status == "up"


def test_outage_spools_in_order_and_replays_when_back(writer, clock):
    writer.write([trade(0)])
    writer.backend.down = True
    writer.write([trade(1), trade(2)])
    assert writer.state.status == "degraded" and writer.state.spooled == 2
    assert "database is locked" in writer.state.message
    writer.backend.down = False
    writer.write([trade(3)])  # the database is back, but nothing is written around the spool
    assert ids(writer.backend) == ["t0"]
    assert writer.state.spooled == 3
    clock[0] += 5.0  # the retry interval has passed
    writer.write([trade(4)])
    assert ids(writer.backend) == ["t0", "t1", "t2", "t3", "t4"]
    assert writer.state.status == "up" and writer.spool.size == 0
    assert isinstance(writer.backend.committed[1][1]["price"], Decimal)
    assert isinstance(writer.backend.committed[1][1]["timestamp"], datetime)


def test_a_forced_replay_ignores_the_retry_timer(writer):
    writer.backend.down = True
    writer.write([trade(1)])
    writer.backend.down = False
    writer.write([], force_replay=True)
    assert ids(writer.backend) == ["t1"] and writer.state.status == "up"


def test_a_failed_replay_keeps_everything_for_later(writer, clock):
    writer.backend.down = True
    for i in range(3):
        writer.write([trade(i)])
    clock[0] += 5.0
    writer.write([])
    assert writer.state.spooled == 3 and writer.backend.committed == []


def test_a_spool_left_by_an_earlier_run_is_replayed(tmp_path, clock):
    first = Writer(ScriptedBackend(), tmp_path / "j", retry_interval_s=5.0, clock=lambda: clock[0])
    first.backend.down = True
    first.write([trade(1), trade(2)])
    first.close()
    second = Writer(ScriptedBackend(), tmp_path / "j", retry_interval_s=5.0, clock=lambda: clock[0])
    assert second.state.status == "degraded" and second.state.spooled == 2
    second.replay(force=True)
    assert ids(second.backend) == ["t1", "t2"] and second.state.status == "up"
    second.close()


def test_a_refused_row_is_set_aside_and_the_rest_written(writer):
    writer.backend.refuse = {"t2"}
    writer.write([trade(1), trade(2), trade(3)])
    assert ids(writer.backend) == ["t1", "t3"]
    assert writer.state.status == "up"
    [(_, record)] = list(writer.rejected.read())
    assert "Data too long" in record["error"] and record["rows"][0][1]["trade_id"] == "t2"


def test_when_the_spool_cannot_be_written_rows_wait_in_memory(writer, monkeypatch):
    writer.backend.down = True

    def disk_full(records):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer.spool, "append", disk_full)
    writer.write([trade(1)])
    assert writer.state.status == "down" and "No space left" in writer.state.message
    monkeypatch.undo()
    writer.backend.down = False
    writer.write([trade(2)])
    assert ids(writer.backend) == ["t1", "t2"] and writer.state.status == "up"


def test_a_replay_counts_a_packed_minute_as_the_signals_it_holds(writer, clock):
    """A packed minute is a large row: replay chunks stay a few thousand signals, not minutes."""
    minute = [f.signal_update(f"S{i}USDT", 1) for i in range(500)]
    writer.backend.down = True
    for m in range(25):
        writer.write([("signal_minute", {**values, "instance": "default"}) for _, values in signal_minute_rows(minute)]
                     + [trade(m)])
    writer.backend.down = False
    clock[0] += 10
    writer.replay()
    assert writer.state.status == "up" and writer.backend.transactions == 3  # 10 + 10 + 5 minutes
    assert [values["data"] for kind, values in writer.backend.committed if kind == "signal_minute"] \
        == [pack_minute(minute)] * 25
