"""Each kind of engine event lands in its table, once, with the newest state winning."""
import asyncio
import json
from decimal import Decimal

from engine.events import EventBus, StoreStatus
from engine.model import Mode
from storage.migrations.v0001_initial import DETAIL_COLUMNS, FACTOR_COLUMNS
from tests.storage import db, factories as f
from tests.storage.publishing import count_transactions, publish


async def test_signals_keep_every_component(store, backend):
    await publish(store, f.signal("BTCUSDT", 1, 0.3), f.signal("ETHUSDT", 1, warming=True))
    [active] = await store.signal_history("BTCUSDT", 10)
    assert active.final_factor == 0.3 and active.target_factor == 0.3
    assert active.components["raw_factor"] == 0.3 and active.components["flow_weight"] == 0.3 + 12 / 100
    assert active.components["funding_z"] == 1.5 and active.components["target_changed"] is True
    assert active.components["bars_seen"] == 901
    assert set(FACTOR_COLUMNS + DETAIL_COLUMNS) - {"final_factor", "target_factor"} <= set(active.components)
    assert active.target_notional == Decimal("123.45") and active.status == "active"
    [warming] = await store.signal_history("ETHUSDT", 10)
    assert warming.status == "warming" and warming.components["raw_factor"] is None
    assert warming.final_factor == 0.1  # the update's own value while the components are empty


async def test_a_signal_for_the_same_bar_is_replaced(store, backend):
    await publish(store, f.signal("BTCUSDT", 1, 0.1), f.signal("BTCUSDT", 1, 0.2), f.signal("BTCUSDT", 2, 0.4))
    history = await store.signal_history("BTCUSDT", 10)
    assert [s.final_factor for s in history] == [0.2, 0.4]


async def test_fills_are_written_once(store, backend):
    await publish(store, f.fill(1), f.fill(2), f.fill(1))
    await publish(store, f.fill(2), f.fill(1, mode=Mode.TESTNET))
    assert db.count(backend.url, "trades") == 3
    assert [t.trade_id for t in await store.last_trades(10, "paper")] == ["tid-2", "tid-1"]
    assert len(await store.last_trades(10, "testnet")) == 1


async def test_orders_keep_their_newest_status_and_the_history(store, backend):
    await publish(store, f.order("o1", "new", 1), f.order("o1", "sent", 1.5),
                  f.order("o1", "filled", 2, exchange_id="X9"))
    await publish(store, f.order("o1", "new", 1))  # a stale replay of the intent
    await publish(store, f.order("o1", "filled", 2))  # the same status again, without the exchange id
    [(status, exchange_id, created)] = db.rows(backend.url,
                                               "SELECT status, exchange_order_id, created_at FROM orders")
    assert status == "filled" and exchange_id == "X9"
    assert str(created).startswith("2025-03-01 00:01:00")
    history = db.rows(backend.url, "SELECT status FROM order_history ORDER BY timestamp")
    assert [h[0] for h in history] == ["new", "sent", "filled"]


async def test_a_replayed_intent_never_undoes_a_fill_stamped_with_the_same_time(store, backend):
    # The engine stamps an order's intent and its result with the same market time.
    await publish(store, f.order("o2", "new", 5), f.order("o2", "filled", 5, exchange_id="X1"))
    await publish(store, f.order("o2", "new", 5))
    assert db.rows(backend.url, "SELECT status, exchange_order_id FROM orders") == [("filled", "X1")]
    await publish(store, f.order("o3", "new", 6))
    await publish(store, f.order("o3", "new", 6))  # the same intent twice: one order, one history row
    assert db.count(backend.url, "orders") == 2 and db.count(backend.url, "order_history") == 3


