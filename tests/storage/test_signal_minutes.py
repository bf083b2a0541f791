"""Packed signal minutes give back every value exactly as the engine sent it, for any stored bar."""
import json
import math
import random
import struct
from decimal import Decimal

from engine.events import EventBus, SignalBatch, SignalUpdate
from storage.rows import rows_for_events, signal_minute_rows
from storage.signal_pack import COMPONENT_COLUMNS, Minute, pack_minute
from storage.writer import decode_rows, encode_rows
from tests.storage import db, factories as f
from tests.storage.publishing import publish

SYMBOLS = [f"S{i:03d}USDT" for i in range(60)]
MINUTES = 30


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def random_update(symbol: str, minute: int, rng: random.Random) -> SignalUpdate:
    """Full-precision values of every magnitude, the odd missing one, booleans and counts."""
    components = {name: rng.choice((rng.gauss(0, 1), rng.uniform(-1e-9, 1e-9), rng.uniform(-1e6, 1e6), 0.0))
                  for name in COMPONENT_COLUMNS}
    components["mr_signal"] = None if rng.random() < 0.2 else components["mr_signal"]
    components["target_changed"] = rng.random() < 0.5
    components["bars_seen"] = 900 + minute
    notional = Decimal(rng.randrange(-10 ** 12, 10 ** 12)).scaleb(-rng.randrange(0, 18))
    return SignalUpdate(symbol, f.at(minute), rng.uniform(0.001, 1e5), rng.gauss(0, 0.01), "active", 1.0,
                        components, components["final_factor"], components["target_factor"],
                        notional, Decimal("-97.63236"))


def written(seed: int = 7) -> dict[tuple[str, int], SignalUpdate]:
    rng = random.Random(seed)
    return {(s, m): random_update(s, m, rng) for m in range(MINUTES) for s in SYMBOLS}


def batch(sent: dict[tuple[str, int], SignalUpdate], minute: int) -> SignalBatch:
    return SignalBatch(f.at(minute), tuple(sent[(s, minute)] for s in SYMBOLS))


def assert_same(update: SignalUpdate, values: dict) -> None:
    for name in COMPONENT_COLUMNS:
        sent, got = update.components[name], values[name]
        if sent is None or isinstance(sent, bool):
            assert got is sent, name
        elif name == "bars_seen":
            assert got == sent and type(got) is int
        else:
            assert bits(got) == bits(sent), (name, sent, got)
    assert bits(values["price"]) == bits(update.price) and bits(values["bar_return"]) == bits(update.ret)
    assert values["target_position_usd"] == update.target_notional
    assert values["current_position_usd"] == update.current_notional and values["status"] == update.status


def test_a_minute_unpacks_bit_for_bit():
    sent = written()
    minute = [sent[(s, 3)] for s in SYMBOLS]
    unpacked = Minute(pack_minute(minute))
    assert unpacked.symbols == SYMBOLS
    for i, update in enumerate(minute):
        assert_same(update, unpacked.values(i))


def test_what_cannot_be_stored_as_a_number_comes_back_missing():
    update = f.signal_update("BTCUSDT", 1)
    update = update._replace(components={**update.components, "raw_factor": math.inf, "returns": math.nan})
    values = Minute(pack_minute([update])).values(0)
    assert values["raw_factor"] is None and values["returns"] is None and values["funding_z"] == 1.5


def test_a_warming_minute_keeps_the_updates_own_factors():
    values = Minute(pack_minute([f.signal_update("ETHUSDT", 1, 0.25, warming=True)])).values(0)
    assert values["final_factor"] == 0.25 and values["target_factor"] == 0.25
    assert values["raw_factor"] is None and values["target_changed"] is None and values["bars_seen"] is None
    assert values["status"] == "warming" and values["progress"] == 0.5


def test_a_minutes_signals_make_one_row_and_survive_the_spool():
    sent = written()
    rows = rows_for_events([batch(sent, 0), f.fill(1)], "default")
    assert sorted(kind for kind, _ in rows) == ["signal_minute", "trade"]
    [(kind, values)] = [r for r in rows if r[0] == "signal_minute"]
    assert values["symbols"] == len(SYMBOLS) and values["first_symbol"] == SYMBOLS[0]
    spooled = json.loads(json.dumps(encode_rows(rows), default=str))  # as the spool journal writes it
    [(_, replayed)] = [r for r in decode_rows(spooled) if r[0] == "signal_minute"]
    assert replayed == values  # the packed value goes through the JSON spool as base64 and back
    assert signal_minute_rows([]) == []


