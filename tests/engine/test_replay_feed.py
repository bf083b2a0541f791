from datetime import datetime, timezone

import pytest

from engine.feeds.base import FeedError
from engine.feeds.replay import COLUMNS, ReplayFeed

HEADER = ",".join(COLUMNS)


def row(minute: int, symbol: str = "BTCUSDT", close: str = "100.5", **changes) -> str:
    values = {"timestamp": f"2026-01-01T00:{minute:02d}:00Z", "symbol": symbol, "open": "100", "high": "101",
              "low": "99", "close": close, "volume": "10", "taker_buy_volume": "6", "funding_rate": "0.0001"}
    values.update(changes)
    return ",".join(values[c] for c in COLUMNS)


def write(tmp_path, name: str, *rows: str, header: str = HEADER):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


async def play(feed: ReplayFeed) -> list[list]:
    return [bars async for bars in feed.stream()]


async def test_bars_play_in_time_order_grouped_by_minute(tmp_path):
    write(tmp_path, "a.csv", row(1), row(0), row(0))  # out of order, with a duplicate
    write(tmp_path, "b.csv", row(0, "ETHUSDT"), row(1, "ETHUSDT"))
    feed = ReplayFeed(tmp_path)
    instruments = await feed.start()
    assert sorted(instruments) == ["BTCUSDT", "ETHUSDT"]
    minutes = await play(feed)
    assert [[b.symbol for b in m] for m in minutes] == [["BTCUSDT", "ETHUSDT"], ["BTCUSDT", "ETHUSDT"]]
    assert minutes[0][0].ts == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert minutes[0][0].taker_buy_volume == 6.0 and minutes[0][0].funding_rate == 0.0001
    assert feed.last_price("ETHUSDT") == 100.5
    assert await feed.warmup("BTCUSDT", 100) == []


async def test_epoch_millisecond_timestamps_and_excluded_symbols(tmp_path):
    path = write(tmp_path, "a.csv", row(0, timestamp="1767225600000"), row(0, "DOGEUSDT"))
    feed = ReplayFeed(path, exclude=frozenset({"DOGEUSDT"}))
    assert list(await feed.start()) == ["BTCUSDT"]
    (minute,) = await play(feed)
    assert minute[0].ts == datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("bad,expected", [
    (row(1, close="abc"), "close 'abc' is not a number"),
    (row(1, close="nan"), "close 'nan' is not a finite number"),
    (row(1, close="-1", low="-2"), "prices must be positive"),
    (row(1, high="100.1"), "do not contain open/close"),
    (row(1, taker_buy_volume="11"), "taker_buy_volume"),
    (row(1, timestamp="yesterday"), "timestamp 'yesterday'"),
    ("2026-01-01T00:01:00Z,BTCUSDT,1,2", "expected 9 fields"),
])
async def test_a_bad_row_names_the_file_and_line(tmp_path, bad, expected):
    path = write(tmp_path, "bars.csv", row(0), bad)
    with pytest.raises(FeedError) as err:
        await ReplayFeed(path).start()
    assert f"{path}, line 3: " in str(err.value) and expected in str(err.value)


async def test_wrong_header_missing_file_and_empty_directory(tmp_path):
    path = write(tmp_path, "bars.csv", row(0), header="ts,symbol,close")
    with pytest.raises(FeedError, match=r"bars\.csv, line 1: expected the columns"):
        await ReplayFeed(path).start()
    with pytest.raises(FeedError, match="does not exist"):
        await ReplayFeed(tmp_path / "nope.csv").start()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FeedError, match="no .csv files"):
        await ReplayFeed(empty).start()


def at(minute: int) -> datetime:
    return datetime(2026, 1, 1, 0, minute, tzinfo=timezone.utc)


async def test_a_resumed_replay_plays_after_the_last_stored_bar_and_warms_up_on_the_rest(tmp_path):
    write(tmp_path, "a.csv", *(row(m) for m in range(6)), *(row(m, "ETHUSDT") for m in range(4)))
    feed = ReplayFeed(tmp_path)
    feed.resume_after(at(3))  # the bar opening at 00:02 closed then
    await feed.start()
    assert feed.now() == at(3)
    assert [b.ts for b in await feed.warmup("BTCUSDT", 100)] == [at(0), at(1), at(2)]
    assert [b.ts for b in await feed.warmup("ETHUSDT", 2)] == [at(1), at(2)]
    minutes = await play(feed)
    assert [[(b.symbol, b.ts) for b in m] for m in minutes] == [
        [("BTCUSDT", at(3)), ("ETHUSDT", at(3))], [("BTCUSDT", at(4))], [("BTCUSDT", at(5))]]
    assert feed.now() == at(6)


async def test_a_replay_the_store_already_holds_entirely_says_so(tmp_path):
    write(tmp_path, "a.csv", row(0), row(1))
    feed = ReplayFeed(tmp_path)
    feed.resume_after(at(30))
    with pytest.raises(FeedError, match="already holds every bar of it .up to 2026-01-01 00:30 UTC."):
        await feed.start()


async def test_a_fresh_replay_clock_starts_at_its_first_bar(tmp_path):
    write(tmp_path, "a.csv", row(7), row(5))
    feed = ReplayFeed(tmp_path)
    assert feed.now() is None
    await feed.start()
    assert feed.now() == at(5)
