import pytest

from engine.config import ConfigError
from engine.events import EventBus, FillEvent
from engine.feeds.replay import ReplayFeed
from engine.feeds.sim import SimFeed
from engine.model import Mode
from engine.venues.paper import PaperVenue
from engine.wiring import build_engine
from tests.engine.support import NO_SECRETS, make_config
from tests.engine.test_replay_feed import HEADER, row


def test_the_sim_market_gets_enough_history_for_the_strategy():
    engine = build_engine(make_config(sim={"warmup_bars": 5}), NO_SECRETS, EventBus())
    assert isinstance(engine.feed, SimFeed) and engine.feed.warmup_bars == 210
    assert engine.market == "sim" and engine.mode is Mode.PAPER
    venue = engine._venue_factory(Mode.PAPER)
    assert isinstance(venue, PaperVenue)


def test_market_override_and_its_errors(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "\n" + row(0) + "\n")
    engine = build_engine(make_config(replay_path=str(path)), NO_SECRETS, EventBus(), market_override="replay")
    assert isinstance(engine.feed, ReplayFeed) and engine.market == "replay"
    with pytest.raises(ConfigError, match="moon"):
        build_engine(make_config(), NO_SECRETS, EventBus(), market_override="moon")
    with pytest.raises(ConfigError, match="replay_path"):
        build_engine(make_config(), NO_SECRETS, EventBus(), market_override="replay")


async def test_a_replay_runs_end_to_end_warming_up_on_its_own_bars(tmp_path):
    lines = [HEADER]
    price = 100.0
    for minute in range(300):
        price *= 1.001 if (minute // 7) % 2 else 0.999
        p = f"{price:.4f}"
        ts = f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z"
        lines.append(row(0, close=p, open=p, high=f"{price * 1.001:.4f}", low=f"{price * 0.999:.4f}",
                         taker_buy_volume="6" if (minute // 7) % 2 else "4", timestamp=ts))
    (tmp_path / "bars.csv").write_text("\n".join(lines) + "\n")
    bus = EventBus()
    sub = bus.subscribe("t", coalesce=False)
    config = make_config(market="replay", replay_path=str(tmp_path / "bars.csv"), universe={"symbol_list": ["BTCUSDT"]})
    engine = build_engine(config, NO_SECRETS, bus)
    engine.feed.speed = None
    await engine.run()
    events = sub.drain()
    assert engine.live_bars == 300
    fills = [e.fill for e in events if isinstance(e, FillEvent)]
    assert fills and fills[0].ts.year == 2026  # paper fills are stamped with the replay's clock
