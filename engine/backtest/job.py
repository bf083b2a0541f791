"""One backtest from start to finish: data, targets, the engine's decisions, results on disk.

Results are written into a temporary directory beside the destination and renamed into place
at the end, so a results directory is either complete or absent.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np

from engine.backtest import runner
from engine.backtest.data import DataError, MarketData, load_replay, sim_data
from engine.backtest.factors import compute_targets
from engine.backtest.results import Curve, equity_curve, per_symbol, summary
from engine.config import Config

MAX_EQUITY_ROWS = 100_000
TRADE_COLUMNS = ("time", "symbol", "side", "quantity", "price", "fee", "realized_pnl", "factor")


@dataclass
class Request:
    config: Config
    market: str  # "replay" or "sim"
    data_path: str | None = None
    seed: int = 42
    bars: int = 10_000
    symbols: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    overrides: dict = field(default_factory=dict)
    threads: int | None = None  # symbols whose factors are computed at once (default: one per core)


@dataclass
class Result:
    request: Request
    data: MarketData
    outcome: runner.RunOutcome
    curve: Curve
    summary: dict
    per_symbol: list[dict]
    seconds: dict[str, float]


def load_data(request: Request) -> MarketData:
    if request.market == "sim":
        symbols = request.symbols or request.config.symbols()
        data = sim_data(symbols, request.seed, request.bars)
        return data.select(None, request.start, request.end)
    path = request.data_path or request.config.replay_path
    if not path:
        raise DataError("a replay backtest needs --data PATH (a replay CSV file or directory) or `replay_path`")
    data = load_replay(path, frozenset(request.config.universe.exclude_symbols))
    return data.select(request.symbols, request.start, request.end)


Progress = Callable[[str, int, int], None]  # (stage, done, total)


def run(request: Request, progress: Progress | None = None, *, skip_quiet: bool = True,
        data: MarketData | None = None) -> Result:
    """The whole backtest; `data` given (already in memory) is used instead of loading the request's."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    if data is None:
        data = load_data(request)
    seconds["load"] = time.perf_counter() - clock
    total = data.bars
    done = [0]

    def factor_progress(bars: int) -> None:
        done[0] += bars
        if progress:
            progress("factors", done[0], total)

    clock = time.perf_counter()
    targets = compute_targets(data, request.config.strategy_params(), factor_progress, request.threads)
    seconds["factors"] = time.perf_counter() - clock
    minutes = len(data.times)
    clock = time.perf_counter()
    outcome = runner.run(request.config, data, targets, skip_quiet=skip_quiet,
                         progress=(lambda i: progress("trading", i, minutes)) if progress else None)
    seconds["trading"] = time.perf_counter() - clock
    del targets
    clock = time.perf_counter()
    curve = equity_curve(data, outcome)
    result = Result(request, data, outcome, curve, summary(data, outcome, curve), per_symbol(data, outcome), seconds)
    seconds["results"] = time.perf_counter() - clock
    return result


# -- files -------------------------------------------------------------------------------

def write(result: Result, out: Path, *, html: bool = True, force: bool = False) -> Path:
    out = out.expanduser()
    if out.exists() and any(out.iterdir()) and not force:
        raise DataError(f"results directory {out} already exists and is not empty (use --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; results are ordinary files
    try:
        _write_trades(result, staging / "trades.csv")
        _write_equity(result, staging / "equity.csv")
        _write_json(staging / "per_symbol.json", result.per_symbol)
        _write_json(staging / "summary.json", {**result.summary, "config": config_used(result),
                                                "data": data_used(result), "seconds": result.seconds})
        if html:
            from engine.backtest.html import write_report

            write_report(result, staging / "report.html")
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _replace(staging: Path, out: Path) -> None:
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.rename(out, old / out.name)
        os.rename(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, out)


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, default=str) + "\n", encoding="utf-8")


def _write_trades(result: Result, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(TRADE_COLUMNS) + "\n")
        for _, f in result.outcome.recorded.fills:
            factor = "" if f.factor is None else repr(f.factor)
            fh.write(f"{f.ts:%Y-%m-%dT%H:%M:%SZ},{f.symbol},{f.side.value},{f.quantity:f},{f.price:f},{f.fee:f},"
                     f"{f.realized_pnl:f},{factor}\n")


def equity_rows(curve: Curve) -> np.ndarray:
    """Which minutes the equity file holds: all of them up to MAX_EQUITY_ROWS, else evenly thinned (plus the last)."""
    n = len(curve.times)
    if n <= MAX_EQUITY_ROWS:
        return np.arange(n)
    every = -(-n // MAX_EQUITY_ROWS)
    rows = np.arange(0, n, every)
    return rows if rows[-1] == n - 1 else np.append(rows, n - 1)


def _write_equity(result: Result, path: Path) -> None:
    curve = result.curve
    rows = equity_rows(curve)
    peaks = np.maximum.accumulate(curve.equity)
    drawdown = np.where(peaks > 0, 1 - curve.equity / peaks, 0.0)
    stamps = np.datetime_as_string(curve.times[rows].astype("datetime64[ns]"), unit="s")
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("time,equity,drawdown,gross_notional,exposure\n")
        for ts, eq, dd, gross in zip(stamps.tolist(), curve.equity[rows].tolist(), drawdown[rows].tolist(),
                                     curve.gross[rows].tolist()):
            fh.write(f"{ts}Z,{eq:.6f},{dd:.8f},{gross:.6f},{gross / eq if eq > 0 else 0.0:.8f}\n")


def config_used(result: Result) -> dict:
    import dataclasses

    cfg = result.request.config
    return {"strategy": cfg.strategy_params(), "risk": dataclasses.asdict(cfg.risk),
            "paper": dataclasses.asdict(cfg.paper), "leverage": cfg.leverage,
            "initial_capital_usd": cfg.initial_capital_usd,
            "max_position_risk_per_trade": cfg.max_position_risk_per_trade,
            "max_total_risk_exposure": cfg.max_total_risk_exposure, "overrides": result.request.overrides}


def data_used(result: Result) -> dict:
    r, d = result.request, result.data
    source = {"market": r.market, "source": d.source, "files": d.files}
    if r.market == "sim":
        source.update(seed=r.seed, bars=r.bars)
    return source
