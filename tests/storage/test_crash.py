"""kill -9 in the middle of writing: after a restart the committed state is consistent,
no acknowledged trade is lost and none is doubled, and positions equal their fills."""
import asyncio
import signal
import sys
from decimal import Decimal
from pathlib import Path


from storage.codec import to_decimal
from tests.storage import db
from tests.storage.scenario import trading_events

ROOT = Path(__file__).resolve().parents[2]


async def next_durable(proc) -> tuple[int, str]:
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    if not line:
        raise AssertionError("the writer process ended: " + (await proc.stderr.read()).decode()[-2000:])
    _, last, status = line.decode().split()
    return int(last), status


async def run_and_kill(url: str, journal: Path, *, cut=None) -> int:
    """Run the writer, cut the database off (optionally), kill -9 it; the last durable trade."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.storage.crash_child", url, str(journal), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        last, status = await next_durable(proc)
        while last < 60:
            last, status = await next_durable(proc)
        if cut is not None:
            await cut.cut()
            while status != "degraded" or last < 90:
                last, status = await next_durable(proc)
        proc.send_signal(signal.SIGKILL)  # mid-burst: the child never stops publishing
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return last


async def check_consistent(backend, last_durable: int) -> None:
    store = backend.open()
    await store.start()  # replays whatever the killed writer spooled
    state = await store.load_state("paper")
    await store.close()

    trade_ids = [r[0] for r in db.rows(backend.url, "SELECT trade_id FROM trades")]
    assert len(trade_ids) == len(set(trade_ids)), "a trade was written twice"
    committed = sorted(int(t.split("-")[1]) for t in trade_ids)
    assert committed == list(range(len(committed))), "the committed trades are not a prefix of the stream"
    assert len(committed) > last_durable, f"trade {last_durable} was acknowledged as durable but is lost"

    _, expected = trading_events(0, len(committed))
    fills = db.rows(backend.url, "SELECT symbol, side, quantity FROM trades")
    sums = {s: Decimal(0) for s in expected}
    for symbol, side, qty in fills:
        sums[symbol] += to_decimal(qty) * (1 if side == "BUY" else -1)
    assert sums == expected
    positions = {s: to_decimal(q) for s, q in db.rows(backend.url, "SELECT symbol, quantity FROM positions")}
    assert positions == {s: q for s, q in sums.items() if s in positions}
    assert set(positions) == {s for s in sums if any(f[0] == s for f in fills)}
    assert {s: p.quantity for s, p in state.positions.items()} == {s: q for s, q in sums.items() if q != 0}
    assert state.trade_count == len(committed)


async def test_kill_while_writing(backend):
    last = await run_and_kill(backend.url, backend.tmp / "journal")
    await check_consistent(backend, last)


async def test_kill_while_spooling(backend, outage):
    last = await run_and_kill(outage.url, backend.tmp / "journal", cut=outage)
    spool = backend.tmp / "journal" / "spool.jsonl"
    assert spool.stat().st_size > 0  # the outage's trades exist only in the spool now
    await outage.restore()
    await check_consistent(backend, last)
    assert spool.stat().st_size == 0
