"""Kline parsing, funding onto bars, taker flow buckets and the bar sequencer (no network)."""
from datetime import datetime, timezone

from engine.feeds.binance_bars import MINUTE_MS, BarSequencer, TakerFlow, bar_from_event, bar_from_row
from engine.feeds.binance_funding import FUNDING_PERIOD_MS, SettledFunding
from engine.model import Bar

T0 = 1_700_000_040_000  # a minute boundary


def bar(symbol: str, minute: int, close: float = 1.0) -> Bar:
    ts = datetime.fromtimestamp((T0 + minute * MINUTE_MS) / 1000, tz=timezone.utc)
    return Bar(symbol, ts, 1.0, 1.0, 1.0, close, 10.0, 5.0, 0.0)


def test_rest_row_and_stream_event_give_the_same_bar():
    row = [T0, "1.5", "2.5", "1.0", "2.0", "100", T0 + 59_999, "150", 7, "60", "90", "0"]
    event = {"t": T0, "s": "BTCUSDT", "o": "1.5", "h": "2.5", "l": "1.0", "c": "2.0", "v": "100", "V": "60", "x": True}
    a, b = bar_from_row("BTCUSDT", row, 0.001), bar_from_event(event, 0.001)
    assert a == b
    assert a.taker_buy_volume == 60.0 and a.ts == datetime.fromtimestamp(T0 / 1000, tz=timezone.utc)
    assert bar_from_event(event, 0.0, taker_buy=42.0).taker_buy_volume == 42.0


def test_funding_is_carried_forward_and_back_filled_at_the_start():
    funding = SettledFunding()
    opens = [T0, T0 + 10 * MINUTE_MS, T0 + 15 * MINUTE_MS, T0 + 25 * MINUTE_MS]
    assert [funding.rate_at("BTCUSDT", t) for t in opens] == [0.0] * 4
    funding.add("BTCUSDT", [(T0 + 10 * MINUTE_MS, 0.01), (T0 + 20 * MINUTE_MS, 0.02)])
    assert [funding.rate_at("BTCUSDT", t) for t in opens] == [0.01, 0.01, 0.01, 0.02]


def test_a_settlement_is_asked_for_once_due_and_its_estimate_stands_in_until_published():
    funding = SettledFunding()
    settled = T0 + 5 * MINUTE_MS
    funding.add("BTCUSDT", [(settled, 0.01)])
    due = settled + FUNDING_PERIOD_MS
    funding.note_mark("BTCUSDT", due, 0.03)  # the estimate while the period runs
    funding.note_mark("BTCUSDT", due, 0.02)  # the last estimate before the funding time
    assert not funding.should_ask("BTCUSDT", due - MINUTE_MS)
    assert funding.rate_at("BTCUSDT", due - MINUTE_MS) == 0.01  # the estimate is not a settlement
    funding.note_mark("BTCUSDT", due + FUNDING_PERIOD_MS, 0.05)  # the next period's estimate starts
    assert funding.rate_at("BTCUSDT", due) == 0.02  # not published yet: the estimate just before it
    asks = [funding.should_ask("BTCUSDT", due + n * MINUTE_MS) for n in range(7)]
    assert asks == [True] * 5 + [False] * 2  # a settlement that never appears is not asked for forever
    funding.add("BTCUSDT", [(due, 0.019)])
    assert funding.rate_at("BTCUSDT", due) == 0.019 and funding.rate_at("BTCUSDT", due - MINUTE_MS) == 0.01
    assert not funding.should_ask("BTCUSDT", due + MINUTE_MS)


def test_taker_flow_sums_taker_buys_per_minute():
    flow = TakerFlow(keep_minutes=2)
    flow.add("BTCUSDT", T0 + 1_000, 3.0, buyer_is_maker=False)
    flow.add("BTCUSDT", T0 + 59_000, 4.0, buyer_is_maker=False)
    flow.add("BTCUSDT", T0 + 30_000, 5.0, buyer_is_maker=True)  # a taker sell
    flow.add("BTCUSDT", T0 + MINUTE_MS, 1.0, buyer_is_maker=True)
    assert flow.taker_buy("BTCUSDT", T0) == 7.0
    assert flow.taker_buy("BTCUSDT", T0 + MINUTE_MS) == 0.0  # seen, but no taker buys
    assert flow.taker_buy("BTCUSDT", T0 + 2 * MINUTE_MS) is None  # never seen
    flow.add("BTCUSDT", T0 + 2 * MINUTE_MS, 1.0, buyer_is_maker=False)
    assert flow.taker_buy("BTCUSDT", T0) is None  # pruned


def test_sequencer_verdicts():
    seq = BarSequencer(["A"], wait_s=1.0)
    assert seq.verdict("A", T0) == "ok"  # nothing known yet
    seq.last["A"] = T0
    assert seq.verdict("A", T0 + MINUTE_MS) == "ok"
    assert seq.verdict("A", T0) == "stale"
    assert seq.verdict("A", T0 - MINUTE_MS) == "stale"
    assert seq.verdict("A", T0 + 3 * MINUTE_MS) == "gap"


def test_sequencer_releases_complete_minutes_in_order_and_drops_repeats():
    seq = BarSequencer(["A", "B"], wait_s=1.0)
    assert seq.add(bar("B", 0), now=0.0) and seq.add(bar("A", 0), now=0.0)
    assert not seq.add(bar("A", 0), now=0.0)  # duplicate
    assert seq.dropped == 1
    assert seq.add(bar("A", 1), now=0.1)
    groups = seq.release(now=0.1)
    assert [[b.symbol for b in g] for g in groups] == [["A", "B"]]  # universe order, minute 0 only
    assert seq.next_deadline() == 1.1


def test_sequencer_releases_an_incomplete_minute_after_waiting():
    seq = BarSequencer(["A", "B"], wait_s=1.0)
    seq.add(bar("A", 0), now=0.0)
    assert seq.release(now=0.5) == []
    assert [[b.symbol for b in g] for g in seq.release(now=1.0)] == [["A"]]
    # B's bar for that minute turns up late (a backfill): released at once, still in time order
    seq.add(bar("B", 0), now=1.2)
    assert [[b.symbol for b in g] for g in seq.release(now=1.2)] == [["B"]]
