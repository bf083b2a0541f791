"""The journal: durable appends, a torn tail cut off, and replays that never duplicate."""
import shutil

from engine.events import EventBus
from storage.journal import Journal
from tests.storage import db, factories as f
from tests.storage.scenario import trading_events


def test_records_come_back_in_order(tmp_path):
    j = Journal(tmp_path / "j.jsonl")
    j.append([{"n": 1}, {"n": 2}])
    j.append([{"n": 3}])
    assert [r["n"] for _, r in j.read()] == [1, 2, 3]
    offsets = [end for end, _ in j.read()]
    assert [r["n"] for _, r in j.read(offsets[0])] == [2, 3]
    j.close()


def test_a_torn_last_line_is_cut_off(tmp_path, caplog):
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    j.append([{"n": 1}, {"n": 2}])
    j.close()
    whole = path.read_bytes()
    path.write_bytes(whole + whole[:15])  # a third record, cut mid-write by a crash
    j = Journal(path)
    assert [r["n"] for _, r in j.read()] == [1, 2] and j.records == 2
    assert path.read_bytes() == whole and "damaged tail" in caplog.text
    j.append([{"n": 3}])  # appends follow the last whole record
    assert [r["n"] for _, r in j.read()] == [1, 2, 3]
    j.close()


def test_a_corrupted_line_fails_its_checksum(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    j.append([{"n": 1}, {"n": 2}])
    j.close()
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # a flipped bit in the second record
    path.write_bytes(bytes(data))
    assert [r["n"] for _, r in Journal(path).read()] == [1]


def test_clearing_waits_for_later_appends(tmp_path):
    j = Journal(tmp_path / "j.jsonl")
    j.append([{"n": 1}])
    size = j.size
    j.append([{"n": 2}])
    assert not j.clear_if_unchanged(size)
    assert j.clear_if_unchanged(j.size) and j.size == 0 and list(j.read()) == []
    j.close()


async def test_replaying_a_spool_twice_adds_nothing(backend, outage):
    store = backend.open(outage.url, timeout_s=0.3)
    await store.start()
    bus = EventBus()
    store.attach(bus)
    await outage.cut()
    events, _ = trading_events(0, 60)
    events += [f.order("o1", "new", 1), f.order("o1", "filled", 2), f.command("pause", 3, symbol="BTCUSDT"),
               f.funding("BTCUSDT", 480, "0.5"), f.engine_state(4, halted=True)]
    for e in events:
        bus.publish(e)
    await store.flush()
    assert store.status().status == "degraded"
    spool = backend.tmp / "journal" / "spool.jsonl"
    shutil.copy(spool, backend.tmp / "spool-copy.jsonl")
    await store.close()  # still cut off: the spool stays for the next start
    await outage.restore()

    tables = ("trades", "positions", "signal_minutes", "performance", "orders", "order_history", "audit_log",
              "funding_payments", "engine_state")
    counts = []
    for _ in range(2):
        store = backend.open()
        await store.start()  # replays the spool left behind
        assert store.status().status == "up"
        await store.close()
        counts.append({t: db.count(backend.url, t) for t in tables})
        shutil.copy(backend.tmp / "spool-copy.jsonl", spool)  # the same spool again
    assert counts[0] == counts[1]
    assert counts[0] == {"trades": 60, "positions": 3, "signal_minutes": 60, "performance": 60, "orders": 1,
                         "order_history": 2, "audit_log": 1, "funding_payments": 1, "engine_state": 1}
