"""`trifactor data fetch` and `trifactor data list`: the local Binance history for backtests.

    trifactor data fetch --from 2026-01-01 [--to 2026-02-01] [--symbols BTCUSDT,ETHUSDT] [--dir DIR]
    trifactor data list [--dir DIR]

The directory (default: `history` in the XDG data dir) is a replay directory:
`trifactor backtest --data DIR` reads it as it is.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine import paths
from engine.config import ConfigError
from engine.history.files import MINUTE_MS, HistoryDir

GAPS_SHOWN = 5


def default_dir() -> Path:
    return paths.data_dir() / "history"


def add_parser(sub: Any) -> None:
    data = sub.add_parser("data", help="download Binance history for backtests, and list what is there")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    fetch = data_sub.add_parser("fetch", help="1m klines with taker-buy volume and funding, resuming where it stopped")
    fetch.add_argument("--from", dest="start", required=True, metavar="TIME", help="first bar (ISO date or time, UTC)")
    fetch.add_argument("--to", dest="end", metavar="TIME", help="end, exclusive (default: now)")
    fetch.add_argument("--symbols", metavar="A,B", help="default: the config's symbol list")
    fetch.add_argument("--dir", metavar="DIR", help=f"history directory (default {default_dir()})")
    fetch.add_argument("--config", metavar="PATH", help="config file (its exchange.base_url is used)")
    listing = data_sub.add_parser("list", help="symbols, ranges and gaps of the local history")
    listing.add_argument("--dir", metavar="DIR", help=f"history directory (default {default_dir()})")
    listing.add_argument("--config", metavar="PATH", help=argparse.SUPPRESS)


def _ms(text: str, option: str) -> int:
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not an ISO date or time (e.g. 2026-01-31)") from None
    ts = ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts
    return int(ts.timestamp() * 1000)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _gap_text(gaps: list[tuple[int, int]]) -> str:
    shown = ", ".join(f"{_when(a)} .. {_when(b)} ({(b - a) // MINUTE_MS + 1} min)" for a, b in gaps[:GAPS_SHOWN])
    more = f" and {len(gaps) - GAPS_SHOWN} more" if len(gaps) > GAPS_SHOWN else ""
    return shown + more


def run_data(args: argparse.Namespace, load_config) -> int:
    target = HistoryDir(Path(args.dir).expanduser() if args.dir else default_dir())
    if args.data_command == "list":
        return _list(target)
    cfg = load_config(args)
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()] if args.symbols else cfg.symbols()
    start = _ms(args.start, "--from") // MINUTE_MS * MINUTE_MS
    end = (_ms(args.end, "--to") if args.end else int(datetime.now(timezone.utc).timestamp() * 1000)) - MINUTE_MS
    if end < start:
        raise ConfigError("--to must be after --from")
    from engine.history.fetch import fetch

    def progress(symbol: str, done: int, total: int) -> None:
        print(f"\r{symbol:<14} {done / total if total else 1:6.1%} of {total:,} minutes", end="", file=sys.stderr,
              flush=True)

    results = asyncio.run(fetch(cfg, symbols, start, end // MINUTE_MS * MINUTE_MS, target, progress=progress))
    print(file=sys.stderr)
    for r in results:
        line = f"{r.symbol}: {r.bars:,} new bars" + (f" in {', '.join(sorted(set(r.months)))}" if r.months else
                                                     " (already up to date)")
        print(line)
        if r.gaps:
            print(f"  {len(r.gaps)} gap(s) in Binance's history, left as they are: {_gap_text(r.gaps)}")
    print(f"history in {target.root}")
    return 0


def _list(target: HistoryDir) -> int:
    symbols = target.symbols()
    if not symbols:
        print(f"no history in {target.root} (fetch some with `trifactor data fetch --from YYYY-MM-DD`)")
        return 0
    print(f"{'symbol':<14} {'first bar':<17} {'last bar':<17} {'bars':>10} {'months':>6} {'gaps':>5} {'missing':>8}")
    for symbol in symbols:
        h = target.describe(symbol)
        print(f"{symbol:<14} {_when(h.first_ms):<17} {_when(h.last_ms):<17} {h.bars:>10,} {h.files:>6} "
              f"{len(h.gaps):>5} {h.missing:>8,}")
        if h.gaps:
            print(f"  gaps: {_gap_text(h.gaps)}")
    print(f"history in {target.root}")
    return 0
