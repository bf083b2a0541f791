"""Sweep scaling on Dask distributed: the same grid on a LocalCluster of 1 worker, then 2.

Run from the repository root:  python benchmarks/sweep.py

Eight backtests (the sim, 2 symbols x 4,000 bars, four rebalance bands x two change
thresholds). Each cluster is started before its clock starts. The speed-up is 1-worker time
over 2-worker time (at most 2 on two idle cores; a busy machine gives less).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

import yaml  # noqa: E402

GRID = {"market": "sim", "seed": 3, "bars": 4000, "symbols": ["BTCUSDT", "ETHUSDT"],
        "grid": {"risk.rebalance_band_usd": [5, 10, 20, 40], "strategy_v2.change_threshold_mult": [0.3, 0.6]}}


def timed_sweep(workers: int, grid_path: Path, out: Path) -> float:
    from distributed import Client, LocalCluster

    from engine.sweep.grid import load
    from engine.sweep.run import run_sweep

    grid = load(grid_path)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(lambda: __import__("engine.backtest.job"))  # imports are not part of the figure
        clock = time.perf_counter()
        run_sweep(grid, out, client)
        return time.perf_counter() - clock


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        grid = Path(tmp) / "grid.yaml"
        grid.write_text(yaml.safe_dump(GRID))
        runs = len(GRID["grid"]["risk.rebalance_band_usd"]) * len(GRID["grid"]["strategy_v2.change_threshold_mult"])
        one = timed_sweep(1, grid, Path(tmp) / "one")
        two = timed_sweep(2, grid, Path(tmp) / "two")
    print(f"{runs} backtests: 1 worker {one:.1f} s, 2 workers {two:.1f} s, speed-up {one / two:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
