import math
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest

from engine.feeds.base import FeedError
from engine.feeds.sim import EPOCH, SimFeed, first_live_bar
from engine.feeds.sim_specs import KNOWN, generated_spec, spec_for
from tests.engine.support import make_config


async def live_bars(feed: SimFeed, n: int) -> list[list]:
    out = []
    async for bars in feed.stream():
        out.append(bars)
        if len(out) == n:
            break
    return out


async def started(symbols, seed=7, warmup=50) -> SimFeed:
    feed = SimFeed(make_config(universe={"symbol_list": symbols}, sim={"seed": seed, "warmup_bars": warmup}),
                   paced=False)
    await feed.start()
    return feed


async def closes(symbols, seed=7, n=30, symbol="BTCUSDT"):
    feed = await started(symbols, seed)
    minutes = await live_bars(feed, n)
    return [b.close for bars in minutes for b in bars if b.symbol == symbol]


async def test_same_seed_same_market_and_independent_of_the_universe():
    alone = await closes(["BTCUSDT"])
    assert alone == await closes(["BTCUSDT"])
    assert alone == await closes(["ETHUSDT", "BTCUSDT", "SOLUSDT"])
    assert alone != await closes(["BTCUSDT"], seed=8)


async def test_warmup_history_ends_where_the_live_clock_starts():
    feed = await started(["BTCUSDT", "ETHUSDT"], seed=42, warmup=120)
    history = await feed.warmup("ETHUSDT", 1000)
    assert len(history) == 120
    start = first_live_bar(42)
    assert start == EPOCH + timedelta(hours=42 % 8)
    assert history[-1].ts == start - timedelta(minutes=1)
    assert all(b.ts - a.ts == timedelta(minutes=1) for a, b in zip(history, history[1:]))
    (first,) = await live_bars(feed, 1)
    assert {b.ts for b in first} == {start} and feed.now() == start + timedelta(minutes=1)
    assert len(await feed.warmup("ETHUSDT", 10)) == 10
    with pytest.raises(FeedError, match="NOPEUSDT"):
        await feed.warmup("NOPEUSDT", 10)


async def test_bars_are_well_formed_on_the_exchange_grid():
    feed = await started(list(KNOWN), warmup=0)
    instruments = {s: spec.instrument for s, spec in KNOWN.items()}
    for bars in await live_bars(feed, 300):
        for b in bars:
            assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
            assert 0 <= b.taker_buy_volume <= b.volume and b.volume > 0
            assert abs(b.funding_rate) <= 0.0075
            tick = instruments[b.symbol].tick_size
            assert Decimal(repr(b.close)) % tick == 0, (b.symbol, b.close)


async def test_market_character_regimes_clusters_jumps_funding_and_flow():
    feed = await started(["BTCUSDT"], warmup=0)
    bars = [m[0] for m in await live_bars(feed, 6000)]
    close = np.array([b.close for b in bars])
    ret = np.diff(np.log(close))
    share = np.array([b.taker_buy_volume / b.volume for b in bars[1:]])
    assert np.corrcoef(ret, share)[0, 1] > 0.3  # taker buying leans with returns
    absret = np.abs(ret)
    assert np.corrcoef(absret[1:], absret[:-1])[0, 1] > 0.05  # volatility clusters
    kurtosis = ((ret - ret.mean()) ** 4).mean() / ret.var() ** 2
    assert kurtosis > 3.5  # fat tails from regimes and jumps
    funding = np.array([b.funding_rate for b in bars])
    assert np.all(funding != 0) and funding.std() > 0 and np.abs(np.diff(funding)).max() < 1e-3
    assert 0.5 < close[-1] / close[0] < 2  # realistic price levels over four simulated days


def test_known_specs_are_realistic_and_unknown_symbols_get_plausible_ones():
    btc = spec_for("BTCUSDT").instrument
    assert btc.step_size == Decimal("0.001") and btc.min_notional == Decimal(100)
    names = [f"SYN{i}USDT" for i in range(500)]
    specs = [spec_for(n) for n in names]
    assert [s.price for s in specs] == [generated_spec(n).price for n in names]
    for s in specs:
        inst = s.instrument
        assert 0.0009 < s.price < 1100 and 0.03 <= s.daily_vol <= 0.1
        assert inst.min_notional in (5, 10, 20) and inst.step_size > 0 and inst.tick_size > 0
        assert Decimal("0.05") <= inst.step_size * Decimal(repr(s.price)) <= Decimal("1.5")
        assert Decimal("0.00001") <= inst.tick_size / Decimal(repr(s.price)) <= Decimal("0.001")
    rules = {(s.instrument.tick_size, s.instrument.step_size, s.instrument.min_notional) for s in specs}
    assert len(rules) > 20 and len({s.instrument.min_notional for s in specs}) == 3
    assert len({s.daily_vol for s in specs}) == len(specs)


def test_universe_all_gives_the_sim_markets_generated_universe():
    default = SimFeed(make_config(), paced=False)
    assert default.symbols == list(KNOWN)  # `list` keeps its 8 well-known symbols
    everything = SimFeed(make_config(universe={"type": "all"}), paced=False)
    assert len(everything.symbols) == 500 == len(set(everything.symbols))
    assert everything.symbols[:8] == list(KNOWN) and all(s.isalnum() and s.endswith("USDT")
                                                         for s in everything.symbols)
    some = SimFeed(make_config(universe={"type": "all", "exclude_symbols": ["ETHUSDT"]}, sim={"symbols": 100}),
                   paced=False)
    assert len(some.symbols) == 99 and "ETHUSDT" not in some.symbols
    assert some.symbols == [s for s in everything.symbols[:100] if s != "ETHUSDT"]


