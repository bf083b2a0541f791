"""Binance USDⓈ-M market data: REST warm-up and backfill, websocket bars, funding and flow.

Warm-up and backfill read the raw klines endpoint, because only the raw rows carry the
taker-buy volume. Live bars come from the kline stream (closed ones only). Every bar carries the
last settled funding rate at its open time (engine.feeds.binance_funding): the funding history,
asked again when the mark-price stream's next funding time has passed. With `flow.source: aggtrades` taker buys are summed from aggregated
trades. ccxt keeps the websockets connected; a tap on its client sees every raw event.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable

from engine.config import Config
from engine.exchange import BinanceClient, create_client
from engine.exchange_errors import RetryPolicy, describe
from engine.feeds.base import FeedError
from engine.feeds.binance_bars import MINUTE_MS, BarSequencer, TakerFlow, bar_from_event, bar_from_row
from engine.feeds.binance_funding import SettledFunding
from engine.feeds.binance_history import BinanceHistory
from engine.feeds.binance_universe import resolve_universe
from engine.model import Bar, Instrument
from engine.secrets import Secrets

log = logging.getLogger("trifactor.feed.binance")
NAMED_SILENT_SYMBOLS = 3  # more than this many silent symbols make one line, not one each


@dataclass(frozen=True)
class StreamTiming:
    group_wait_s: float = 2.0  # how long a minute waits for every symbol's bar before it is released
    stale_after_s: float = 75.0  # no closed bar for this long: status `stale`, bars fetched over REST
    rewatch_pause_s: float = 1.0  # bars arrive through the tap; re-arming ccxt's watch is only a health check
    reconnect_base_s: float = 1.0
    reconnect_max_s: float = 30.0


def _to_bars(symbol: str, rows: list[list], funding: list[float]) -> list[Bar]:
    try:
        return [bar_from_row(symbol, r, f) for r, f in zip(rows, funding)]
    except (TypeError, ValueError):
        raise FeedError(f"{symbol}: Binance sent klines with non-numeric fields") from None


class BinanceFeed:
    name = "binance"

    def __init__(self, config: Config, secrets: Secrets | None = None, *, timing: StreamTiming | None = None,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        # Market data is public: `secrets` is accepted so every feed is built the same way, never sent.
        self.config = config
        self.timing = timing or StreamTiming(stale_after_s=config.exchange.stale_after_s)
        self.retry = retry
        self.instruments: dict[str, Instrument] = {}
        self.last_error = ""
        self._status = "stopped"
        self._client: BinanceClient | None = None
        self._history: BinanceHistory | None = None
        self._unified: dict[str, str] = {}
        self._funding = SettledFunding()
        self._mark: dict[str, float] = {}
        self._last_price: dict[str, float] = {}
        self.flow = TakerFlow() if config.flow.source == "aggtrades" else None
        self._closed_bars: asyncio.Queue[Bar] = asyncio.Queue()
        self._sequencer: BarSequencer | None = None
        self._watchers: list[asyncio.Task] = []
        self._last_bar_at = self._stream_started = time.monotonic()
        self._last_streamed: dict[str, float] = {}  # per symbol: when the stream last brought a bar
        self._notices: list[tuple[str, str | None]] = []

    @property
    def status(self) -> str:
        return self._status

    @property
    def dropped_bars(self) -> int:
        return self._sequencer.dropped if self._sequencer else 0

    def last_price(self, symbol: str) -> float | None:
        return self._last_price.get(symbol, self._mark.get(symbol))

    def funding_rate(self, symbol: str, open_ms: int) -> float:
        """The last settled rate at `open_ms`, as the bar opening then carries it."""
        return self._funding.rate_at(symbol, open_ms)

    def take_notices(self) -> list[tuple[str, str | None]]:
        """(message, symbol) about the stream's health since the last call, for the operator:
        the desk draws the status, but a headless run has only these lines."""
        notices, self._notices = self._notices, []
        return notices

    # REST -----------------------------------------------------------------------------------
    def _server_ms(self) -> int:
        offset = self._client.options.get("timeDifference", 0) if self._client else 0
        return int(time.time() * 1000) - int(offset or 0)

    async def start(self) -> dict[str, Instrument]:
        self._status = "connecting"
        if self._client is not None:  # an earlier attempt that failed part-way
            await self._client.close()
        self._client = client = create_client(self.config)
        client.tap = self
        self._history = history = BinanceHistory(client, self.retry)
        await history.call("Binance", "loading markets", client.load_markets)
        await history.call("Binance", "reading the server time", client.load_time_difference)
        infos = {m["id"]: m["info"] for m in client.markets.values() if m.get("linear")}
        self.instruments = resolve_universe(self.config, infos)
        self._unified = {m["id"]: m["symbol"] for m in client.markets.values() if m["id"] in self.instruments}
        self._sequencer = BarSequencer(list(self.instruments), self.timing.group_wait_s)
        try:
            premium = await history.call("Binance", "reading mark prices", client.fapiPublicGetPremiumIndex)
        except FeedError as e:
            log.warning("%s (funding starts from the warm-up history)", e)
            premium = []
        for row in premium if isinstance(premium, list) else []:
            try:
                if row.get("symbol") in self.instruments:
                    # `lastFundingRate` is the running estimate, not a settlement: only its time is used.
                    self._funding.note_mark(row["symbol"], int(row["nextFundingTime"]), None)
                    self._mark[row["symbol"]] = float(row["markPrice"])
            except (AttributeError, KeyError, TypeError, ValueError):
                log.warning("ignored a malformed premium index row")
        return self.instruments

    def _require(self, symbol: str) -> BinanceHistory:
        if self._history is None:
            raise FeedError(f"{symbol}: the Binance feed is not started")
        if symbol not in self.instruments:
            raise FeedError(f"{symbol}: not in the trading universe")
        return self._history

    async def warmup(self, symbol: str, bars: int) -> list[Bar]:
        """The last `bars` closed bars, with the settled funding rate in force at each."""
        history = self._require(symbol)
        if bars <= 0:
            return []
        last_closed = self._server_ms() // MINUTE_MS * MINUTE_MS - MINUTE_MS
        rows = await history.latest(symbol, bars, last_closed)
        if not rows:
            raise FeedError(f"{symbol}: Binance returned no kline history")
        opens = [int(r[0]) for r in rows]
        self._funding.add(symbol, await history.funding(symbol, opens[0], opens[-1]))
        out = _to_bars(symbol, rows, [self._funding.rate_at(symbol, t) for t in opens])
        self._sequencer.last[symbol] = opens[-1]
        self._last_price.setdefault(symbol, out[-1].close)
        return out

    async def _settled_up_to(self, symbol: str, open_ms: int) -> None:
        """Ask the funding history for settlements up to `open_ms` once a settlement is due by then."""
        if not self._funding.should_ask(symbol, open_ms):
            return
        since = (self._funding.last_time(symbol) or open_ms) + 1
        try:
            history = self._require(symbol)
            self._funding.add(symbol, await history.funding(symbol, since, open_ms + MINUTE_MS - 1))
        except FeedError as e:
            self.last_error = str(e)
            log.warning("%s; bars carry the last estimate until the settlement is known", e)

    async def _backfill(self, symbol: str, first_ms: int, last_ms: int) -> int:
        """Bars opening in [first_ms, last_ms] fetched over REST and queued; how many.

        Callers ask only for minutes known to be closed (before a closed bar, or by the clock).
        """
        rows = await self._require(symbol).between(symbol, first_ms, last_ms)
        if rows:
            await self._settled_up_to(symbol, int(rows[-1][0]))
        bars = _to_bars(symbol, rows, [self.funding_rate(symbol, int(r[0])) for r in rows])
        return sum(1 for bar in bars if self._sequencer.add(bar, time.monotonic()))

    # websocket taps (called by ccxt for every raw event) --------------------------------------
    def on_kline(self, event: dict) -> None:
        kline = event.get("k") or {}
        symbol = kline.get("s")
        if symbol not in self.instruments:
            return
        try:
            self._last_price[symbol] = float(kline["c"])
            if kline.get("x"):
                flow = self.flow.taker_buy(symbol, int(kline["t"])) if self.flow is not None else None
                # The funding rate is set when the bar is accepted: it may need the funding history.
                self._closed_bars.put_nowait(bar_from_event(kline, 0.0, flow))
        except (KeyError, TypeError, ValueError):
            log.warning("%s: ignored a malformed kline event", symbol)

    def on_mark_price(self, event: dict) -> None:
        symbol = event.get("s")
        if symbol not in self.instruments:
            return
        try:
            if event.get("T") not in (None, ""):
                estimate = float(event["r"]) if event.get("r") not in (None, "") else None
                self._funding.note_mark(symbol, int(event["T"]), estimate)
            self._mark[symbol] = float(event["p"])
        except (KeyError, TypeError, ValueError):
            log.warning("%s: ignored a malformed mark price event", symbol)

    def on_agg_trade(self, event: dict) -> None:
        symbol = event.get("s")
        if symbol not in self.instruments or self.flow is None:
            return
        try:
            self.flow.add(symbol, int(event["T"]), float(event["q"]), bool(event["m"]))
            self._last_price[symbol] = float(event["p"])
        except (KeyError, TypeError, ValueError):
            log.warning("%s: ignored a malformed aggregated trade event", symbol)

    # streams --------------------------------------------------------------------------------
    def _start_watchers(self) -> None:
        if self._watchers or self._client is None:
            return
        client = self._client
        self._last_bar_at = time.monotonic()
        unified = [self._unified[s] for s in self.instruments]
        self._watchers.append(asyncio.create_task(
            self._keep_watching("klines", lambda: client.watch_ohlcv_for_symbols([[u, self.config.kline_interval] for u in unified]))))
        self._watchers.append(asyncio.create_task(
            self._keep_watching("mark prices", lambda: client.watch_mark_prices(unified))))
        if self.flow is not None:
            self._watchers.append(asyncio.create_task(self._keep_watching(
                "aggregated trades", lambda: client.watch_trades_for_symbols(unified, params={"name": "aggTrade"}))))

    async def _keep_watching(self, what: str, watch: Callable[[], Awaitable]) -> None:
        failures = 0
        while True:
            try:
                await watch()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a watcher must outlive any single failure
                failures += 1
                self.last_error = f"{what} stream: {describe(e)}"
                if what == "klines":
                    self._status = "reconnecting"
                wait = min(self.timing.reconnect_max_s, self.timing.reconnect_base_s * 2 ** (failures - 1))
                log.warning("%s; reconnecting in %.1f s", self.last_error, wait)
                await asyncio.sleep(wait)
                continue
            if failures:
                log.info("%s stream reconnected", what)
            failures = 0
            if what == "klines" and self._status in ("connecting", "reconnecting"):
                self._status = "live"
            await asyncio.sleep(self.timing.rewatch_pause_s)

    async def _accept(self, bar: Bar) -> None:
        open_ms = int(bar.ts.timestamp() * 1000)
        seq = self._sequencer
        verdict = seq.verdict(bar.symbol, open_ms)
        if verdict == "stale":
            seq.dropped += 1
            log.debug("%s: dropped duplicate or out-of-order bar %s", bar.symbol, bar.ts)
            return
        if verdict == "gap":
            await self._fill_gap(bar.symbol, seq.last[bar.symbol] + MINUTE_MS, open_ms - MINUTE_MS)
        await self._settled_up_to(bar.symbol, open_ms)
        bar = bar._replace(funding_rate=self.funding_rate(bar.symbol, open_ms))
        seq.add(bar, time.monotonic())
        self._last_bar_at = self._last_streamed[bar.symbol] = time.monotonic()
        if self._status == "stale":
            self._status = "live"
            self._notices.append(("market data: bars arrive on the stream again", None))

    async def _fill_gap(self, symbol: str, first_ms: int, last_ms: int) -> None:
        try:
            added = await self._backfill(symbol, first_ms, last_ms)
            log.info("%s: backfilled %d missed bars", symbol, added)
        except FeedError as e:
            self.last_error = str(e)
            log.warning("%s; the gap stays", e)

    async def _poll_when_stale(self) -> None:
        """The stream went quiet: fetch whatever closed since each symbol's last bar."""
        self._status = "stale"
        now = self._last_bar_at = time.monotonic()
        last_closed = self._server_ms() // MINUTE_MS * MINUTE_MS - MINUTE_MS
        behind = [s for s in self.instruments
                  if self._sequencer.last.get(s) is not None and self._sequencer.last[s] < last_closed]
        self._note_silence(now, behind)
        for symbol in behind:
            await self._fill_gap(symbol, self._sequencer.last[symbol] + MINUTE_MS, last_closed)

    def _note_silence(self, now: float, behind: list[str]) -> None:
        quiet = {s: now - self._last_streamed.get(s, self._stream_started) for s in self.instruments}
        action = "backfilling over REST" if behind else "though by Binance's clock none is due yet"
        named = behind or list(self.instruments)
        if len(named) <= NAMED_SILENT_SYMBOLS:
            for symbol in named:
                self._notices.append((f"{symbol}: no bar for {quiet[symbol]:.0f} s, {action}", symbol))
        else:
            longest = max(quiet[s] for s in named)
            self._notices.append((f"{len(named)} symbols: no bar for up to {longest:.0f} s "
                                  f"({', '.join(named[:NAMED_SILENT_SYMBOLS])}, ...), {action}", None))

    async def stream(self) -> AsyncIterator[list[Bar]]:
        if self._sequencer is None:
            raise FeedError("the Binance feed is not started")
        self._start_watchers()
        self._stream_started = time.monotonic()
        seq = self._sequencer
        while True:
            now = time.monotonic()
            deadlines = [self._last_bar_at + self.timing.stale_after_s]
            if seq.next_deadline() is not None:
                deadlines.append(seq.next_deadline())
            try:
                bar = await asyncio.wait_for(self._closed_bars.get(), max(0.0, min(deadlines) - now))
            except asyncio.TimeoutError:
                bar = None
            if bar is not None:
                await self._accept(bar)
                while not self._closed_bars.empty():
                    await self._accept(self._closed_bars.get_nowait())
            elif time.monotonic() >= self._last_bar_at + self.timing.stale_after_s:
                await self._poll_when_stale()
            for group in seq.release(time.monotonic()):
                yield group

    async def close(self) -> None:
        for task in self._watchers:
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        self._watchers.clear()
        if self._client is not None:
            await self._client.close()
            self._client = self._history = None
        self._status = "stopped"
