"""Running a sweep's backtests as tasks on Dask distributed, and keeping their results.

Each task is one backtest (`run_one`, importable on any worker that has the package and the
data): one parameter combination, on all the grid's symbols or on one shard of them. Finished runs are appended to `runs.csv` one whole line at a time, so an interrupted
sweep keeps them, and a sweep started again skips every run already in the file.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Callable

from engine.sweep.grid import RANKABLE, Grid, nested, run_key

COLUMNS = ("key", "params", "symbols", *RANKABLE, "seconds")


def run_one(config_path: str | None, params: dict, spec: dict, shard: list[str] | None = None) -> dict:
    """One backtest of the sweep (on `shard`'s symbols, if given); returns its row (runs on a worker)."""
    from engine import config as config_mod
    from engine.backtest import job

    cfg = config_mod.load(config_path, nested(params))
    request = job.Request(cfg, spec["market"], data_path=spec["data"], seed=spec["seed"], bars=spec["bars"],
                          symbols=shard or spec["symbols"], start=spec["start"], end=spec["end"], overrides=params,
                          threads=1)  # the cluster already runs one task per worker thread
    result = job.run(request)
    s = result.summary
    row = {"key": run_key(params, shard), "params": json.dumps(params, sort_keys=True),
           "symbols": " ".join(s["symbols"])}
    row.update({name: s[name] for name in RANKABLE})
    row["seconds"] = round(sum(result.seconds.values()), 3)
    return row


def spec_of(grid: Grid) -> dict:
    return {"market": grid.market, "data": grid.data, "seed": grid.seed, "bars": grid.bars, "symbols": grid.symbols,
            "start": grid.start, "end": grid.end}


def read_runs(path: Path) -> dict[str, dict]:
    """Rows already written, by key; a last line cut short by a crash is ignored."""
    if not path.exists():
        return {}
    out = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if None in row.values() or not row.get("seconds"):
                continue
            out[row["key"]] = row
    return out


def append_run(path: Path, row: dict) -> None:
    new = not path.exists()
    cut_short = not new and path.stat().st_size and path.read_bytes()[-1:] != b"\n"
    with path.open("a", encoding="utf-8", newline="") as fh:
        if cut_short:
            fh.write("\n")  # a line a crash cut short stays alone (and ignored)
        out = csv.writer(fh)
        if new:
            out.writerow(COLUMNS)
        out.writerow([row[c] for c in COLUMNS])
        fh.flush()
        os.fsync(fh.fileno())


def run_sweep(grid: Grid, out: Path, client, progress: Callable[[int, int], None] | None = None) -> dict[str, dict]:
    """Every run of the grid (each combination, on each shard) not yet in `out/runs.csv`, as Dask
    tasks; returns all rows by key."""
    from distributed import as_completed

    out.mkdir(parents=True, exist_ok=True)
    path = out / "runs.csv"
    done = read_runs(path)
    tasks = grid.tasks
    todo = [(params, shard) for params, shard in tasks if run_key(params, shard) not in done]
    spec = spec_of(grid)
    futures = [client.submit(run_one, grid.config, params, spec, shard, key=f"backtest-{i}-{run_key(params, shard)}",
                             pure=False)
               for i, (params, shard) in enumerate(todo)]
    finished = len(tasks) - len(todo)
    if progress:
        progress(finished, len(tasks))
    for future in as_completed(futures):
        row = future.result()
        append_run(path, row)
        done[row["key"]] = row
        finished += 1
        if progress:
            progress(finished, len(tasks))
    return {run_key(p, shard): done[run_key(p, shard)] for p, shard in tasks}
