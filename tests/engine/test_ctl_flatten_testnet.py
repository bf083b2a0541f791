"""The outside kill switch on a real testnet engine: `trifactor run --headless --mode testnet`
as a process, the real ccxt, the fake exchange, and `trifactor ctl flatten` from a second
process while the order endpoint is down or Binance bans us. It ends flat, once per position."""
import asyncio
import sys

import pytest

from tests.engine.headless_process import ROOT, HeadlessRun, feed_until, write_config
from tests.fake_binance import FakeBinance

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


async def ctl(run: HeadlessRun, *args: str, timeout: float = 150) -> tuple[int, str]:
    child = await asyncio.create_subprocess_exec(sys.executable, "-m", "tui.cli", "ctl", *args, cwd=ROOT,
                                                 env=run.env, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(child.communicate(), timeout)
    return child.returncode, out.decode()


@pytest.mark.parametrize("fault", ["outage 1 s", "outage 10 s", "ban 429 on orders, Retry-After 60 s"])
async def test_ctl_flatten_reaches_flat_through_the_fault(tmp_path, fault):
    async with FakeBinance(SYMBOLS, history_bars=500) as fake:
        run = await HeadlessRun(tmp_path, write_config(tmp_path, fake.base_url, SYMBOLS)).start()
        try:
            assert await feed_until(fake, SYMBOLS, lambda: fake.positions), "never traded:\n" + run.output()
            held = dict(fake.positions)
            orders_before = len(fake.orders)
            if fault.startswith("outage"):
                # Counted from the first close, so a slow start of `ctl` cannot outlast it.
                fake.outage("/fapi/v1/order", float(fault.split()[1]), method="POST", from_first_request=True)
            else:
                fake.ban(60, status=429, path="/fapi/v1/order")
            code, out = await ctl(run, "flatten")
            assert code == 0, out + run.output()
            assert "flat:" in out and fake.positions == {}, out
            closes = fake.orders[orders_before:]
            # One filled reduce-only close per position: whatever failed was not placed.
            assert sorted(o["symbol"] for o in closes if o["status"] == "FILLED") == sorted(held), closes
            assert all(o["reduceOnly"] for o in closes)
            assert "next try in" in out  # the fault was waited out, not given up on
            status, said = await ctl(run, "status")
            assert status == 0 and "halt" in said.lower()
            assert await run.stop() == 0, run.output()
        finally:
            await run.kill()
