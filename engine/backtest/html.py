"""A self-contained HTML report of one backtest: opens offline (plotly's JavaScript is inline).

Charts: equity, drawdown, exposure and PnL per symbol; then the summary, the per-symbol table,
the configuration used and the data range.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from engine.backtest.results import SUMMARY_ROWS, format_value

if TYPE_CHECKING:
    from engine.backtest.job import Result

CHART_POINTS = 4000


def _thin(n: int) -> np.ndarray:
    if n <= CHART_POINTS:
        return np.arange(n)
    rows = np.linspace(0, n - 1, CHART_POINTS).astype(int)
    return np.unique(rows)


def _layout(fig: go.Figure, title: str, y_title: str, percent: bool = False) -> go.Figure:
    fig.update_layout(title=title, template="plotly_white", height=320, margin=dict(l=60, r=20, t=50, b=40),
                      yaxis_title=y_title, showlegend=False)
    if percent:
        fig.update_yaxes(tickformat=".1%")
    return fig


def figures(result: "Result") -> list[tuple[str, go.Figure]]:
    curve = result.curve
    rows = _thin(len(curve.times))
    when = curve.times[rows].astype("datetime64[ns]")
    equity = curve.equity[rows]
    peaks = np.maximum.accumulate(curve.equity)[rows]
    drawdown = -(1 - equity / np.where(peaks > 0, peaks, 1))
    exposure = np.where(equity > 0, curve.gross[rows] / np.where(equity > 0, equity, 1), 0.0)
    pnl = [(row["symbol"], float(row["net_pnl"])) for row in result.per_symbol]
    return [
        ("equity", _layout(go.Figure(go.Scatter(x=when, y=equity, mode="lines", line=dict(color="#1f77b4"))),
                           "Equity", "USDT")),
        ("drawdown", _layout(go.Figure(go.Scatter(x=when, y=drawdown, mode="lines", fill="tozeroy",
                                                  line=dict(color="#d62728"))), "Drawdown", "", percent=True)),
        ("exposure", _layout(go.Figure(go.Scatter(x=when, y=exposure, mode="lines", line=dict(color="#2ca02c"))),
                             "Gross exposure (notional / equity)", "", percent=True)),
        ("pnl", _layout(go.Figure(go.Bar(x=[s for s, _ in pnl], y=[v for _, v in pnl],
                                         marker_color=["#2ca02c" if v >= 0 else "#d62728" for _, v in pnl])),
                        "Net PnL per symbol", "USDT")),
    ]


def _table(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render(result: "Result") -> str:
    s = result.summary
    charts = []
    for n, (name, fig) in enumerate(figures(result)):
        charts.append(f'<div class="chart" id="chart-{name}">'
                      + fig.to_html(full_html=False, include_plotlyjs=(n == 0), config={"displayModeBar": False})
                      + "</div>")
    summary_rows = [[label, format_value(s[key], kind)] for label, key, kind in SUMMARY_ROWS]
    symbol_rows = [[r["symbol"], str(r["trades"]), format_value(r["traded_notional"], "money"),
                    format_value(r["realized"], "money"), format_value(r["unrealized"], "money"),
                    format_value(r["fees"], "money"), format_value(r["funding"], "money"),
                    format_value(r["net_pnl"], "money"), format_value(r["win_rate"], "pct")]
                   for r in result.per_symbol]
    from engine.backtest.job import config_used, data_used

    data = data_used(result)
    title = f"Backtest {s['start'][:16].replace('T', ' ')} to {s['end'][:16].replace('T', ' ')} UTC"
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in s["notes"]) or "<li>none</li>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1180px;
       color: #222; }}
h1 {{ font-size: 22px; margin-bottom: 4px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
.meta {{ color: #555; margin-bottom: 16px; }}
.grid {{ display: grid; grid-template-columns: 1fr 1fr; gap: 8px 18px; }}
table {{ border-collapse: collapse; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
th {{ background: #f4f4f4; }}
pre {{ background: #f7f7f7; padding: 10px; font-size: 12px; overflow-x: auto; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<div class="meta">{html.escape(", ".join(s["symbols"]))} &middot; {s["bars"]:,} bars over {s["days"]:.2f} days
 &middot; {html.escape(data["source"])} &middot; final equity {format_value(s["final_equity"], "money")} USDT</div>
<div class="grid">{"".join(charts)}</div>
<div class="grid">
<div><h2>Summary</h2>{_table(["Measure", "Value"], summary_rows, "summary")}</div>
<div><h2>Breakers and errors</h2><ul>{notes}</ul>
<h2>Data</h2><pre>{html.escape(json.dumps({"start": s["start"], "end": s["end"], **data}, indent=2))}</pre></div>
</div>
<h2>Per symbol</h2>
{_table(["Symbol", "Trades", "Traded", "Realized", "Unrealized", "Fees", "Funding", "Net PnL", "Win rate"],
        symbol_rows, "symbols")}
<h2>Configuration used</h2><pre>{html.escape(json.dumps(config_used(result), indent=2, default=str))}</pre>
</body></html>
"""


def write_report(result: "Result", path: Path) -> None:
    path.write_text(render(result), encoding="utf-8")
