"""A row whose key is already stored is idempotent only if it is the same row. One with other
content is a conflict: not stored, named (table, key, columns), set aside in the rejected
journal and reported to the operator; the rest of its batch is committed as usual."""
import dataclasses
import json
import logging
from decimal import Decimal

import pytest

from engine.model import Side
from storage.errors import StoreConflict
from storage.rows import rows_for
from tests.storage import db, factories as f
from tests.storage.publishing import count_transactions, publish


def other_price(event, price: str):
    return dataclasses.replace(event, fill=dataclasses.replace(event.fill, price=Decimal(price)))


def rejected(backend) -> list[dict]:
    path = backend.tmp / "journal" / "rejected.jsonl"
    return [json.loads(line[9:]) for line in path.read_bytes().splitlines()] if path.exists() else []


async def test_a_byte_identical_replay_is_no_conflict(store, backend):
    events = [f.fill(1), f.funding("BTCUSDT", 480, "-1.25"), f.order("o1", "filled", 2, exchange_id="X1")]
    audit_rows = rows_for(f.command("pause", 1, symbol="ETHUSDT"), "default")
    await publish(store, *events, *events)
    await publish(store, *events)
    for _ in range(2):  # the same operator action replayed (same event id) is one row
        db.with_backend(backend.url, lambda b: b.write(audit_rows))
    assert [db.count(backend.url, t) for t in ("trades", "funding_payments", "order_history", "audit_log")] == [
        1, 1, 1, 1]
    assert store.status().message == "" and rejected(backend) == []


async def test_a_fill_with_a_known_id_and_other_content_is_set_aside_and_reported(store, backend, caplog):
    await publish(store, f.fill(1, price="50000"))
    caplog.set_level(logging.ERROR, logger="storage")
    await publish(store, f.fill(2), other_price(f.fill(1), "50100"), f.fill(3), f.equity(3, "10000"))
    # The rest of the batch is in; the stored fill is untouched.
    assert db.count(backend.url, "trades") == 3 and db.count(backend.url, "performance") == 1
    [(price,)] = db.rows(backend.url, "SELECT price FROM trades WHERE trade_id = 'tid-1'")
    assert Decimal(str(price)) == Decimal(50000)

    expected = ("trades (instance=default, mode=paper, trade_id=tid-1) is already stored with a different "
                "price, quote_quantity")
    [record] = rejected(backend)
    assert record["error"] == f"conflict: {expected}"
    [(kind, values)] = record["rows"]
    assert kind == "trade" and values["price"] == "50100" and values["trade_id"] == "tid-1"
    status = store.status()
    assert status.status == "up"
    assert status.message == f"1 conflicting row set aside in {backend.tmp / 'journal' / 'rejected.jsonl'}; last: {expected}"
    assert expected in caplog.text and "ERROR" in caplog.text


async def test_conflicting_rows_in_one_batch_and_every_insert_once_table(store, backend):
    await publish(store, f.funding("BTCUSDT", 480, "-1.25"), f.order("o1", "filled", 2, exchange_id="X1"))
    changed_message = dataclasses.replace(f.order("o1", "filled", 2, exchange_id="X1"), message="other text")
    same_without_id = f.order("o1", "filled", 2)  # the exchange id is not known to this update: the same event
    audit = rows_for(f.command("pause", 1), "default")
    db.with_backend(backend.url, lambda b: b.write(audit))
    audit_changed = [("audit", {**audit[0][1], "ok": False})]
    await publish(store, f.fill(7, qty="1"), f.fill(7, qty="2"),  # both new, in one batch: the second conflicts
                  f.funding("BTCUSDT", 480, "-1.30"), changed_message, same_without_id)
    with pytest.raises(StoreConflict) as caught:
        db.with_backend(backend.url, lambda b: b.write(audit_changed))
    assert str(caught.value).endswith("audit_log (instance=default, event_id=" + audit[0][1]["event_id"] +
                                      ") is already stored with a different ok")

    found = {(r["error"].split(" (")[0]) for r in rejected(backend)}
    assert found == {"conflict: trades", "conflict: funding_payments", "conflict: order_history"}
    assert "4 conflicting rows" not in store.status().message and "3 conflicting rows" in store.status().message
    [(qty,)] = db.rows(backend.url, "SELECT quantity FROM trades WHERE trade_id = 'tid-7'")
    assert Decimal(str(qty)) == 1
    [(amount,)] = db.rows(backend.url, "SELECT amount FROM funding_payments")
    assert Decimal(str(amount)) == Decimal("-1.25")
    assert db.rows(backend.url, "SELECT message FROM order_history") == [("filled at 2",)]


async def test_a_batch_with_a_conflict_is_still_one_transaction(store, backend, monkeypatch):
    await publish(store, f.fill(1))
    transactions = count_transactions(store, monkeypatch)
    await publish(store, *[f.fill(i) for i in range(2, 300)], f.fill(1, side=Side.SELL), f.signal("BTCUSDT", 1))
    assert transactions == [300]  # no row-by-row retry: the conflict was found inside the transaction
    assert db.count(backend.url, "trades") == 299 and len(rejected(backend)) == 1


async def test_a_conflict_met_while_replaying_the_spool_is_set_aside_too(backend, outage):
    store = backend.open(outage.url)
    await store.start()
    bus = await publish(store, f.fill(1))
    await outage.cut()
    bus.publish(f.fill(2))
    bus.publish(other_price(f.fill(1), "1"))
    await store.flush()
    assert store.status().status in ("degraded", "down") and store.status().spooled >= 2
    await outage.restore()
    for _ in range(500):  # the writer replays on its own once the database is back
        await store.flush()
        if store.status().spooled == 0:
            break
    assert db.count(backend.url, "trades") == 2
    assert store.status().status == "up" and "1 conflicting row" in store.status().message
    await store.close()
    assert len(rejected(backend)) == 1


async def test_keys_that_only_the_database_thinks_equal_are_a_conflict_too(store, backend):
    upper = f.fill(1)
    upper = dataclasses.replace(upper, fill=dataclasses.replace(upper.fill, trade_id="TID-1"))
    await publish(store, f.fill(1), upper)
    if backend.name == "sqlite":  # keys compare byte for byte: two trades
        assert db.count(backend.url, "trades") == 2 and rejected(backend) == []
        return
    # MariaDB's default collation ignores case: the second row cannot be stored, and says why.
    assert db.count(backend.url, "trades") == 1
    [record] = rejected(backend)
    assert record["error"] == ("conflict: trades (instance=default, mode=paper, trade_id=TID-1) is already stored "
                               "with a different trade_id")
