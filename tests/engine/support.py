"""Building blocks for the engine tests: a small fast config, a feed the test steps minute by
minute, an exchange-like venue whose truth the test controls, and a store stub.
"""
from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from decimal import Decimal
from typing import Any, AsyncIterator, Callable

import strategy
from engine.config import Config, from_mapping
from engine.engine import Engine
from engine.events import Event, EventBus, SignalBatch, SignalUpdate
from engine.feeds.sim import SimFeed
from engine.model import Fill, Instrument, Mode, OrderRequest, OrderResult, Side, VenuePosition
from engine.secrets import Secrets
from engine.store import RestoredControls, RestoredState
from engine.venues.paper import PaperVenue

GUARD = 60  # seconds: only a guard against a hang, never part of what is checked

# Small windows: the strategy is fully warm after ~210 bars instead of ~960.
FAST_STRATEGY = {"lookback_long": 20, "lookback_medium": 10, "lookback_short": 5, "funding_roll": 10,
                 "mr_roll": 10, "flow_roll": 10, "perf_roll": 10, "perf_smooth_span": 5,
                 "change_threshold_window": 5}
FAST_WARMUP = strategy.warmup_bars(FAST_STRATEGY)
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LINKUSDT"]


def make_config(**overrides: Any) -> Config:
    data: dict[str, Any] = {"strategy_v2": dict(FAST_STRATEGY), "sim": {"warmup_bars": FAST_WARMUP, "seed": 7},
                            "risk": {"daily_loss_limit": 0, "max_drawdown": 0},
                            # generous caps so the strategy trades several symbols at once
                            "max_position_risk_per_trade": 0.05, "max_total_risk_exposure": 0.3}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return from_mapping(data, "<test>")


NO_SECRETS = Secrets.load(environ={})
TESTNET_SECRETS = Secrets.load(environ={"TRIFACTOR_TESTNET_API_KEY": "tk", "TRIFACTOR_TESTNET_API_SECRET": "ts"})
LIVE_SECRETS = Secrets.load(environ={"TRIFACTOR_API_KEY": "lk", "TRIFACTOR_API_SECRET": "ls"})


class SteppedFeed:
    """A sim feed that hands out a minute only when the test says so."""

    def __init__(self, inner: SimFeed) -> None:
        self.inner = inner
        self.name = inner.name
        self._asking = asyncio.Event()
        self._tokens: asyncio.Queue[int] = asyncio.Queue()

    @property
    def status(self) -> str:
        return self.inner.status

    def now(self) -> datetime:
        return self.inner.now()

    async def start(self) -> dict[str, Instrument]:
        return await self.inner.start()

    async def warmup(self, symbol: str, bars: int):
        return await self.inner.warmup(symbol, bars)

    def release_warmup(self) -> None:
        self.inner.release_warmup()

    async def stream(self) -> AsyncIterator[list]:
        async for bars in self.inner.stream():
            self._asking.set()
            await self._tokens.get()
            self._asking.clear()
            yield bars

    def release(self, n: int = 1) -> None:
        """Let `n` more minutes through without waiting for them to be processed."""
        for _ in range(n):
            self._tokens.put_nowait(1)

    async def step(self, n: int = 1) -> None:
        """Let `n` minutes through, one at a time, and wait until the engine processed them."""
        for _ in range(n):
            await asyncio.wait_for(self._asking.wait(), GUARD)
            self._asking.clear()
            self._tokens.put_nowait(1)
        await asyncio.wait_for(self._asking.wait(), GUARD)

    def last_price(self, symbol: str) -> float | None:
        return self.inner.last_price(symbol)

    def inject(self, *args, **kwargs) -> None:
        self.inner.inject(*args, **kwargs)

    async def close(self) -> None:
        await self.inner.close()


class ExchangeStub:
    """An exchange-like venue for testnet/live tests: fills at the feed's price, and its
    positions are the truth the test can change behind the engine's back."""

    def __init__(self, mode: Mode, price: Callable[[str], float | None], balance: Decimal = Decimal(5000)) -> None:
        self.mode = mode
        self._paper = PaperVenue(make_config().paper, price)
        self.truth: dict[str, Decimal] = {}
        self.entry: dict[str, Decimal] = {}
        self.wallet = balance
        self.submitted: list[OrderRequest] = []
        self.prepared = False
        self.closed = False

    async def prepare(self, instruments, leverage, margin_mode) -> None:
        self.prepared = True
        await self._paper.prepare(instruments, leverage, margin_mode)

    async def submit(self, order: OrderRequest) -> OrderResult:
        self.submitted.append(order)
        price = self._paper.fill_price(order.symbol, order.side)
        fill = Fill(self.mode, order.symbol, order.side, order.quantity, price, Decimal(0), "USDT",
                    datetime(2026, 1, 1), order.client_order_id, f"t{len(self.submitted)}")
        held = self.truth.get(order.symbol, Decimal(0))
        self.truth[order.symbol] = held + order.quantity * order.side.sign
        self.entry.setdefault(order.symbol, price)
        return OrderResult(order, "filled", (fill,), exchange_order_id=fill.trade_id)

    async def cancel_all(self, symbol=None) -> None:
        pass

    async def resolve(self, order: OrderRequest) -> OrderResult:
        sent = next((o for o in self.submitted if o.client_order_id == order.client_order_id), None)
        return OrderResult(order, "not_placed" if sent is None else "filled")

    async def fills_since(self, symbols, since, ours) -> list[Fill]:
        return []  # the stub keeps no trade history

    async def funding_since(self, since) -> list:
        return []
    def rate_limited_for(self) -> float:
        return 0.0

    async def positions(self) -> dict[str, VenuePosition]:
        return {s: VenuePosition(s, q, self.entry.get(s, Decimal(1))) for s, q in self.truth.items() if q}

    async def balance(self) -> Decimal:
        return self.wallet

    async def close(self) -> None:
        self.closed = True


