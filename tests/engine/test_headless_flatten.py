"""Headless runs print a flatten's progress and Binance's bans as they happen."""
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from engine.events import EngineState, FlattenProgress
from engine.headless import _Printer
from engine.model import Mode

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def state(banned_for: float | None) -> EngineState:
    until = T0 + timedelta(seconds=banned_for) if banned_for else None
    return EngineState(Mode.TESTNET, "binance", True, "flatten all", frozenset(), {}, frozenset(), "live", T0,
                       flattening=True, rate_limited_until=until)


def test_progress_lines_announce_each_attempt_and_a_long_wait_every_ten_seconds():
    out = io.StringIO()
    printer = _Printer(engine=None, out=out, every=1)
    error = "BTCUSDT: SELL 0.02 market order failed: rate limited by Binance (HTTP 429), Retry-After 60 s"
    waits = [FlattenProgress("BTCUSDT", "waiting", 1, Decimal("0.02"), error, s) for s in range(60, 0, -1)]
    printer.show([state(60), FlattenProgress("BTCUSDT", "closing", 1, Decimal("0.02")), *waits,
                  FlattenProgress("BTCUSDT", "closing", 2, Decimal("0.02")), state(None),
                  FlattenProgress("BTCUSDT", "flat", 2, Decimal(0))])
    lines = out.getvalue().splitlines()
    assert lines[0] == "! rate-limited by Binance: no request goes out for 60 s"
    assert lines[1] == "flatten BTCUSDT: closing 0.02 (attempt 1)"
    assert lines[2] == f"flatten BTCUSDT: attempt 1 did not finish; next try in 60.0 s (last error: {error})"
    countdown = [line for line in lines if "next try in" in line]
    assert [line.split("next try in ")[1].split(" s")[0] for line in countdown] == [
        "60.0", "50.0", "40.0", "30.0", "20.0", "10.0"]
    assert lines[-2:] == ["rate limit over: requests go out again", "flatten BTCUSDT: flat after 2 attempt(s)"]
