"""Putting an engine together from the configuration: the feed for the market, and a venue
for each trading mode (paper here; Binance imported only when a real mode is asked for).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import strategy
from engine.config import MARKETS, Config, ConfigError
from engine.engine import Engine
from engine.events import EventBus
from engine.feeds.base import Feed
from engine.model import Mode
from engine.secrets import Secrets
from engine.statefile import StateFile
from engine.store import StateStore
from engine.venues.base import Venue


def build_feed(config: Config, secrets: Secrets) -> Feed:
    if config.market == "sim":
        from engine.feeds.sim import SimFeed

        # Enough history that the strategy is fully warm at the first live bar.
        needed = strategy.warmup_bars(config.strategy_params())
        sim = dataclasses.replace(config.sim, warmup_bars=max(config.sim.warmup_bars, needed))
        return SimFeed(dataclasses.replace(config, sim=sim), paced=not config.sim.unpaced)
    if config.market == "replay":
        from engine.feeds.replay import ReplayFeed

        return ReplayFeed(config.replay_path, speed=None if config.sim.unpaced else config.sim.speed,
                          exclude=frozenset(config.universe.exclude_symbols))
    from engine.feeds.binance import BinanceFeed

    return BinanceFeed(config, secrets)


def venue_factory_for(config: Config, secrets: Secrets, feed: Feed,
                      engine_clock: Callable[[], object]) -> Callable[[Mode], Venue]:
    def make(mode: Mode) -> Venue:
        if mode is Mode.PAPER:
            from engine.venues.paper import PaperVenue

            return PaperVenue(config.paper, feed.last_price, clock=engine_clock)
        from engine.venues.binance import BinanceVenue

        return BinanceVenue(config, secrets, mode)

    return make


def build_engine(config: Config, secrets: Secrets, bus: EventBus, store: StateStore | None = None,
                 state_file: StateFile | None = None, *, market_override: str | None = None) -> Engine:
    if market_override is not None:
        if market_override not in MARKETS:
            raise ConfigError(f"market {market_override!r} is not one of {', '.join(MARKETS)}")
        if market_override == "replay" and not config.replay_path:
            raise ConfigError("market replay needs `replay_path` in the config")
        config = dataclasses.replace(config, market=market_override)
    feed = build_feed(config, secrets)
    engine: Engine | None = None

    def clock():
        return engine.market_time()

    engine = Engine(config, feed=feed, venue_factory=venue_factory_for(config, secrets, feed, clock), bus=bus,
                    secrets=secrets, store=store, state_file=state_file)
    return engine
