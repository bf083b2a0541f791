"""Speed of the factor pipeline against the seed's per-cycle recompute.

Run from the repository root:  python benchmarks/strategy.py

(a) seed-style cycle: the full formula recomputed with pandas over the last
    260 bars, once per bar (what the seed does every cycle)
(b) FactorStream.update, per bar
(c) compute_factors over 20,000 bars, per bar
(d) one FactorPanel cycle of 500 symbols
Targets: a/b >= 300, a/c >= 5000, d <= 10 ms.

The four are sampled in turns, round after round, and each figure is the
median of its samples: a machine busy with other work slows all of them
alike, so the ratios hold even when the absolute times drift.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this file is itself called strategy.py: the package must win the import
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests" / "strategy"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from _strategy_market import synthetic_bars  # noqa: E402
from _strategy_reference import seed_signals  # noqa: E402
from strategy import FactorPanel, FactorStream, compute_factors  # noqa: E402

SEED_WINDOW = 260
BATCH_BARS = 20_000
PANEL_SYMBOLS = 500
ROUNDS = 15
SEED_CYCLES_PER_SAMPLE = 3
STREAM_BARS_PER_SAMPLE = 250
PANEL_CYCLES_PER_SAMPLE = 3


def records(df: pd.DataFrame) -> list[dict]:
    return [dict(timestamp=ts, **row) for ts, row in zip(df.index, df.to_dict("records"))]


class PanelMarket:
    """Random bars for many symbols, one shared timestamp per cycle."""

    def __init__(self, symbols: list[str], seed: int = 7) -> None:
        self.symbols = symbols
        self.rng = np.random.default_rng(seed)
        self.price = 100.0 * np.exp(self.rng.normal(0, 1, len(symbols)))
        self.funding = self.rng.normal(1e-4, 2e-4, len(symbols))
        self.minute = 0

    def cycle(self) -> dict:
        rng, n = self.rng, len(self.symbols)
        self.price = self.price * np.exp(rng.normal(0, 2e-3, n))
        volume = rng.lognormal(3, 0.5, n)
        buy = volume * rng.uniform(0.3, 0.7, n)
        ts = pd.Timestamp("2024-01-01") + pd.Timedelta(minutes=self.minute)
        self.minute += 1
        rows = zip(self.price.tolist(), volume.tolist(), buy.tolist(), self.funding.tolist())
        return {
            s: {
                "timestamp": ts, "open": p, "high": p, "low": p, "close": p, "volume": v,
                "funding_rate": f, "taker_buy_volume": b, "dollar_volume_delta": (2 * b - v) * p,
            }
            for s, (p, v, b, f) in zip(self.symbols, rows)
        }  # fmt: skip


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    history = synthetic_bars(BATCH_BARS + 2_000, seed=1)

    # (a) the seed: trim to the last 260 bars and recompute everything, every bar
    seed_ends = iter(range(SEED_WINDOW, len(history)))

    def seed_sample():
        for _ in range(SEED_CYCLES_PER_SAMPLE):
            end = next(seed_ends)
            seed_signals(history.iloc[end - SEED_WINDOW : end])

    # (b) a stream already past its windows
    stream = FactorStream.from_history(history.iloc[:1000])
    pending = iter(records(history.iloc[1000 : 1000 + ROUNDS * STREAM_BARS_PER_SAMPLE]))
    update = stream.update

    def stream_sample():
        for _ in range(STREAM_BARS_PER_SAMPLE):
            update(next(pending))

    # (c) the whole history at once
    frame = history.iloc[:BATCH_BARS]

    def batch_sample():
        compute_factors(frame)

    # (d) a warm 500-symbol panel
    market = PanelMarket([f"SYM{i:03d}USDT" for i in range(PANEL_SYMBOLS)])
    panel = FactorPanel(market.symbols)
    for _ in range(300):
        panel.update(market.cycle())
    cycles = iter([market.cycle() for _ in range(ROUNDS * PANEL_CYCLES_PER_SAMPLE)])

    def panel_sample():
        for _ in range(PANEL_CYCLES_PER_SAMPLE):
            panel.update(next(cycles))

    samples: dict[str, list[float]] = {"a": [], "b": [], "c": [], "d": []}
    for _ in range(ROUNDS):
        samples["a"].append(timed(seed_sample) / SEED_CYCLES_PER_SAMPLE)
        samples["b"].append(timed(stream_sample) / STREAM_BARS_PER_SAMPLE)
        samples["c"].append(timed(batch_sample) / BATCH_BARS)
        samples["d"].append(timed(panel_sample) / PANEL_CYCLES_PER_SAMPLE)
    a, b, c, d = (statistics.median(samples[k]) for k in "abcd")

    print(f"(a) seed-style cycle, pandas over {SEED_WINDOW} bars : {a * 1e3:9.3f} ms per bar")
    print(f"(b) FactorStream.update                       : {b * 1e6:9.3f} us per bar")
    print(f"(c) compute_factors over {BATCH_BARS:,} bars          : {c * 1e6:9.3f} us per bar")
    print(f"(d) FactorPanel cycle, {PANEL_SYMBOLS} symbols            : {d * 1e3:9.3f} ms")
    checks = [
        ("a/b  seed cycle / stream update", a / b, ">=", 300),
        ("a/c  seed cycle / batch per bar", a / c, ">=", 5000),
        ("d    panel cycle, 500 symbols (ms)", d * 1e3, "<=", 10),
    ]
    failed = False
    for label, value, op, target in checks:
        ok = value >= target if op == ">=" else value <= target
        failed |= not ok
        print(f"{label:38s} {value:10.1f}  target {op} {target:<6}  {'PASS' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