async def test_positions_upsert_per_symbol_and_mode(store, backend):
    await publish(store, f.position("BTCUSDT", "0.01", 1), f.position("BTCUSDT", "0.03", 2),
                  f.position("BTCUSDT", "0.02", 1.5), f.position("ETHUSDT", "-1", 1),
                  f.position("BTCUSDT", "0.5", 1, mode=Mode.TESTNET))
    held = {p.symbol: p.quantity for p in await store.positions("paper")}
    assert held == {"BTCUSDT": Decimal("0.03"), "ETHUSDT": Decimal("-1")}  # the older update lost
    assert db.count(backend.url, "positions") == 3
    await publish(store, f.position("ETHUSDT", "0", 3))
    assert [p.symbol for p in await store.positions("paper")] == ["BTCUSDT"]  # flat positions are not shown


async def test_equity_points_are_unique_per_mode_and_time(store, backend):
    await publish(store, f.equity(1, "10000"), f.equity(2, "10010", trades=3), f.equity(2, "10020", trades=4),
                  f.equity(2, "9000", mode=Mode.TESTNET))
    points = await store.equity_history("paper", 10)
    assert [(p.equity, p.trade_count) for p in points] == [(Decimal(10000), 0), (Decimal(10020), 4)]
    [(funding_col,)] = db.rows(backend.url, "SELECT funding_cumulative FROM performance WHERE mode = 'testnet'")
    assert Decimal(str(funding_col)) == 0


async def test_funding_audit_and_engine_state(store, backend):
    await publish(store, f.funding("BTCUSDT", 480, "-1.25"), f.funding("BTCUSDT", 480, "-1.25"),
                  f.command("pause", 1, symbol="ETHUSDT"),
                  f.command("reconcile", 2, ok=False, symbol="SOLUSDT", details={"venue": "0.1", "store": "0"}),
                  f.engine_state(1, paused=frozenset({"ETHUSDT"})),
                  f.engine_state(3, halted=True, reason="daily loss", paused=frozenset({"ETHUSDT", "SOLUSDT"})),
                  f.engine_state(2))  # older: ignored
    assert db.count(backend.url, "funding_payments") == 1
    audit = await store.recent_audit(10)
    assert [(a.command, a.ok, a.symbol) for a in audit] == [("reconcile", False, "SOLUSDT"), ("pause", True, "ETHUSDT")]
    [(details,)] = db.rows(backend.url, "SELECT details FROM audit_log WHERE command = 'reconcile'")
    assert json.loads(details) == {"store": "0", "venue": "0.1"}
    controls = await store.load_controls()
    assert controls.halted and controls.halt_reason == "daily loss"
    assert controls.paused == {"ETHUSDT", "SOLUSDT"} and controls.mode == "paper"


async def test_the_writer_task_writes_without_being_asked(store, backend):
    bus = EventBus()
    seen = bus.subscribe("desk", coalesce=False)
    store.attach(bus)  # starts the writer task
    for i in range(50):
        bus.publish(f.fill(i))
    for _ in range(3000):  # only a guard against a hang: the task writes on its own, soon
        await asyncio.sleep(0.01)
        if db.count(backend.url, "trades") == 50:
            break
    assert db.count(backend.url, "trades") == 50
    await store.close()  # the writer stops when the store closes
    assert [e for e in seen.drain() if isinstance(e, StoreStatus)] == [StoreStatus("up")]


async def test_a_malformed_event_costs_only_itself(store, backend, caplog):
    await publish(store, f.fill(1), f.fill(2, fee="1e30"), f.fill(3))
    assert db.count(backend.url, "trades") == 2
    assert "trades.commission" in caplog.text


async def test_a_burst_is_one_transaction(store, backend, monkeypatch):
    transactions = count_transactions(store, monkeypatch)
    events = [f.signal(f"S{i}USDT", 1) for i in range(500)] + [f.fill(i) for i in range(100)]
    await publish(store, *events)
    assert transactions == [101]  # a packed minute of 500 signals, 100 fills
    # The 500 signals of the minute are one packed row.
    assert db.count(backend.url, "signal_minutes") == 1 and db.count(backend.url, "trades") == 100
    assert sorted(s for s, _, _ in db.stored_signals(backend.url)) == sorted(f"S{i}USDT" for i in range(500))
