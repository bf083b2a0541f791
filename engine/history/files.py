"""The local history: one replay CSV per symbol and month, and each symbol's settled funding.

    <dir>/BTCUSDT-2026-01.csv      bars in the replay format (`--market replay`, `trifactor backtest --data <dir>`)
    <dir>/funding/BTCUSDT.csv      fundingTime (ms), fundingRate: every settlement fetched

A bar's funding_rate is the last settlement at or before its open time (the seed's meaning).
Every file is written to a temporary name and renamed, so a file is whole or absent. Gaps are
found by reading the files back; they are reported, never filled in.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from engine.feeds.replay import COLUMNS

MINUTE_MS = 60_000
MONTH_FILE = re.compile(r"^([A-Z0-9]+)-(\d{4})-(\d{2})\.csv$")


def month_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m")


def month_start_ms(month: str) -> int:
    year, mon = map(int, month.split("-"))
    return int(datetime(year, mon, 1, tzinfo=timezone.utc).timestamp() * 1000)


def next_month(month: str) -> str:
    year, mon = map(int, month.split("-"))
    return f"{year + mon // 12}-{mon % 12 + 1:02d}"


def _write_atomically(path: Path, header: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)
    os.replace(tmp, path)


@dataclass
class SymbolHistory:
    symbol: str
    first_ms: int | None
    last_ms: int | None
    bars: int
    gaps: list[tuple[int, int]]  # (first missing open time, last missing open time)
    files: int

    @property
    def missing(self) -> int:
        return sum((b - a) // MINUTE_MS + 1 for a, b in self.gaps)


class HistoryDir:
    def __init__(self, root: Path) -> None:
        self.root = root

    def month_path(self, symbol: str, month: str) -> Path:
        return self.root / f"{symbol}-{month}.csv"

    def funding_path(self, symbol: str) -> Path:
        return self.root / "funding" / f"{symbol}.csv"

    def months(self, symbol: str) -> list[str]:
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.iterdir():
            m = MONTH_FILE.match(path.name)
            if m and m.group(1) == symbol:
                found.append(f"{m.group(2)}-{m.group(3)}")
        return sorted(found)

    def symbols(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted({m.group(1) for p in self.root.iterdir() if (m := MONTH_FILE.match(p.name))})

    def read_month(self, symbol: str, month: str) -> list[list[str]]:
        path = self.month_path(symbol, month)
        if not path.exists():
            return []
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        return rows[1:]

    def write_month(self, symbol: str, month: str, rows: list[list]) -> None:
        _write_atomically(self.month_path(symbol, month), COLUMNS, rows)

    def open_times(self, symbol: str) -> list[int]:
        times: list[int] = []
        for month in self.months(symbol):
            times += [int(r[0]) for r in self.read_month(symbol, month)]
        return times

    def read_funding(self, symbol: str) -> list[tuple[int, float]]:
        path = self.funding_path(symbol)
        if not path.exists():
            return []
        with path.open(encoding="utf-8", newline="") as fh:
            return [(int(r[0]), float(r[1])) for r in list(csv.reader(fh))[1:]]

    def write_funding(self, symbol: str, settlements: list[tuple[int, float]]) -> None:
        _write_atomically(self.funding_path(symbol), ["fundingTime", "fundingRate"],
                          [(t, repr(r)) for t, r in sorted(dict(settlements).items())])

    def describe(self, symbol: str) -> SymbolHistory:
        times = self.open_times(symbol)
        return SymbolHistory(symbol, times[0] if times else None, times[-1] if times else None, len(times),
                             find_gaps(times), len(self.months(symbol)))


def find_gaps(times: list[int]) -> list[tuple[int, int]]:
    gaps = []
    for before, after in zip(times, times[1:]):
        if after - before > MINUTE_MS:
            gaps.append((before + MINUTE_MS, after - MINUTE_MS))
    return gaps
