"""`--speed max`: the simulated or replayed market as fast as the engine takes the bars."""
import argparse

import pytest

from engine.feeds.replay import ReplayFeed
from engine.feeds.sim import SimFeed
from engine.wiring import build_feed
from tests.engine.support import NO_SECRETS, make_config
from tui import cli


def _config(monkeypatch, tmp_path, *argv):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    args = cli._parser().parse_args(["run", "--headless", *argv])
    return cli._load_config(args)


def test_speed_max_unpaces_the_replay_and_the_sim(monkeypatch, tmp_path):
    chosen = _config(monkeypatch, tmp_path, "--speed", "max")
    assert chosen.sim.unpaced and chosen.sim.speed == make_config().sim.speed
    feed = build_feed(make_config(market="replay", replay_path=str(tmp_path), sim={"unpaced": True}), NO_SECRETS)
    assert isinstance(feed, ReplayFeed) and feed.speed is None
    sim = build_feed(make_config(sim={"unpaced": True}), NO_SECRETS)
    assert isinstance(sim, SimFeed) and not sim.paced
    assert build_feed(make_config(), NO_SECRETS).paced


def test_a_number_still_sets_the_speed_and_anything_else_is_refused(monkeypatch, tmp_path):
    assert _config(monkeypatch, tmp_path, "--speed", "250").sim.speed == 250
    with pytest.raises(argparse.ArgumentTypeError, match="neither a number of bars per second nor `max`"):
        cli._speed("fast")