async def test_any_stored_bar_reads_back_exactly(store, backend):
    sent = written()
    bus = EventBus()
    store.attach(bus)
    for m in range(MINUTES):
        bus.publish(batch(sent, m))
        await store.flush()
    assert db.count(backend.url, "signal_minutes") == MINUTES
    for symbol in (SYMBOLS[0], SYMBOLS[37], SYMBOLS[-1]):
        history = await store.signal_history(symbol, MINUTES)
        assert [r.ts for r in history] == [f.at(m) for m in range(MINUTES)]
        for m, record in enumerate(history):
            update = sent[(symbol, m)]
            values = {**record.components, "price": record.price, "final_factor": record.final_factor,
                      "target_factor": record.target_factor, "status": record.status,
                      "target_position_usd": record.target_notional, "current_position_usd": record.current_notional}
            assert_same(update, values)
    assert [r.ts for r in await store.signal_history(SYMBOLS[5], 4)] == [f.at(m) for m in range(MINUTES - 4, MINUTES)]
    latest = await store.latest_signals()
    assert [r.symbol for r in latest] == sorted(SYMBOLS) and {r.ts for r in latest} == {f.at(MINUTES - 1)}
    sent_last = {s: sent[(s, MINUTES - 1)] for s in SYMBOLS}
    last = await store.last_market()  # where a restarted simulated market carries on from
    assert last == {s: (u.price, u.components["funding_rate"]) for s, u in sent_last.items()}


async def test_a_minute_written_in_two_parts_keeps_both(store, backend):
    bus = await publish(store, f.signal("BTCUSDT", 1, 0.1))
    bus.publish(f.signal("ETHUSDT", 1, 0.2))
    await store.flush()
    assert db.count(backend.url, "signal_minutes") == 2
    assert [r.final_factor for r in await store.latest_signals()] == [0.1, 0.2]
    assert [r.final_factor for r in await store.signal_history("ETHUSDT", 5)] == [0.2]


async def test_the_chart_history_comes_from_the_packed_minutes(store, backend):
    bus = EventBus()
    store.attach(bus)
    for m in range(5):
        bus.publish(f.signal("BTCUSDT", m, 0.1 * m))
        bus.publish(f.signal("ETHUSDT", m, -0.1, warming=m < 2))
    await store.flush()
    chart = await store.chart_history(3)
    assert chart["BTCUSDT"] == [(f.at(m), 100.0 + m, 0.1 * m) for m in (2, 3, 4)]
    assert [ts for ts, _, _ in chart["ETHUSDT"]] == [f.at(m) for m in (2, 3, 4)]


def test_two_batches_of_one_minute_pack_into_one_row_with_the_newer_word_per_symbol():
    sent = written()
    newer = sent[(SYMBOLS[0], 0)]._replace(status="paused")
    rows = rows_for_events([batch(sent, 0), SignalBatch(f.at(0), (newer,))], "default")
    [(_, values)] = rows
    unpacked = Minute(values["data"])
    assert values["symbols"] == len(SYMBOLS) and unpacked.symbols == SYMBOLS
    assert unpacked.values(0)["status"] == "paused"


def test_a_panels_rows_pack_exactly_as_their_plain_mappings():
    """The writer reads a panel cycle's arrays in one go; the bytes must equal value by value."""
    import numpy as np

    from storage.signal_pack import float_matrix
    from strategy.panel_row import CycleTable, PanelRow
    from strategy.schema import FLOAT_KEYS

    rng = np.random.default_rng(3)
    n = 40
    table = rng.normal(size=(len(FLOAT_KEYS), n)) * 10.0 ** rng.integers(-9, 9, size=(len(FLOAT_KEYS), n))
    table[rng.random(table.shape) < 0.1] = np.nan
    cycle = CycleTable(table, [f.at(1)] * n, rng.random(n) < 0.5, rng.integers(0, 5000, n))
    rows = [PanelRow(cycle, i) for i in range(n)]
    lazy = [SignalUpdate(f"S{i:03d}USDT", f.at(1), 100.0 + i, 0.001, "active", 1.0, row,
                         row["final_factor"], row["target_factor"], Decimal(i), Decimal(0))
            for i, row in enumerate(rows)]
    lazy[5] = lazy[5]._replace(components={})  # a symbol still warming up, among the panel's
    plain = [u._replace(components=dict(u.components)) for u in lazy]
    assert float_matrix(lazy).tobytes() == float_matrix(plain).tobytes()
    assert pack_minute(lazy) == pack_minute(plain)
