"""`trifactor backtest`: the engine's decisions over history, results to a directory and the terminal.

    trifactor backtest --data DIR_OR_CSV [--symbols A,B] [--from 2026-01-01] [--to 2026-02-01]
    trifactor backtest --market sim --seed 7 --bars 20000
    ... [--config PATH] [--set key=value ...] [--out DIR] [--no-html] [--no-charts] [--quiet]
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine import config as config_mod

def add_parser(sub: Any) -> None:
    p = sub.add_parser("backtest", help="run the engine's strategy, sizing, breakers and paper fills over history")
    p.add_argument("--market", dest="source", choices=("replay", "sim"), default="replay",
                   help="replay files (default) or the simulated market")
    p.add_argument("--data", metavar="PATH", help="replay CSV file or directory (default: the config's replay_path)")
    p.add_argument("--seed", type=int, help="seed of the simulated market (default: the config's sim.seed)")
    p.add_argument("--bars", type=int, default=10_000, metavar="N", help="minutes of the simulated market")
    p.add_argument("--symbols", metavar="A,B", help="only these symbols (default: all in the data; sim: the config's)")
    p.add_argument("--from", dest="start", metavar="TIME", help="first bar (ISO date or time, UTC)")
    p.add_argument("--to", dest="end", metavar="TIME", help="end of the range, exclusive (ISO date or time, UTC)")
    p.add_argument("--config", metavar="PATH", help="config file (default: XDG config dir, if present)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. max_total_risk_exposure=0.5 or risk.max_drawdown=0.1")
    p.add_argument("--out", metavar="DIR", help="results directory (default: ./backtests/<UTC time>)")
    p.add_argument("--force", action="store_true", help="replace an existing results directory")
    p.add_argument("--no-html", action="store_true", help="no HTML report")
    p.add_argument("--no-charts", action="store_true", help="no terminal charts")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--db", dest="store_url", metavar="URL", help="also write the fills, funding and final book "
                   "into this store (sqlite:///path or mysql://...; never the engine's own)")


def parse_overrides(items: list[str]) -> dict:
    """`a.b=value` items as the nested mapping the config loader takes (values are YAML scalars)."""
    import yaml  # only for --set: a run without a config file never loads PyYAML

    out: dict = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise config_mod.ConfigError(f"--set {item!r}: expected KEY=VALUE")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise config_mod.ConfigError(f"--set {key}: {text!r} is not a value") from None
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise config_mod.ConfigError(f"--set {key}: `{part}` is set twice")
        node[parts[-1]] = value
    return out


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise config_mod.ConfigError(f"{option} {text!r} is not an ISO date or time (e.g. 2026-01-31 or "
                                     f"2026-01-31T08:00)") from None
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


class ProgressBar:
    """One line on stderr: stage, bar, percent, rate and time left; redrawn at most 5 times a second."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.stage = ""
        self.started = 0.0
        self.shown = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage:
            if self.stage:
                self.stream.write("\n")
            self.stage, self.started, self.shown = stage, now, 0.0
        if now - self.shown < 0.2 and done < total:
            return
        self.shown = now
        fraction = done / total if total else 1.0
        elapsed = now - self.started
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        filled = int(fraction * 30)
        self.stream.write(f"\r{stage:<8} [{'#' * filled}{'.' * (30 - filled)}] {fraction:6.1%}  "
                          f"{done / elapsed if elapsed > 0 else 0:>10,.0f}/s  eta {eta:5.0f} s ")
        self.stream.flush()

    def close(self) -> None:
        if self.stage:
            self.stream.write("\n")
            self.stream.flush()


def run_backtest(args: argparse.Namespace, load_config, engine_store_url=None) -> int:
    from engine.backtest import job

    overrides = parse_overrides(args.overrides)
    if overrides:
        config_mod.from_mapping(overrides, "--set")  # names the bad key as a command-line one
    cfg = load_config(args, overrides)
    if args.store_url and engine_store_url is not None and args.store_url == engine_store_url(cfg):
        raise config_mod.ConfigError(f"--db {args.store_url} is the engine's own store, whose paper book the next "
                                     f"session restores; give backtests a database of their own")
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()] if args.symbols else None
    request = job.Request(cfg, args.source, data_path=args.data,
                          seed=args.seed if args.seed is not None else cfg.sim.seed, bars=args.bars,
                          symbols=symbols, start=_time(args.start, "--from"), end=_time(args.end, "--to"),
                          overrides=overrides)
    bar = None if args.quiet else ProgressBar()
    try:
        result = job.run(request, bar)
    finally:
        if bar is not None:
            bar.close()
    out = Path(args.out) if args.out else Path("backtests") / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    written = job.write(result, out, html=not args.no_html, force=args.force)
    if args.store_url:
        from engine.secrets import Secrets
        from tui.backtest_store import record

        secrets_file = cfg.exchange.secrets_file
        count = record(result, args.store_url, cfg, Secrets.load(Path(secrets_file).expanduser() if secrets_file
                                                                  else None))
        print(f"{count:,} rows of the backtest written to {args.store_url}")
    print_summary(result)
    if not args.no_charts:
        print_charts(result)
    seconds = sum(result.seconds.values())
    print(f"{result.data.bars:,} symbol-bars in {seconds:.1f} s ({result.data.bars / seconds:,.0f}/s); "
          f"results in {written}")
    return 0


def print_summary(result) -> None:
    from rich.console import Console

    from engine.backtest.results import SUMMARY_ROWS, format_value
    from rich.table import Table

    s = result.summary
    console = Console()
    table = Table(title=f"Backtest {s['start'][:16].replace('T', ' ')} .. {s['end'][:16].replace('T', ' ')} UTC  "
                        f"({s['days']:.2f} days, "
                        f"{s['bars']:,} bars)")
    table.add_column("Measure")
    table.add_column("Value", justify="right")
    for label, key, kind in SUMMARY_ROWS:
        table.add_row(label, format_value(s[key], kind))
    console.print(table)
    symbols = Table(title="Per symbol")
    for name in ("Symbol", "Trades", "Realized", "Unrealized", "Fees", "Funding", "Net PnL", "Win rate"):
        symbols.add_column(name, justify="left" if name == "Symbol" else "right")
    for r in result.per_symbol:
        symbols.add_row(r["symbol"], str(r["trades"]), *(format_value(r[k], "money") for k in
                        ("realized", "unrealized", "fees", "funding", "net_pnl")), format_value(r["win_rate"], "pct"))
    console.print(symbols)
    for note in s["notes"][:10]:
        console.print(f"[yellow]{note}[/yellow]")


def print_charts(result) -> None:
    import numpy as np
    import plotext as plt

    curve = result.curve
    n = len(curve.times)
    rows = np.unique(np.linspace(0, n - 1, min(n, 400)).astype(int))
    days = ((curve.times[rows] - curve.times[0]) / 86_400e9).tolist()
    equity = curve.equity[rows]
    peaks = np.maximum.accumulate(curve.equity)[rows]
    width = min(120, max(60, plt.terminal_width() or 100))
    for title, values in (("Equity (USDT) by day", equity.tolist()),
                          ("Drawdown (%) by day", (-(1 - equity / peaks) * 100).tolist())):
        plt.clear_figure()
        plt.plot(days, values)
        plt.title(title)
        plt.plotsize(width, 15)
        plt.theme("clear")
        plt.show()
