import asyncio
import io
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.events import EventBus, StoreStatus
from engine.headless import run_headless
from engine.wiring import build_engine
from tests.engine.support import GUARD, NO_SECRETS, StoreStub, make_config

ROOT = Path(__file__).resolve().parents[2]


async def test_bars_n_stops_after_n_new_bars_and_prints_a_summary():
    store = StoreStub()
    bus = EventBus()
    bus.attach_ledger(store.ledger)
    engine = build_engine(make_config(), NO_SECRETS, bus, store=store)
    engine.feed.paced = False
    out = io.StringIO()
    code = await run_headless(engine, max_bars=12, out=out)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[-1].startswith("done: 12 live bars in paper on sim; equity ")
    assert sum(" equity " in line and "positions" in line for line in lines) >= 6
    fills = [line for line in lines if line.startswith("fill ")]
    assert fills and len(fills) == engine.snapshot().equity.trade_count
    assert len(store.ledger.durable) == len(store.ledger.appended)  # everything printed was made durable
    assert engine.feed.status == "stopped" and not engine.started


class ReportingStore(StoreStub):
    """A store that reports a problem (once, then again unchanged) as the engine starts."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__()
        self.bus = bus

    async def load_state(self, mode: str):
        problem = StoreStatus("up", 0, "1 conflicting row set aside in rejected.jsonl; last: trades (...)")
        self.bus.publish(problem)
        await asyncio.sleep(0.05)
        self.bus.publish(problem)
        return None


async def test_store_problems_are_printed_once():
    bus = EventBus()
    engine = build_engine(make_config(), NO_SECRETS, bus, store=ReportingStore(bus))
    engine.feed.paced = False
    out = io.StringIO()
    assert await run_headless(engine, max_bars=2, out=out) == 0
    said = [line for line in out.getvalue().splitlines() if line.startswith("! store")]
    assert said == ["! store: 1 conflicting row set aside in rejected.jsonl; last: trades (...)"]


async def test_every_n_bars_thins_the_output():
    engine = build_engine(make_config(), NO_SECRETS, EventBus())
    engine.feed.paced = False
    out = io.StringIO()
    assert await run_headless(engine, max_bars=20, out=out, every=10) == 0
    assert sum("positions" in line and line[0].isdigit() for line in out.getvalue().splitlines()) <= 3


async def test_a_start_up_failure_is_one_clear_line_and_exit_code_1(tmp_path, capsys):
    config = make_config(market="replay", replay_path=str(tmp_path / "missing.csv"))
    engine = build_engine(config, NO_SECRETS, EventBus())
    code = await run_headless(engine, max_bars=1, out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 1 and "missing.csv does not exist" in err and "Traceback" not in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_in_flight_work_and_exits_0(sig):
    child = subprocess.Popen([sys.executable, "-m", "tests.engine.headless_child"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in child.stdout:
            seen.append(line)
            if "positions" in line and line[0].isdigit():
                break
        child.send_signal(sig)
        out, err = child.communicate(timeout=GUARD)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert "stopping: finishing the orders in flight" in out
    assert out.strip().splitlines()[-1].startswith("done: ")
    assert "Traceback" not in err
