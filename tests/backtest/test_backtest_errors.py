"""Bad input ends in one sentence naming the file, line, symbol, range or key, and no results directory."""
from __future__ import annotations

import pytest

from tests.backtest.support import history, write_config, write_dir
from tui.cli import main


@pytest.fixture
def setup(tmp_path, monkeypatch):
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.chdir(tmp_path)
    replay = write_dir(history(bars=300), tmp_path / "replay")
    return tmp_path, write_config(tmp_path / "config.yaml"), replay


def _fails(capsys, tmp_path, *args) -> str:
    out = tmp_path / "results"
    code = main(["backtest", "--quiet", "--no-charts", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".results.*"))  # nothing half-written
    return err


def test_a_missing_file(setup, capsys):
    tmp, config, _ = setup
    err = _fails(capsys, tmp, "--data", str(tmp / "nope.csv"), "--config", str(config))
    assert f"replay file {tmp / 'nope.csv'} does not exist" in err


def test_a_bad_line_names_the_file_and_line(setup, capsys):
    tmp, config, replay = setup
    path = replay / "ETHUSDT.csv"
    lines = path.read_text().splitlines()
    parts = lines[4].split(",")
    parts[5] = "-1"  # a negative close
    lines[4] = ",".join(parts)
    path.write_text("\n".join(lines) + "\n")
    err = _fails(capsys, tmp, "--data", str(replay), "--config", str(config))
    assert f"{path}, line 5: prices must be positive" in err


@pytest.mark.parametrize("args, message", [
    (("--symbols", "BTCUSDT,NOPEUSDT"), "symbol NOPEUSDT is not in"),
    (("--from", "2030-01-01"), "has no bars from 2030-01-01 00:00"),
    (("--set", "max_total_risk=0.5"), "--set: unknown key `max_total_risk`"),
    (("--set", "risk.max_drawdown=2"), "`risk.max_drawdown`: 2.0 is above the maximum 1"),
])
def test_a_symbol_range_or_override_that_does_not_fit(setup, capsys, args, message):
    tmp, config, replay = setup
    err = _fails(capsys, tmp, "--data", str(replay), "--config", str(config), *args)
    assert message in err


def test_an_existing_results_directory_is_kept_unless_forced(setup, capsys):
    tmp, config, replay = setup
    out = tmp / "results"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    args = ["backtest", "--quiet", "--no-charts", "--no-html", "--data", str(replay), "--config", str(config),
            "--out", str(out)]
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err and (out / "mine.txt").exists()
    assert main([*args, "--force"]) == 0
    assert not (out / "mine.txt").exists() and (out / "trades.csv").exists()
