"""A sweep's grid file: the data, the base config, and the parameters to vary.

    market: replay            # or sim (then seed, bars)
    data: ~/history           # replay file or directory (market replay)
    symbols: [BTCUSDT, ETHUSDT]
    from: 2026-01-01          # optional range
    to: 2026-02-01
    config: ~/trifactor.yaml  # optional base config
    grid:                     # config keys (dotted for sections) and the values to try
      max_total_risk_exposure: [0.1, 0.2, 0.3]
      risk.rebalance_band_usd: [10, 20, 40]
    samples: 6                # optional: this many combinations drawn at random (seeded), not all
    shards: 2                 # optional: the symbols split into this many groups, each backtested
                              # as a book of its own (one task per combination and shard)
    sample_seed: 1
    rank_by: sharpe           # a summary figure
    heatmap: [max_total_risk_exposure, risk.rebalance_band_usd]

Every combination is validated by the config loader before anything runs, so a grid naming an
unknown key fails at once with the file and the key.
"""
from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from engine import config as config_mod

RANKABLE = ("total_return", "annual_return", "sharpe", "sortino", "max_drawdown", "win_rate", "final_equity",
            "fees", "turnover", "trades")
KEYS = {"market", "data", "seed", "bars", "symbols", "from", "to", "config", "grid", "samples", "sample_seed",
        "rank_by", "heatmap", "shards"}


class GridError(config_mod.ConfigError):
    """A grid file that cannot be used; the message names the file and the key."""


@dataclass
class Grid:
    path: Path
    market: str
    data: str | None
    seed: int
    bars: int
    symbols: list[str] | None
    start: datetime | None
    end: datetime | None
    config: str | None
    params: dict[str, list]
    rank_by: str = "sharpe"
    heatmap: tuple[str, str] | None = None
    runs: list[dict] = field(default_factory=list)  # the combinations, each {dotted key: value}
    shards: list[list[str]] | None = None  # the symbols' groups, each a backtest of its own; None: all at once

    @property
    def tasks(self) -> list[tuple[dict, list[str] | None]]:
        """One backtest per combination and shard: (parameters, its symbols or None for the grid's)."""
        return [(params, shard) for params in self.runs for shard in (self.shards or [None])]


def nested(flat: dict) -> dict:
    """{"risk.max_drawdown": 0.1} -> {"risk": {"max_drawdown": 0.1}}."""
    out: dict = {}
    for key, value in flat.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def run_key(params: dict, shard: list[str] | None = None) -> str:
    if shard is None:
        return json.dumps(params, sort_keys=True)
    return json.dumps({"params": params, "symbols": shard}, sort_keys=True)


def split(symbols: list[str], shards: int) -> list[list[str]]:
    """`symbols` in `shards` groups of sizes differing by at most one, in their order."""
    size, extra = divmod(len(symbols), shards)
    out, start = [], 0
    for n in range(shards):
        end = start + size + (n < extra)
        out.append(symbols[start:end])
        start = end
    return out


def _time(value, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        ts = value
    else:
        try:
            ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise GridError(f"{where}: {value!r} is not an ISO date or time") from None
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts


def load(path: Path) -> Grid:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GridError(f"grid file {path} does not exist") from None
    except yaml.YAMLError as e:
        raise GridError(f"{path}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise GridError(f"{path}: the top level must be a mapping")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise GridError(f"{path}: unknown key `{unknown[0]}` (known: {', '.join(sorted(KEYS))})")
    params = raw.get("grid")
    if not isinstance(params, dict) or not params:
        raise GridError(f"{path}: `grid` must map config keys to lists of values")
    for key, values in params.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"{path}: `grid.{key}` must be a non-empty list of values")
    market = raw.get("market", "replay")
    if market not in ("replay", "sim"):
        raise GridError(f"{path}: `market` must be replay or sim, got {market!r}")
    symbols = raw.get("symbols")
    if symbols is not None and not (isinstance(symbols, list) and all(isinstance(s, str) for s in symbols)):
        raise GridError(f"{path}: `symbols` must be a list of symbols")
    rank_by = raw.get("rank_by", "sharpe")
    if rank_by not in RANKABLE:
        raise GridError(f"{path}: `rank_by` must be one of {', '.join(RANKABLE)}, got {rank_by!r}")
    heatmap = raw.get("heatmap")
    if heatmap is not None:
        if not (isinstance(heatmap, list) and len(heatmap) == 2 and all(h in params for h in heatmap)):
            raise GridError(f"{path}: `heatmap` must name two keys of `grid`")
        heatmap = (heatmap[0], heatmap[1])
    base = raw.get("config")
    grid = Grid(path, market, raw.get("data"), int(raw.get("seed", 42)), int(raw.get("bars", 10_000)),
                [s.upper() for s in symbols] if symbols else None, _time(raw.get("from"), f"{path}: `from`"),
                _time(raw.get("to"), f"{path}: `to`"), str(Path(base).expanduser()) if base else None,
                params, rank_by, heatmap)
    names = list(params)
    combos = [dict(zip(names, values)) for values in itertools.product(*params.values())]
    samples = raw.get("samples")
    if samples is not None:
        if not isinstance(samples, int) or samples < 1:
            raise GridError(f"{path}: `samples` must be a whole number of runs")
        combos = random.Random(raw.get("sample_seed", 1)).sample(combos, min(samples, len(combos)))
    shards = raw.get("shards")
    if shards is not None:
        if not isinstance(shards, int) or isinstance(shards, bool) or shards < 1:
            raise GridError(f"{path}: `shards` must be a whole number of symbol groups")
        if not grid.symbols or shards > len(grid.symbols):
            raise GridError(f"{path}: `shards` needs `symbols`, at least one per shard")
        grid.shards = split(grid.symbols, shards)
    for combo in combos:
        try:
            config_mod.load(grid.config, nested(combo))
        except config_mod.ConfigError as e:
            raise GridError(f"{path}: grid: {str(e).split(': ', 1)[-1]}") from None
    grid.runs = combos
    return grid