class MemoryLedger:
    """The bus's ledger in memory: what was appended, and what a sync made 'durable'."""

    def __init__(self) -> None:
        self.appended: list[Event] = []
        self.durable: list[Event] = []
        self.problem = ""

    def append(self, event: Event) -> None:
        self.appended.append(event)

    async def sync(self) -> int:
        self.durable = list(self.appended)
        return len(self.durable)


class StoreStub:
    def __init__(self, state: dict[str, RestoredState] | None = None,
                 controls: RestoredControls | None = None,
                 market: dict[str, tuple[float, float | None]] | None = None) -> None:
        self.state = state or {}
        self.controls = controls
        self.market = market or {}
        self.ledger = MemoryLedger()

    async def load_state(self, mode: str) -> RestoredState | None:
        return self.state.get(mode)

    async def load_controls(self) -> RestoredControls | None:
        return self.controls

    async def resume_after(self) -> datetime | None:
        paper = self.state.get(Mode.PAPER.value)
        return paper.equity_tail[-1][0] if paper and paper.equity_tail else None

    async def last_market(self) -> dict[str, tuple[float, float | None]]:
        return dict(self.market)


class Harness:
    """An engine on a stepped sim feed, running in the background, with every event recorded."""

    def __init__(self, config: Config | None = None, *, secrets: Secrets = NO_SECRETS, store=None, state_file=None,
                 venue_factory: Callable[[Mode], Any] | None = None, start: datetime | None = None) -> None:
        self.config = config or make_config()
        self.sim = SimFeed(self.config, paced=False, start=start)
        self.feed = SteppedFeed(self.sim)
        self.bus = EventBus()
        self.bus.attach_ledger(getattr(store, "ledger", None))
        self.events: list[Event] = []
        self._sub = self.bus.subscribe("test", coalesce=False, maxsize=10**9)
        self.venues: dict[Mode, Any] = {}

        def default_factory(mode: Mode):
            if mode is Mode.PAPER:
                venue = PaperVenue(self.config.paper, self.feed.last_price, clock=lambda: self.engine.market_time())
            else:
                venue = ExchangeStub(mode, self.feed.last_price)
            self.venues[mode] = venue
            return venue

        self.engine = Engine(self.config, feed=self.feed, venue_factory=venue_factory or default_factory,
                             bus=self.bus, secrets=secrets, store=store, state_file=state_file)
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> "Harness":
        self.task = asyncio.ensure_future(self.engine.run())
        waiting = asyncio.ensure_future(self.feed._asking.wait())
        await asyncio.wait({self.task, waiting}, timeout=GUARD, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            waiting.cancel()
            self.task.result()  # raises what start-up raised
        assert self.engine.started
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.wait_for(self.engine.stop(), GUARD)
        if self.task is not None:
            with contextlib.suppress(Exception):
                await self.task

    def collect(self) -> list[Event]:
        self.events.extend(self._sub.drain())
        return self.events

    def of(self, kind: type, **match: Any) -> list:
        return [e for e in self.collect() if isinstance(e, kind)
                and all(getattr(e, k) == v for k, v in match.items())]

    def signals(self, **match: Any) -> list[SignalUpdate]:
        return signals_of(self.collect(), **match)

    async def step(self, n: int = 1) -> None:
        await self.feed.step(n)
        await self.bus.commit()  # the engine moves on while a minute's events are committed

    async def step_until(self, predicate: Callable[[], bool], limit: int = 400) -> int:
        for n in range(limit):
            if predicate():
                return n
            await self.step()
        raise AssertionError(f"condition not met within {limit} bars")


def signals_of(events: list[Event], **match: Any) -> list[SignalUpdate]:
    """Each update the engine's SignalBatches brought as it was made (not as carried into later minutes)."""
    return [u for e in events if isinstance(e, SignalBatch) for u in e.fresh()
            if all(getattr(u, k) == v for k, v in match.items())]


def signed(fill: Fill) -> Decimal:
    return fill.quantity * fill.side.sign


def open_quantities(engine: Engine) -> dict[str, Decimal]:
    return {s: p.quantity for s, p in engine.snapshot().positions.items()}


__all__ = ["Harness", "make_config", "SteppedFeed", "ExchangeStub", "StoreStub", "signed", "Side"]
