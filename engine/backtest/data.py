"""Market history for a backtest, as dense minute x symbol arrays.

The timeline is every minute at which at least one symbol has a bar (as the replay feed
plays them: a minute nobody has a bar for never happens). A symbol missing from a minute
has NaN there; a gap is never bridged.

Replay files are read with pandas and checked column-wise; when anything looks wrong the
replay feed's own reader reads the file again, so the message (file, line, what is wrong)
is exactly the one `--market replay` gives, and what it accepts is exactly what replay accepts.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from engine.feeds.base import FeedError
from engine.feeds.replay import COLUMNS, read_csv, replay_files
from engine.feeds.sim import first_live_bar
from engine.feeds.sim_market import SimMarket
from engine.feeds.sim_specs import spec_for

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
FIELDS = ("open", "high", "low", "close", "volume", "taker_buy_volume", "funding_rate")
MINUTE_NS = 60_000_000_000


class DecimalPrices(dict):
    """Each price's Decimal as the engine makes it from a bar's close, `Decimal(repr(close))`,
    made once per distinct price: a history repeats its prices (they sit on the tick grid).
    Past KEPT prices it starts afresh, so many symbols over a long history stay small."""

    KEPT = 250_000  # some 45 MB

    def __missing__(self, price: float) -> Decimal:
        if len(self) >= self.KEPT:
            self.clear()
        exact = self[price] = Decimal(repr(price))
        return exact


class DataError(Exception):
    """Backtest data that cannot be used; the message names the file, symbol or range."""


@dataclass
class MarketData:
    symbols: list[str]
    times: np.ndarray  # int64 ns since the epoch (UTC), the bars' open times, strictly increasing
    fields: dict[str, np.ndarray]  # name -> (minutes, symbols) float64, NaN where a symbol has no bar
    source: str
    files: list[str] = field(default_factory=list)

    @property
    def bars(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.fields["close"])))

    def time(self, i: int) -> datetime:
        return EPOCH + timedelta(microseconds=int(self.times[i]) // 1000)

    def frame(self, j: int) -> pd.DataFrame:
        """One symbol's bars as the strategy's batch pipeline takes them."""
        rows = ~np.isnan(self.fields["close"][:, j])
        cols = {name: self.fields[name][rows, j] for name in FIELDS}
        sell = cols["volume"] - cols["taker_buy_volume"]
        # As engine.model.Bar.dollar_volume_delta computes it, so stream and batch get the same input.
        cols["dollar_volume_delta"] = (cols["taker_buy_volume"] - sell) * (cols["open"] + cols["close"]) / 2.0
        return pd.DataFrame(cols, index=pd.DatetimeIndex(self.times[rows], tz="UTC"))

    def select(self, symbols: list[str] | None, start: datetime | None, end: datetime | None) -> "MarketData":
        """The symbols asked for (in the order the data has them), from `start` to before `end`."""
        columns = list(range(len(self.symbols)))
        if symbols:
            unknown = [s for s in symbols if s not in self.symbols]
            if unknown:
                raise DataError(f"symbol {unknown[0]} is not in {self.source} (it has {', '.join(self.symbols)})")
            wanted = set(symbols)
            columns = [j for j, s in enumerate(self.symbols) if s in wanted]
        lo = 0 if start is None else int(np.searchsorted(self.times, _ns(start), "left"))
        hi = len(self.times) if end is None else int(np.searchsorted(self.times, _ns(end), "left"))
        fields = {name: values[lo:hi][:, columns] for name, values in self.fields.items()}
        keep = ~np.isnan(fields["close"]).all(axis=1)
        if not keep.any():
            span = f"from {_text(start)} to {_text(end)}"
            raise DataError(f"{self.source} has no bars {span} for {', '.join(self.symbols[j] for j in columns)} "
                            f"(it covers {_text(self.time(0))} to {_text(self.time(len(self.times) - 1))})")
        return MarketData([self.symbols[j] for j in columns], self.times[lo:hi][keep],
                          {name: values[keep] for name, values in fields.items()}, self.source, self.files)


def _ns(ts: datetime) -> int:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return int(pd.Timestamp(ts).value)


def _text(ts: datetime | None) -> str:
    return "the start" if ts is None else f"{ts:%Y-%m-%d %H:%M}"


# -- replay files ------------------------------------------------------------------------

def _fast_read(path: Path) -> pd.DataFrame | None:
    """The file's rows when every one is plainly valid, else None (the slow reader then says why)."""
    try:
        with warnings.catch_warnings():
            # Deprecated in pandas 3, still there: Python's own float parser, so each value is
            # the float the replay feed's float(text) gives, to the last bit.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            raw = pd.read_csv(path, dtype={"timestamp": str, "symbol": str}, float_precision="round_trip",
                              keep_default_na=False, na_values=[])
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    if [c.strip() for c in raw.columns] != COLUMNS:
        return None
    raw.columns = COLUMNS
    if raw[["timestamp", "symbol"]].isna().any().any():
        return None
    numbers = {}
    for column in COLUMNS[2:]:
        values = raw[column]
        if values.dtype.kind not in "fi":
            return None
        numbers[column] = values.to_numpy(dtype=np.float64)
        if not np.isfinite(numbers[column]).all():
            return None
    o, h, l, c = numbers["open"], numbers["high"], numbers["low"], numbers["close"]
    v, t = numbers["volume"], numbers["taker_buy_volume"]
    if (np.minimum(np.minimum(o, h), np.minimum(l, c)) <= 0).any() or (h < np.maximum(o, c)).any() \
            or (l > np.minimum(o, c)).any() or (v < 0).any() or (t < 0).any() or (t > v).any():
        return None
    symbol = raw["symbol"].str.strip().str.upper()
    if not symbol.str.isalnum().all():
        return None
    stamps = raw["timestamp"].str.strip()
    digits = stamps.str.isdigit()
    try:
        ts = pd.Series(np.zeros(len(raw), dtype="int64"))
        if digits.any():
            ts[digits] = stamps[digits].astype("int64") * 1_000_000
        if (~digits).any():
            text = stamps[~digits].str.replace("Z", "+00:00", regex=False)
            if text.str.contains(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d)?$").all():
                ts[~digits] = pd.to_datetime(text, utc=True, format="ISO8601").astype("int64")
            else:
                return None
    except (ValueError, OverflowError, TypeError):
        return None
    out = pd.DataFrame(numbers)
    out.insert(0, "symbol", symbol.to_numpy())
    out.insert(0, "ts", ts.to_numpy(dtype="int64"))
    return out


