"""Money goes in and comes out exactly, on both backends."""
import json
import random
from dataclasses import replace
from decimal import Decimal

from engine.events import EventBus
from engine.model import Side
from storage.codec import money, to_decimal
from tests.storage import db, factories as f
from tests.storage.publishing import publish

EDGES = ["0", "0.00000001", "-0.00000001", "0.000000000000000001", "-0.000000000000000001",
         "99999999999999999999.999999999999999999", "-99999999999999999999.999999999999999999",
         "1000000.12345678", "123456.78901234", "0.1", "0.3", "1E+6", "5E-8", "42"]


def samples(n: int = 60) -> list[Decimal]:
    rng = random.Random(7)
    out = [Decimal(s) for s in EDGES]
    for _ in range(n):
        digits = rng.randint(0, 20)
        places = rng.randint(0, 18)
        whole = rng.randrange(10 ** digits) if digits else 0
        frac = rng.randrange(10 ** places) if places else 0
        sign = rng.choice((1, -1))
        out.append(sign * (Decimal(whole) + Decimal(frac).scaleb(-places)))
    return out


async def test_fill_money_round_trips_exactly(store, backend):
    values = samples()
    bus = EventBus()
    store.attach(bus)
    for i, v in enumerate(values):
        bus.publish(f.fill(i, qty=str(v.copy_abs() or 1), price="1", fee=str(v), pnl=str(v)))
    await store.flush()
    stored = db.rows(backend.url, "SELECT trade_id, commission, realized_pnl, quantity FROM trades")
    by_id = {tid: (to_decimal(fee), to_decimal(pnl), to_decimal(qty)) for tid, fee, pnl, qty in stored}
    for i, v in enumerate(values):
        fee, pnl, qty = by_id[f"tid-{i}"]
        assert fee == v and pnl == v and qty == (v.copy_abs() or 1), (i, v)
        assert str(fee) == str(money(v))  # the same canonical text on both backends
    trades = await store.last_trades(len(values), "paper")
    assert sorted(t.fee for t in trades) == sorted(values)


async def test_position_equity_and_funding_round_trip(store):
    price = Decimal("67123.45678912")
    qty = Decimal("-0.00012345")
    await publish(store, f.position("BTCUSDT", str(qty), 1, entry=str(price), mark="67123.5"),
                  f.equity(1, "10001.123456789012345678"), f.funding("BTCUSDT", 1, "-0.000000000000000001"))
    [pos] = await store.positions("paper")
    assert (pos.quantity, pos.entry_price, pos.mark_price) == (qty, price, Decimal("67123.5"))
    assert pos.unrealized_pnl == (Decimal("67123.5") - price) * qty
    [point] = await store.equity_history("paper", 5)
    assert point.equity == Decimal("10001.123456789012345678")
    state = await store.load_state("paper")
    assert state.funding == Decimal("-1E-18")


async def test_more_than_18_places_round_the_same_on_both(store, backend):
    await publish(store, f.fill(1, fee="0.0000000000000000015", pnl="2.0000000000000000025"))
    [(fee, pnl)] = db.rows(backend.url, "SELECT commission, realized_pnl FROM trades")
    assert to_decimal(fee) == Decimal("0.000000000000000002")
    assert to_decimal(pnl) == Decimal("2.000000000000000002")


async def test_quote_quantity_is_exact(store, backend):
    await publish(store, f.fill(1, side=Side.SELL, qty="0.00000001", price="1000000.12345678"))
    [(quote,)] = db.rows(backend.url, "SELECT quote_quantity FROM trades")
    assert to_decimal(quote) == Decimal("0.0100000012345678")


AWKWARD = "it's a \"quote\" \\ back\\slash\nnew line\r\t tab \x00 nul \x1a ctrl-z; DROP TABLE trades; -- é ✓ 🚀"


async def test_text_round_trips_exactly(store, backend):
    await publish(store, replace(f.order("o-'\\1", "rejected", 1), message=AWKWARD), f.command("flatten", 1, ok=False, symbol="BTCUSDT", details={"why": AWKWARD}))
    [(cid, message)] = db.rows(backend.url, "SELECT client_order_id, message FROM orders")
    assert (cid, message) == ("o-'\\1", AWKWARD)
    [audit] = await store.recent_audit(5)
    assert audit.message == "flatten done"
    [(details,)] = db.rows(backend.url, "SELECT details FROM audit_log")
    assert json.loads(details) == {"why": AWKWARD}
    assert db.count(backend.url, "trades") == 0  # the text stayed text
