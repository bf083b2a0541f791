"""Alerts: the bell, a highlighted header, a line in the event log and the optional
`alerts.command`, once per condition."""
from __future__ import annotations

import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from engine.config import from_mapping
from engine.events import CommandResult, EngineState, StoreStatus
from engine.model import Mode
from engine.statefile import StateFile
from tests.tui.conftest import FROZEN_NOW, shown, until
from tests.tui.fake_engine import T0, FakeEngine
from tui.alert_command import run_alert_command
from tui.alerts import Alert, AlertWatch
from tui.app import DeskApp

STATE = EngineState(mode=Mode.PAPER, market="sim", halted=False, halt_reason="", paused=frozenset(),
                    breakers={"daily_loss": ""}, mismatched=frozenset(), feed_status="live", ts=T0)


def test_each_condition_alerts_once_until_it_clears():
    watch = AlertWatch()
    assert watch.on_state(STATE) == []
    tripped = replace(STATE, breakers={"daily_loss": "equity 9,400 is 6% below the day's opening"})
    [alert] = watch.on_state(tripped)
    assert alert.kind == "breaker" and "daily loss tripped" in alert.text
    assert watch.on_state(tripped) == [], "once"
    [mismatch] = watch.on_state(replace(tripped, mismatched=frozenset({"ETHUSDT"})))
    assert mismatch.kind == "mismatch" and "ETHUSDT" in mismatch.text
    assert watch.on_result(CommandResult("flatten_all", False, "still open: BTCUSDT"))[0].kind == "flatten"
    assert watch.on_result(CommandResult("flatten_all", True, "flat")) == []

    watch.on_store(StoreStatus("down"), now=100.0)
    assert watch.tick(105.0) == []
    assert [a.kind for a in watch.tick(111.0)] == ["store"]
    assert watch.tick(120.0) == []
    watch.on_store(StoreStatus("up"), now=121.0)

    for n in range(5):
        watch.on_bar(200.0 + 10 * n)  # a bar every 10 s
    assert watch.tick(255.0) == []
    assert [a.kind for a in watch.tick(261.0)] == ["feed"], "silent for more than two bars"
    assert watch.tick(270.0) == []
    watch.on_bar(275.0)
    assert [a.kind for a in watch.tick(296.0)] == ["feed"], "again after it recovered and went silent"
    fast = AlertWatch()
    for n in range(5):
        fast.on_bar(n * 0.1)  # an accelerated sim
    assert fast.tick(1.0) == [], "a short pause of a fast feed is no outage"
    assert [a.kind for a in fast.tick(6.0)] == ["feed"]


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "alert.py"
    path.write_text(f"import sys, time\n{body}\n")
    return f"{sys.executable} {path}"


async def test_the_command_gets_the_alert_as_arguments_and_standard_input(tmp_path):
    out = tmp_path / "got"
    command = script(tmp_path, f"open({str(out)!r}, 'w').write(repr(sys.argv[1:]) + sys.stdin.read())")
    assert await run_alert_command(command, Alert("breaker", "daily loss tripped"), 30) is None
    assert out.read_text() == "['breaker', 'daily loss tripped']trifactor alert breaker: daily loss tripped\n"


async def test_a_hanging_or_failing_command_is_stopped_and_reported(tmp_path):
    hang = script(tmp_path, "time.sleep(60)")
    problem = await run_alert_command(hang, Alert("feed", "stale"), 0.2)
    assert "did not finish within 0.2 s" in problem
    assert "exited with status 3" in await run_alert_command(script(tmp_path, "sys.exit(3)"), Alert("x", "y"), 30)
    assert "could not be started" in await run_alert_command("/nonexistent/alert", Alert("x", "y"), 30)