async def test_500_synthetic_symbols_stream():
    feed = await started([f"SYN{i}USDT" for i in range(500)], warmup=5)
    (bars,) = await live_bars(feed, 1)
    assert len(bars) == 500 and all(b.close > 0 for b in bars)


async def test_injected_faults():
    feed = await started(["BTCUSDT", "ETHUSDT"], warmup=5)
    feed.inject("gap", "ETHUSDT", bars=2)
    feed.inject("bad", "BTCUSDT")
    first, second, third = await live_bars(feed, 3)
    assert [b.symbol for b in first] == ["BTCUSDT"] and math.isnan(first[0].close)
    assert [b.symbol for b in second] == ["BTCUSDT"] and second[0].close > 0
    assert [b.symbol for b in third] == ["BTCUSDT", "ETHUSDT"]
    feed.inject("stale", "ETHUSDT")
    (stale,) = await live_bars(feed, 1)
    eth = stale[1]
    assert eth.volume == 0 and eth.open == eth.close == eth.high == eth.low == third[1].close
    assert feed.status == "stale"
    await live_bars(feed, 1)
    assert feed.status == "live"
    with pytest.raises(ValueError, match="unknown fault"):
        feed.inject("meteor", "BTCUSDT")


async def test_close_ends_the_stream():
    feed = await started(["BTCUSDT"], warmup=0)
    got = []
    async for bars in feed.stream():
        got.append(bars)
        await feed.close()
    assert len(got) == 1 and feed.status == "stopped"


async def test_a_restarted_market_continues_after_the_last_stored_bar():
    from engine.engine import Engine
    from engine.events import EventBus, SignalBatch
    from engine.secrets import Secrets
    from engine.store import RestoredState
    from engine.venues.paper import PaperVenue
    from tests.engine.support import StoreStub

    config = make_config(universe={"symbol_list": ["BTCUSDT"]}, sim={"seed": 42, "warmup_bars": 50})
    last_stored = first_live_bar(42) + timedelta(days=3, minutes=17)
    store = StoreStub(state={"paper": RestoredState(mode="paper", equity_tail=[(last_stored, Decimal(10000))])})
    feed = SimFeed(config, paced=False)
    bus = EventBus()
    sub = bus.subscribe("test", coalesce=False)
    engine = Engine(config, feed=feed, venue_factory=lambda mode: PaperVenue(config.paper, feed.last_price,
                                                                             clock=lambda: engine.market_time()),
                    bus=bus, secrets=Secrets.load(environ={}), store=store)
    await engine.run(max_bars=2)
    live_batches = [e for e in sub.drain() if isinstance(e, SignalBatch)][1:]  # the first ends the warm-up
    bar_times = [b.ts - timedelta(minutes=1) for b in live_batches]  # stamped at the bar's close
    assert bar_times == [last_stored + timedelta(minutes=1), last_stored + timedelta(minutes=2)]  # a minute on
    with pytest.raises(FeedError, match="already started"):
        feed.resume_after(last_stored)


async def test_a_resumed_market_starts_from_the_recorded_closes_with_moves_of_its_own():
    config = make_config(universe={"symbol_list": ["BTCUSDT", "ETHUSDT"]}, sim={"seed": 42, "warmup_bars": 60})
    fresh = SimFeed(config, paced=False)
    await fresh.start()
    fresh_history = await fresh.warmup("BTCUSDT", 60)
    fresh_bars = await live_bars(fresh, 5)

    last_stored = first_live_bar(42) + timedelta(hours=5, minutes=3, seconds=20)
    resumed = SimFeed(config, paced=False)
    resumed.resume_after(last_stored)
    resumed.carry_on_from({"BTCUSDT": (51234.5, 0.00031), "NOPEUSDT": (1.0, None)})
    await resumed.start()
    history = await resumed.warmup("BTCUSDT", 60)
    assert history[-1].close == 51234.5  # the open position goes on from its last mark
    assert (await resumed.warmup("ETHUSDT", 1))[-1].close != 51234.5  # a symbol with no record: its own
    bars = await live_bars(resumed, 5)
    assert bars[0][0].ts == last_stored.replace(second=0) + timedelta(minutes=1)  # after the record
    assert bars[0][0].open == 51234.5
    assert {b.funding_rate for b in history} == {0.00031}  # no funding time since the record: carried
    assert {m[0].funding_rate for m in bars} == {0.00031}
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for bars_ in bars for b in bars_)
    moves = [b.close / a.close for a, b in zip(history, history[1:])]
    fresh_moves = [b.close / a.close for a, b in zip(fresh_history, fresh_history[1:])]
    assert moves != fresh_moves  # not the earlier session's market again
    assert [m[0].close for m in bars] != [m[0].close for m in fresh_bars]

    again = SimFeed(config, paced=False)  # and it is still the same seed's market: reproducible
    again.resume_after(last_stored)
    again.carry_on_from({"BTCUSDT": (51234.5, 0.00031)})
    await again.start()
    assert [m[0].close for m in await live_bars(again, 5)] == [m[0].close for m in bars]
