"""Shared data for the strategy tests: one seeded market and the reference
computed on every growing prefix of it (the expensive part, done once)."""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest

# The helpers live next to the tests and are imported by plain name.
sys.path.insert(0, os.path.dirname(__file__))

from _strategy_market import synthetic_bars  # noqa: E402
from _strategy_reference import RESULT_KEYS, reference_rows  # noqa: E402

MARKET_BARS = 1500


@pytest.fixture(scope="session")
def market() -> pd.DataFrame:
    return synthetic_bars(MARKET_BARS, seed=42)


@pytest.fixture(scope="session")
def reference(market) -> pd.DataFrame:
    """calculate_signals on market.iloc[:t+1] for every t >= 239, split over two
    processes (each row costs a full pandas recompute). Fresh interpreters,
    not forks: other tests in the session may have left threads running."""
    first = 239
    mid = first + (len(market) - first) // 2
    chunks = [(market, first, mid), (market, mid, len(market))]
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
            parts = list(pool.map(reference_rows, chunks))
    except Exception:  # a pool that cannot start or broke: same rows, one process
        parts = [reference_rows(c) for c in chunks]
    frame = pd.concat(parts)
    assert len(frame) == len(market) - first
    return frame[list(RESULT_KEYS)]