async def test_a_breaker_trip_rings_highlights_the_header_and_runs_the_command(tmp_path):
    out = tmp_path / "got"
    command = script(tmp_path, f"open({str(out)!r}, 'w').write(' '.join(sys.argv[1:]))")
    engine = FakeEngine()
    app = DeskApp(engine, from_mapping({"alerts": {"command": command}}), StateFile(tmp_path / "state.toml"),
                  clock=lambda: FROZEN_NOW)
    bells = []
    app.bell = lambda: bells.append(1)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        engine.bus.publish(replace(STATE, breakers={"daily_loss": "equity fell 6%"}))
        await until(pilot, lambda: "ALERT breaker" in shown(app.desk.header), "the header shows the alert")
        assert app.desk.header.has_class("-alert") and bells == [1]
        await until(pilot, lambda: out.exists() and out.read_text(), "the alert command ran")
        assert out.read_text() == "breaker daily loss tripped: equity fell 6%"
        assert any(e.kind == "alert" for e in app.desk.event_log.entries)


class Clock:
    """The desk's clock, moved by the test: the alerts that are about time follow it."""

    def __init__(self) -> None:
        self.now = FROZEN_NOW

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def alerting_desk(tmp_path: Path, engine: FakeEngine, clock=lambda: FROZEN_NOW, **kwargs) -> tuple[DeskApp, list]:
    app = DeskApp(engine, from_mapping({}), StateFile(tmp_path / "state.toml"), clock=clock, **kwargs)
    bells: list[int] = []
    app.bell = lambda: bells.append(1)
    return app, bells


async def rang(pilot, app: DeskApp, bells: list, kind: str) -> None:
    """The bell, the header highlighted with the alert, and the alert in the event log."""
    await until(pilot, lambda: f"ALERT {kind}" in shown(app.desk.header), f"the header shows the {kind} alert")
    assert app.desk.header.has_class("-alert") and bells
    assert any(e.kind == "alert" for e in app.desk.event_log.entries)


async def test_an_engine_that_stops_rings(tmp_path):
    app, bells = alerting_desk(tmp_path, FakeEngine(fail_with=RuntimeError("the feed fell over")))
    async with app.run_test(size=(160, 48)) as pilot:
        await rang(pilot, app, bells, "engine")
        assert "the feed fell over" in shown(app.desk.header)


async def test_a_reconciliation_mismatch_rings(tmp_path):
    engine = FakeEngine()
    app, bells = alerting_desk(tmp_path, engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        engine.bus.publish(replace(STATE, mismatched=frozenset({"ETHUSDT"})))
        await rang(pilot, app, bells, "mismatch")
        assert "ETHUSDT" in shown(app.desk.header)


async def test_a_flatten_that_is_not_yet_flat_rings(tmp_path):
    engine = FakeEngine()
    app, bells = alerting_desk(tmp_path, engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        engine.bus.publish(CommandResult("flatten_all", True, "flat: BTCUSDT"))
        engine.bus.publish(CommandResult("flatten_all", False, "still open: ETHUSDT (order rejected)"))
        await rang(pilot, app, bells, "flatten")
        assert bells == [1], "a flatten that ended flat does not ring"


async def test_the_store_down_for_more_than_ten_seconds_rings(tmp_path):
    engine, clock = FakeEngine(), Clock()
    app, bells = alerting_desk(tmp_path, engine, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        engine.bus.publish(StoreStatus("down", message="connection refused"))
        await until(pilot, lambda: app.desk.header.store is not None and app.desk.header.store.status == "down",
                    "the header shows the store down")
        clock.advance(9)
        app.desk.tick()
        assert not bells and not app.desk.header.has_class("-alert"), "not yet: 10 s have not passed"
        clock.advance(2)
        app.desk.tick()
        await rang(pilot, app, bells, "store")


async def test_a_feed_silent_for_more_than_two_bars_rings(tmp_path):
    engine, clock = FakeEngine(), Clock()
    app, bells = alerting_desk(tmp_path, engine, clock, max_bars=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        for n in range(1, 5):  # a bar a minute
            clock.advance(60)
            engine.step()
            await until(pilot, lambda: app.desk.header.market_ts == T0 + timedelta(minutes=n), f"bar {n}")
        clock.advance(110)
        app.desk.tick()
        assert not bells, "less than two bars' silence"
        clock.advance(15)
        app.desk.tick()
        await rang(pilot, app, bells, "feed")
