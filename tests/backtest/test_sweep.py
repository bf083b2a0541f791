"""`trifactor sweep`: every combination on a Dask LocalCluster, ranked, resumable; a bad grid fails at once."""
from __future__ import annotations

import csv
import json

import pytest
import yaml

from engine import config as config_mod
from engine.backtest import job
from engine.sweep.grid import GridError, load, nested, split
from tui.cli import main

GRID = {"market": "sim", "seed": 7, "bars": 1200, "symbols": ["BTCUSDT", "ETHUSDT"],
        "grid": {"strategy_v2.change_threshold_mult": [0.2, 0.6], "risk.rebalance_band_usd": [5, 40]},
        "rank_by": "sharpe", "heatmap": ["strategy_v2.change_threshold_mult", "risk.rebalance_band_usd"]}
FAST = {"lookback_long": 20, "lookback_medium": 10, "lookback_short": 5, "funding_roll": 10, "mr_roll": 10,
        "flow_roll": 10, "perf_roll": 10, "perf_smooth_span": 5, "change_threshold_window": 5}


def _write(tmp_path, **changes):
    config = tmp_path / "base.yaml"
    config.write_text(yaml.safe_dump({"strategy_v2": FAST, "max_position_risk_per_trade": 0.05}))
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({**GRID, "config": str(config), **changes}))
    return grid


def test_a_sweep_runs_every_combination_then_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    grid, out = _write(tmp_path), tmp_path / "out"
    assert main(["sweep", str(grid), "--workers", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    with (out / "runs.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {json.dumps(json.loads(r["params"]), sort_keys=True) for r in rows} == {r["key"] for r in rows}
    assert "ranked by sharpe" in printed and "brighter is higher" in printed
    bands = {json.loads(r["params"])["risk.rebalance_band_usd"]: int(float(r["trades"])) for r in rows
             if json.loads(r["params"])["strategy_v2.change_threshold_mult"] == 0.2}
    assert bands[5] > bands[40]  # the parameters reached the engine's sizing

    # Interrupted after one run: started again, only the three others run.
    (out / "runs.csv").write_text("".join((out / "runs.csv").read_text().splitlines(keepends=True)[:2])
                                  + "partial,line-cut-short")
    assert main(["sweep", str(grid), "--workers", "1", "--out", str(out)]) == 0
    with (out / "runs.csv").open() as fh:
        again = [r for r in csv.DictReader(fh) if r.get("seconds")]
    assert len(again) == 4 and again[0] == rows[0]


def test_symbol_shards_are_runs_of_their_own_each_the_backtest_of_its_symbols(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    grid = _write(tmp_path, symbols=symbols, shards=2, grid={"risk.rebalance_band_usd": [5, 40]},
                  heatmap=None)
    out = tmp_path / "out"
    assert main(["sweep", str(grid), "--workers", "1", "--out", str(out)]) == 0
    assert "symbols" in capsys.readouterr().out
    with (out / "runs.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((json.loads(r["params"])["risk.rebalance_band_usd"], r["symbols"]) for r in rows) == [
        (5, "BTCUSDT ETHUSDT"), (5, "SOLUSDT"), (40, "BTCUSDT ETHUSDT"), (40, "SOLUSDT")]
    # A shard's run is the backtest of those symbols alone, with the combination's parameters.
    row = next(r for r in rows if r["symbols"] == "SOLUSDT" and json.loads(r["params"])["risk.rebalance_band_usd"] == 5)
    loaded = load(grid)
    alone = job.run(job.Request(config_mod.load(loaded.config, nested({"risk.rebalance_band_usd": 5})), "sim",
                                seed=GRID["seed"], bars=GRID["bars"], symbols=["SOLUSDT"]))
    assert row["final_equity"] == alone.summary["final_equity"] and int(row["trades"]) == alone.summary["trades"]
    # Started again, nothing runs again.
    assert main(["sweep", str(grid), "--workers", "1", "--out", str(out)]) == 0
    assert (out / "runs.csv").read_text().count("\n") == 5


def test_shards_split_the_symbols_evenly_in_order():
    assert split(["A", "B", "C", "D", "E"], 2) == [["A", "B", "C"], ["D", "E"]]
    assert split(["A", "B"], 2) == [["A"], ["B"]]


def test_a_grid_naming_an_unknown_parameter_fails_before_anything_runs(tmp_path):
    grid = _write(tmp_path, grid={"risk.max_drawdwn": [0.1, 0.2]}, heatmap=None)
    with pytest.raises(GridError, match=r"grid.yaml: grid: unknown key `risk.max_drawdwn`"):
        load(grid)
    grid = _write(tmp_path, heatmap=["leverage", "risk.rebalance_band_usd"])
    with pytest.raises(GridError, match="`heatmap` must name two keys of `grid`"):
        load(grid)
    grid = _write(tmp_path, shards=3)
    with pytest.raises(GridError, match="`shards` needs `symbols`, at least one per shard"):
        load(grid)
