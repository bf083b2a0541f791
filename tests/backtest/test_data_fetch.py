"""`trifactor data fetch` and `data list` against the fake Binance, through the real ccxt."""
from __future__ import annotations

import csv
from datetime import datetime, timezone

import pytest

from engine.backtest.data import load_replay
from engine.exchange_errors import RetryPolicy
from engine.feeds.base import FeedError
from engine.history.fetch import fetch
from engine.history.files import MINUTE_MS, HistoryDir
from tests.fake_binance import FakeBinance
from tests.fake_binance.helpers import RecordingSleep, config_for

# The fake's history ends here; 3000 bars reach back across the start of March.
END = int(datetime(2026, 3, 2, 1, 59, tzinfo=timezone.utc).timestamp() * 1000)
MARCH = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def _fake() -> FakeBinance:
    fake = FakeBinance(SYMBOLS, history_bars=3000)
    fake._end_open_ms = END  # a fixed history, whatever the day the test runs
    return fake


def _klines_requests(fake) -> list:
    return [r for r in fake.requests if r.path == "/fapi/v1/klines"]


async def _fetch(fake, target, start, symbols=SYMBOLS):
    return await fetch(config_for(fake, symbols), symbols, start, END, target,
                       retry=RetryPolicy(attempts=2, sleep=RecordingSleep()))


async def test_months_of_replay_csvs_with_funding_then_resume(tmp_path):
    target = HistoryDir(tmp_path / "history")
    async with _fake() as fake:
        start = END - 1999 * MINUTE_MS
        first = await _fetch(fake, target, start)
        assert [r.bars for r in first] == [2000, 2000] and all(not r.gaps for r in first)
        assert sorted(p.name for p in target.root.glob("*.csv")) == [
            "BTCUSDT-2026-02.csv", "BTCUSDT-2026-03.csv", "ETHUSDT-2026-02.csv", "ETHUSDT-2026-03.csv"]
        rows = fake.market("BTCUSDT").klines
        data = load_replay(target.root)  # a replay directory as it is
        assert data.symbols == SYMBOLS and data.bars == 4000
        btc = data.fields
        assert btc["close"][-1, 0] == float(rows[-1][4]) and btc["taker_buy_volume"][-1, 0] == float(rows[-1][9])
        # Each bar carries the last settlement at or before its open time.
        settled = [(f["fundingTime"], float(f["fundingRate"])) for f in fake.market("BTCUSDT").funding]
        at_march = max((t, r) for t, r in settled if t <= MARCH)[1]
        march_row = next(r for r in csv.DictReader((target.root / "BTCUSDT-2026-03.csv").open()))
        assert int(march_row["timestamp"]) == MARCH and float(march_row["funding_rate"]) == at_march
        assert target.funding_path("BTCUSDT").exists()

        # Resuming: only what is missing is asked for, earlier and later.
        before = len(_klines_requests(fake))
        again = await _fetch(fake, target, start - 500 * MINUTE_MS)
        assert [r.bars for r in again] == [500, 500]
        asked = _klines_requests(fake)[before:]
        assert all(int(r.params["startTime"]) >= start - 500 * MINUTE_MS and int(r.params["endTime"]) < start
                   for r in asked)
        assert target.describe("BTCUSDT").bars == 2500 and not target.describe("BTCUSDT").gaps


async def test_a_hole_in_binance_history_is_reported_never_bridged(tmp_path, capsys):
    target = HistoryDir(tmp_path / "history")
    async with _fake() as fake:
        market = fake.market("ETHUSDT")
        hole = [r[0] for r in market.klines[-700:-640]]
        market.klines = [r for r in market.klines if r[0] not in hole]
        (result,) = await _fetch(fake, target, END - 999 * MINUTE_MS, ["ETHUSDT"])
    assert result.gaps == [(hole[0], hole[-1])] and result.bars == 940
    described = target.describe("ETHUSDT")
    assert described.gaps == [(hole[0], hole[-1])] and described.missing == 60

    from tui.cli import main

    assert main(["data", "list", "--dir", str(target.root)]) == 0
    listing = capsys.readouterr().out
    assert "ETHUSDT" in listing and "(60 min)" in listing


async def test_an_unknown_symbol_is_refused_before_anything_is_written(tmp_path):
    target = HistoryDir(tmp_path / "history")
    async with _fake() as fake:
        with pytest.raises(FeedError, match="NOPEUSDT is not a USDⓈ-M perpetual listed on Binance"):
            await _fetch(fake, target, END - 100 * MINUTE_MS, ["BTCUSDT", "NOPEUSDT"])
    assert not target.root.exists()
