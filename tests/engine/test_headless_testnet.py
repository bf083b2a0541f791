"""`trifactor run --headless --mode testnet` as a real process, through the real ccxt, against
the fake exchange: what a failed start does to the exit code, and that network trouble at
start is waited out rather than fatal."""
import asyncio
import socket

from tests.engine.headless_process import HeadlessRun, feed_until, write_config
from tests.fake_binance import FakeBinance

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
OUTAGE_S = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_rejected_api_key_ends_the_run_with_exit_2_and_one_line(tmp_path):
    async with FakeBinance(SYMBOLS, history_bars=500) as fake:
        run = await HeadlessRun(tmp_path, write_config(tmp_path, fake.base_url, SYMBOLS),
                                key="not-the-key").start()
        try:
            code = await run.finish()
        finally:
            await run.kill()
        assert not fake.orders
    assert code == 2, run.output()
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trifactor: could not start testnet: "), run.stderr
    assert "API key rejected" in lines[0] and "-2015" in lines[0] and "not-the-key" not in run.stderr
    assert "paper" not in run.output()  # no fallback to paper


async def test_refused_leverage_ends_the_run_with_exit_2(tmp_path):
    async with FakeBinance(SYMBOLS, history_bars=500) as fake:
        fake.fail_next("/fapi/v1/leverage", status=400, code=-4028, msg="Leverage 5 is not valid", times=10)
        run = await HeadlessRun(tmp_path, write_config(tmp_path, fake.base_url, SYMBOLS)).start()
        try:
            code = await run.finish()
        finally:
            await run.kill()
    assert code == 2, run.output()
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "setting leverage 5x failed" in lines[0] and "-4028" in lines[0], run.stderr
    assert "paper" not in run.output()


async def test_an_exchange_down_at_start_is_waited_out_and_then_traded(tmp_path):
    port = free_port()
    run = await HeadlessRun(tmp_path, write_config(tmp_path, f"http://127.0.0.1:{port}", SYMBOLS)).start()
    try:
        first = await run.wait_for_line(r"^! connecting \(attempt 1, next in \d+ s\)")
        assert "not reachable" in first
        await asyncio.sleep(OUTAGE_S)
        async with FakeBinance(SYMBOLS, history_bars=500, port=port) as fake:
            traded = await feed_until(fake, SYMBOLS, lambda: fake.orders, rounds=200)
            assert traded, "the engine traded once the exchange was back:\n" + run.output()
            await run.wait_for_line(r"testnet equity .* trades [1-9]")
            code = await run.stop()
    finally:
        await run.kill()
    assert code == 0, run.output()
    attempts = [line for line in run.lines if line.startswith("! connecting (attempt")]
    assert len(attempts) >= 2 and "attempt 2," in attempts[1], run.output()
    assert run.lines[-1].startswith("done: ") and " in testnet on binance" in run.lines[-1]
    assert "Traceback" not in run.stderr


async def test_a_silent_stream_is_printed_and_logged_by_a_headless_run(tmp_path):
    async with FakeBinance(SYMBOLS, history_bars=500) as fake:
        fake.clock_skew_ms = 5 * 60_000  # by the exchange's clock, minutes have closed that nobody streamed
        config = write_config(tmp_path, fake.base_url, SYMBOLS, stale_after_s=2)
        run = await HeadlessRun(tmp_path, config, mode="paper").start()
        try:
            for symbol in SYMBOLS:
                await fake.wait_subscribed(f"{symbol.lower()}@kline_1m", timeout=120)
                fake.add_klines(symbol, 2)  # closed, never streamed: the stream stays open and silent
            for symbol in SYMBOLS:
                said = await run.wait_for_line(rf"^! {symbol}: no bar for \d+ s, backfilling over REST$")
                assert int(said.split()[5]) >= 2
            # The start-up line, then one per backfilled minute: the minutes were traded on.
            await run.wait_until(lambda: sum(" paper   equity " in line for line in run.lines) >= 3,
                                 "a line per backfilled minute")
            for symbol in SYMBOLS:
                await fake.push_kline(symbol)
            await run.wait_for_line(r"^! market data: bars arrive on the stream again$")
            code = await run.stop()
        finally:
            await run.kill()
    assert code == 0, run.output()
    log = (tmp_path / "xdg_state_home" / "trifactor" / "trifactor.log").read_text()
    assert "BTCUSDT: no bar for" in log and "backfilling over REST" in log