def _slow_read(path: Path) -> pd.DataFrame:
    bars = read_csv(path)  # raises FeedError naming the file and line
    return pd.DataFrame({"ts": [int(pd.Timestamp(b.ts).value) for b in bars], "symbol": [b.symbol for b in bars],
                         **{name: [getattr(b, name) for b in bars] for name in FIELDS}})


def load_replay(replay_path: str | Path, exclude: frozenset[str] = frozenset()) -> MarketData:
    """Every bar of a replay file or directory, as `--market replay` plays it."""
    try:
        files = replay_files(replay_path)
    except FeedError as e:
        raise DataError(str(e)) from None
    frames = []
    for index, path in enumerate(files):
        rows = _fast_read(path)
        if rows is None:
            try:
                rows = _slow_read(path)
            except FeedError as e:
                raise DataError(str(e)) from None
        rows["file"] = index
        frames.append(rows)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if exclude and len(table):
        table = table[~table["symbol"].isin(exclude)]
    # The replay feed keeps the first of duplicate bars, in file order.
    table = table.drop_duplicates(["symbol", "ts"], keep="first")
    if not len(table):
        raise DataError(f"replay {replay_path} holds no bars")
    # Within a minute the feed hands bars over in file order, then row order; the columns follow
    # the first file each symbol appears in, then its name (a file sorted by time and symbol).
    first_file = table.groupby("symbol")["file"].min()
    symbols = sorted(first_file.index, key=lambda s: (first_file[s], s))
    return _dense(table, symbols, str(replay_path), [str(p) for p in files])


def _dense(table: pd.DataFrame, symbols: list[str], source: str, files: list[str]) -> MarketData:
    times, minute = np.unique(table["ts"].to_numpy(dtype="int64"), return_inverse=True)
    column = pd.Index(symbols).get_indexer(table["symbol"])
    fields = {}
    for name in FIELDS:
        grid = np.full((len(times), len(symbols)), np.nan)
        grid[minute, column] = table[name].to_numpy(dtype=np.float64)
        fields[name] = grid
    return MarketData(symbols, times, fields, source, files)


# -- the simulated market ----------------------------------------------------------------

def sim_data(symbols: list[str], seed: int, bars: int, start: datetime | None = None) -> MarketData:
    """`bars` minutes of the embedded simulated market (the same process as `--market sim`)."""
    if bars < 1:
        raise DataError("--bars must be at least 1 for the simulated market")
    market = SimMarket([spec_for(s) for s in symbols], seed)
    grids = {name: np.empty((bars, len(symbols))) for name in FIELDS}
    for i in range(bars):
        step = market.step()
        for name in FIELDS:
            grids[name][i] = getattr(step, name)
    first = _ns(start or first_live_bar(seed))
    times = first + np.arange(bars, dtype="int64") * MINUTE_NS
    return MarketData(list(symbols), times, grids, f"the simulated market (seed {seed})")


def write_replay_dir(data: MarketData, directory: Path) -> list[Path]:
    """One replay CSV per symbol (the format `--market replay` reads), exactly round-tripping each float."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for j, symbol in enumerate(data.symbols):
        rows = ~np.isnan(data.fields["close"][:, j])
        stamps = data.times[rows] // 1_000_000
        path = directory / f"{symbol}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            fh.write(",".join(COLUMNS) + "\n")
            values = [data.fields[name][rows, j].tolist() for name in FIELDS]
            for ts, *row in zip(stamps.tolist(), *values):
                fh.write(f"{ts},{symbol}," + ",".join(repr(v) if math.isfinite(v) else "nan" for v in row) + "\n")
        written.append(path)
    return written
