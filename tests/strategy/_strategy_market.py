"""Seeded synthetic 1-minute perpetual bars for the strategy tests.

The path walks through regimes (trends both ways, choppy, quiet), with price
jumps, funding that steps every 8 hours (480 bars) and sometimes drifts in
between, and taker-flow imbalances, so that every branch of the factor
pipeline is crossed somewhere in ~1500 bars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from strategy import INPUT_COLUMNS


# (bars, drift per bar, volatility per bar, volume level, taker-buy skew)
_REGIMES = (
    (260, 0.0000, 0.0015, 1.0, 0.00),
    (220, 0.0006, 0.0010, 1.4, 0.06),  # steady rally: trend filter bites on shorts
    (120, 0.0000, 0.00002, 0.3, 0.00),  # quiet stretch
    (200, -0.0008, 0.0020, 1.8, -0.08),  # sell-off with a drawdown
    (180, 0.0000, 0.0030, 1.2, 0.03),  # choppy and volatile
    (160, 0.0003, 0.0008, 0.8, 0.02),
    (200, -0.0002, 0.0012, 1.0, -0.03),
    (160, 0.0000, 0.0005, 0.6, 0.00),
)


def synthetic_bars(n: int = 1500, seed: int = 42, start: str = "2024-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    drift = np.empty(n)
    sigma = np.empty(n)
    level = np.empty(n)
    skew = np.empty(n)
    i = 0
    while i < n:
        for bars, mu, vol, lvl, sk in _REGIMES:
            j = min(n, i + bars)
            drift[i:j], sigma[i:j], level[i:j], skew[i:j] = mu, vol, lvl, sk
            i = j
            if i >= n:
                break

    log_ret = drift + sigma * rng.standard_normal(n)
    jumps = rng.random(n) < 0.006
    jumps[[i for i in (330, 900, 1210) if i < n]] = True  # a few surely inside the checked range
    log_ret[jumps] += rng.choice([-1.0, 1.0], jumps.sum()) * rng.uniform(0.015, 0.045, jumps.sum())
    close = 30_000.0 * np.exp(np.cumsum(log_ret))
    open_ = np.concatenate(([close[0]], close[:-1]))
    wiggle = np.abs(rng.standard_normal(n)) * sigma * close
    high = np.maximum(open_, close) + wiggle
    low = np.minimum(open_, close) - wiggle

    volume = level * rng.lognormal(mean=3.0, sigma=0.5, size=n)
    volume[jumps] *= 6.0
    buy_share = np.clip(0.5 + skew + 0.08 * rng.standard_normal(n), 0.02, 0.98)
    taker_buy = volume * buy_share

    funding = np.empty(n)
    rate = 1e-4
    for k in range(0, n, 480):
        rate = float(np.clip(rate + rng.normal(0.0, 2e-4), -7.5e-4, 7.5e-4))
        funding[k : k + 480] = rate
    # The predicted rate drifts between settlements on part of the path; elsewhere it is flat.
    noisy = (np.arange(n) // 300) % 2 == 1
    funding[noisy] += np.cumsum(rng.normal(0.0, 2e-6, n))[noisy]

    dollar_delta = (taker_buy - (volume - taker_buy)) * (open_ + close) / 2

    index = pd.date_range(start, periods=n, freq="1min", name="timestamp")
    return pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "funding_rate": funding,
            "taker_buy_volume": taker_buy,
            "dollar_volume_delta": dollar_delta,
        },
        index=index,
    )
