"""Bars from CSV files, played back on the accelerated clock.

Columns: timestamp,symbol,open,high,low,close,volume,taker_buy_volume,funding_rate. The
timestamp is the bar's open time: ISO 8601 (UTC unless it says otherwise) or epoch
milliseconds. `replay_path` is a file or a directory of *.csv files. Every row is checked at
start; a bad one stops the run with a message naming the file and line. Duplicate bars keep
the first; rows may come in any order.

`funding_rate` is the last settled funding rate at the bar's open time, as Binance's funding
history forward-filled onto the bars gives it: it changes only on the first bar opening at or
after a funding time (00:00, 08:00, 16:00 UTC), and paper settles that time with that bar's
rate. A file holding the running estimate instead (markPrice's `r`) replays, but pays whatever
estimate the first bar after each funding time carries.

A fresh replay has no warm-up history: the first bars warm the strategy up, and the desk shows
the progress. A replay restarted on a store that already holds part of it carries on after the
last stored bar; the bars before it become the warm-up history. One the store holds entirely
is refused rather than played again.
"""
from __future__ import annotations

import asyncio
import csv
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator

from engine.feeds.base import FeedError
from engine.feeds.sim_specs import spec_for
from engine.model import Bar, Instrument

MINUTE = timedelta(minutes=1)
COLUMNS = ["timestamp", "symbol", "open", "high", "low", "close", "volume", "taker_buy_volume", "funding_rate"]


def _timestamp(text: str) -> datetime:
    text = text.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def _number(row: dict, column: str) -> float:
    text = row[column]
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{column} {text!r} is not a finite number")
    return value


def parse_row(row: dict) -> Bar:
    """One CSV row as a Bar; ValueError says what is wrong."""
    try:
        ts = _timestamp(row["timestamp"])
    except ValueError:
        raise ValueError(f"timestamp {row['timestamp']!r} is neither ISO 8601 nor epoch milliseconds") from None
    symbol = (row["symbol"] or "").strip().upper()
    if not symbol.isalnum():
        raise ValueError(f"symbol {row['symbol']!r} is not a symbol")
    values = {column: _number(row, column) for column in COLUMNS[2:]}
    o, h, l, c = values["open"], values["high"], values["low"], values["close"]
    if min(o, h, l, c) <= 0:
        raise ValueError("prices must be positive")
    if h < max(o, c) or l > min(o, c):
        raise ValueError(f"high/low ({h}/{l}) do not contain open/close ({o}/{c})")
    if values["volume"] < 0 or not 0 <= values["taker_buy_volume"] <= values["volume"]:
        raise ValueError("volume must be >= 0 and taker_buy_volume between 0 and volume")
    return Bar(symbol, ts, o, h, l, c, values["volume"], values["taker_buy_volume"], values["funding_rate"])


def read_csv(path: Path) -> list[Bar]:
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as e:
        raise FeedError(f"replay file {path} cannot be read: {e.strerror}") from None
    bars: list[Bar] = []
    with fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if header != COLUMNS:
            raise FeedError(f"{path}, line 1: expected the columns {','.join(COLUMNS)}, got {','.join(header)}")
        reader.fieldnames = header
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise FeedError(f"{path}, line {reader.line_num}: expected {len(COLUMNS)} fields")
            try:
                bars.append(parse_row(row))
            except ValueError as e:
                raise FeedError(f"{path}, line {reader.line_num}: {e}") from None
    return bars


def replay_files(replay_path: str | Path) -> list[Path]:
    path = Path(replay_path).expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise FeedError(f"replay directory {path} holds no .csv files")
        return files
    if not path.exists():
        raise FeedError(f"replay file {path} does not exist")
    return [path]


class ReplayFeed:
    name = "replay"

    def __init__(self, replay_path: str | Path, *, speed: float | None = None,
                 exclude: frozenset[str] = frozenset()) -> None:
        """`speed` in bars per second; None plays as fast as the engine takes them."""
        self.replay_path = replay_path
        self.speed = speed
        self.exclude = exclude
        self._minutes: list[tuple[datetime, list[Bar]]] = []
        self._played: dict[str, list[Bar]] = {}  # per symbol, the bars before the resume point
        self._resume_after: datetime | None = None
        self._next: datetime | None = None
        self._last: dict[str, float] = {}
        self._status = "connecting"
        self._closed = False

    @property
    def status(self) -> str:
        return self._status

    def now(self) -> datetime | None:
        """The replay's clock: the open time of the next bar to play (None before start)."""
        return self._next

    def resume_after(self, ts: datetime) -> None:
        """Play only the bars after the one that closed at `ts`; the earlier ones are warm-up."""
        self._resume_after = ts

    async def start(self) -> dict[str, Instrument]:
        seen: set[tuple[str, datetime]] = set()
        by_minute: dict[datetime, list[Bar]] = {}
        for path in replay_files(self.replay_path):
            for bar in read_csv(path):
                key = (bar.symbol, bar.ts)
                if bar.symbol in self.exclude or key in seen:
                    continue
                seen.add(key)
                by_minute.setdefault(bar.ts, []).append(bar)
        if not by_minute:
            raise FeedError(f"replay {self.replay_path} holds no bars")
        minutes = sorted(by_minute.items())
        if self._resume_after is not None:
            done = [(ts, bars) for ts, bars in minutes if ts + MINUTE <= self._resume_after]
            for _, bars in done:
                for bar in bars:
                    self._played.setdefault(bar.symbol, []).append(bar)
                    self._last[bar.symbol] = bar.close
            minutes = minutes[len(done):]
            if not minutes:
                raise FeedError(f"replay {self.replay_path}: the store already holds every bar of it (up to "
                                f"{self._resume_after:%Y-%m-%d %H:%M} UTC), so nothing is left to play; "
                                "give another --db to replay it afresh")
        self._minutes = minutes
        self._next = minutes[0][0]
        self._status = "live"
        symbols = sorted({s for s, _ in seen if s not in self.exclude})
        return {s: spec_for(s).instrument for s in symbols}

    async def warmup(self, symbol: str, bars: int) -> list[Bar]:
        played = self._played.get(symbol, [])
        return played[-bars:] if bars > 0 else []

    def release_warmup(self) -> None:
        self._played = {}

    async def stream(self) -> AsyncIterator[list[Bar]]:
        interval = 1.0 / self.speed if self.speed else 0.0
        for _, bars in self._minutes:
            if self._closed:
                break
            await asyncio.sleep(interval)
            for bar in bars:
                self._last[bar.symbol] = bar.close
            self._next = bars[0].ts + MINUTE
            yield bars
        self._status = "stopped"

    def last_price(self, symbol: str) -> float | None:
        return self._last.get(symbol)

    async def close(self) -> None:
        self._closed = True
        self._status = "stopped"
