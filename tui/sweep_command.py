"""`trifactor sweep GRID.yaml`: one backtest per parameter combination, on Dask distributed.

    trifactor sweep grid.yaml [--out DIR] [--workers N] [--scheduler tcp://host:8786] [--top N]

By default a LocalCluster on this machine's cores; `--scheduler` uses a running cluster, whose
workers need only the package and the data. A grid with `shards` runs each combination on each
group of its symbols (a book of its own). Results: a ranked table (a row per run: combination
and shard), a plotext heatmap of the grid's two `heatmap` keys, and `runs.csv` with every run.
Started again, a sweep skips the runs already in `runs.csv`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PERCENT = {"total_return", "annual_return", "max_drawdown", "win_rate"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sweep", help="a backtest per parameter combination of GRID.yaml, on Dask distributed")
    p.add_argument("grid", metavar="GRID.yaml")
    p.add_argument("--out", metavar="DIR", help="results directory (default: sweeps/<grid name>)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://host:8786 (default: a "
                                                          "LocalCluster here)")
    p.add_argument("--workers", type=int, metavar="N", help="LocalCluster workers (default: the cores)")
    p.add_argument("--top", type=int, default=15, metavar="N", help="rows of the ranked table")


def _value(name: str, text) -> str:
    value = float(text)
    return f"{value:.2%}" if name in PERCENT else f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"


def run_sweep_command(args: argparse.Namespace) -> int:
    from engine.sweep import grid as grid_mod
    from engine.sweep.run import run_sweep

    grid = grid_mod.load(Path(args.grid).expanduser())
    out = Path(args.out) if args.out else Path("sweeps") / grid.path.stem
    from distributed import Client, LocalCluster

    from engine.backtest.factors import usable_cores

    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        workers = args.workers or usable_cores()  # the cores this process may use, as the factors count
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)

    def progress(done: int, total: int) -> None:
        print(f"\rsweep: {done}/{total} runs", end="", file=sys.stderr, flush=True)

    try:
        rows = run_sweep(grid, out, client, progress)
    finally:
        print(file=sys.stderr)
        client.close()
        if cluster is not None:
            cluster.close()
    print_ranked(grid, rows, args.top)
    if grid.heatmap:
        print_heatmap(grid, rows)
    print(f"{len(rows)} runs in {out / 'runs.csv'}")
    return 0


def ranked(grid, rows: dict) -> list[dict]:
    reverse = grid.rank_by != "max_drawdown"  # a smaller drawdown ranks higher
    return sorted(rows.values(), key=lambda r: float(r[grid.rank_by]), reverse=reverse)


def print_ranked(grid, rows: dict, top: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Sweep {grid.path.name}: {len(rows)} runs, ranked by {grid.rank_by}")
    table.add_column("#", justify="right")
    for name in grid.params:
        table.add_column(name, justify="right")
    if grid.shards:
        table.add_column("symbols")
    for name in ("total_return", "sharpe", "sortino", "max_drawdown", "trades"):
        table.add_column(name, justify="right")
    for n, row in enumerate(ranked(grid, rows)[:top], 1):
        params = json.loads(row["params"])
        table.add_row(str(n), *(str(params[k]) for k in grid.params), *([row["symbols"]] if grid.shards else []),
                      *(_value(k, row[k]) for k in ("total_return", "sharpe", "sortino", "max_drawdown")),
                      str(int(float(row["trades"]))))
    Console().print(table)


def heatmap_cells(grid, rows: dict) -> tuple[list, list, list[list[float | None]]]:
    """Mean of the ranking figure for each pair of the two heatmap keys (over the other keys and the shards)."""
    x_key, y_key = grid.heatmap
    xs, ys = grid.params[x_key], grid.params[y_key]
    sums: dict[tuple, list[float]] = {}
    for row in rows.values():
        params = json.loads(row["params"])
        sums.setdefault((params[x_key], params[y_key]), []).append(float(row[grid.rank_by]))
    cells = [[(sum(v) / len(v)) if (v := sums.get((x, y))) else None for x in xs] for y in ys]
    return xs, ys, cells


def print_heatmap(grid, rows: dict) -> None:
    import plotext as plt

    xs, ys, cells = heatmap_cells(grid, rows)
    known = [v for line in cells for v in line if v is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    span = (hi - lo) or 1.0
    # Each cell drawn as a block of characters, so a small grid is still readable.
    block_w, block_h = max(4, 60 // len(xs)), max(2, 12 // len(ys))
    shades = [[int(40 + 215 * ((v - lo) / span)) if v is not None else 0 for v in line for _ in range(block_w)]
              for line in cells for _ in range(block_h)]
    plt.clear_figure()
    plt.matrix_plot(shades)
    plt.title(f"{grid.rank_by} (brighter is higher, {lo:.2f} .. {hi:.2f})")
    plt.xlabel(f"{grid.heatmap[0]}: {', '.join(map(str, xs))}")
    plt.ylabel(f"{grid.heatmap[1]}: {', '.join(map(str, ys))} (top to bottom)")
    plt.xticks([])
    plt.yticks([])
    plt.plotsize(block_w * len(xs) + 6, block_h * len(ys) + 6)
    plt.show()
    width = max(12, *(len(str(x)) + 2 for x in xs))
    print(f"{grid.heatmap[1]:>22} | " + "".join(f"{str(x):>{width}}" for x in xs))
    for y, line in zip(ys, cells):
        print(f"{str(y):>22} | " + "".join(f"{'-' if v is None else _value(grid.rank_by, v):>{width}}" for v in line))
