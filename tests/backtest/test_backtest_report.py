"""The results directory: trades and equity CSVs, the summary, and an HTML report that stands alone."""
from __future__ import annotations

import csv
import json
from html.parser import HTMLParser

from engine.backtest.results import SUMMARY_ROWS, format_value
from tests.backtest.support import history, write_config, write_dir
from tui.cli import main


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []
        self.external: list[str] = []
        self.cells: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "script":
            self._in_script = True
            self.scripts.append("")
            if attrs.get("src"):
                self.external.append(attrs["src"])
        if tag == "link" and attrs.get("href", "").startswith("http"):
            self.external.append(attrs["href"])
        if tag not in ("meta", "br", "link"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        elif self.stack and self.stack[-1] == "td":
            self.cells.append(data.strip())


def test_results_and_a_self_contained_report(tmp_path, monkeypatch, capsys):
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name))
    replay = write_dir(history(bars=1500), tmp_path / "replay")
    out = tmp_path / "results"
    code = main(["backtest", "--quiet", "--data", str(replay), "--config", str(write_config(tmp_path / "c.yaml")),
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "Sharpe (daily)" in printed and "Per symbol" in printed and "Equity (USDT) by day" in printed

    with (out / "trades.csv").open() as fh:
        trades = list(csv.DictReader(fh))
    assert len(trades) == summary["trades"] > 0
    with (out / "equity.csv").open() as fh:
        equity = list(csv.DictReader(fh))
    assert len(equity) == 1500 and abs(float(equity[-1]["equity"]) - float(summary["final_equity"])) < 0.01

    page = _Page()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    page.close()
    assert not page.stack  # every element closed
    assert not page.external  # nothing fetched from the network
    assert any("plotly" in s.lower() and len(s) > 1_000_000 for s in page.scripts)  # the library, inline
    assert {"chart-equity", "chart-drawdown", "chart-exposure", "chart-pnl"} <= page.ids
    for label, key, kind in SUMMARY_ROWS:
        assert label in page.cells and format_value(summary[key], kind) in page.cells
    assert set(summary["symbols"]) <= set(page.cells)


def test_db_writes_the_backtest_into_a_store_of_its_own(tmp_path, monkeypatch, capsys):
    import sqlite3
    from decimal import Decimal

    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name))
    replay = write_dir(history(bars=1200), tmp_path / "replay")
    config = str(write_config(tmp_path / "c.yaml"))
    db = tmp_path / "backtests.db"
    args = ["backtest", "--quiet", "--no-charts", "--no-html", "--data", str(replay), "--config", config]
    assert main([*args, "--out", str(tmp_path / "a"), "--db", f"sqlite:///{db}"]) == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    with sqlite3.connect(db) as conn:
        trades = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
        (equity,), = conn.execute("SELECT total_equity FROM performance ORDER BY id DESC LIMIT 1")
    assert trades == summary["trades"] and Decimal(equity) == Decimal(summary["final_equity"]).quantize(Decimal("1e-18"))
    # Never the engine's own store (the default one here): its paper book would come back next session.
    own = f"sqlite:///{tmp_path / 'XDG_DATA_HOME' / 'trifactor' / 'trifactor.db'}"
    assert main([*args, "--out", str(tmp_path / "b"), "--db", own]) == 2
    assert "is the engine's own store" in capsys.readouterr().err
