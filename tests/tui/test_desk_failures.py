"""What the operator sees when something goes wrong: a plain notice, never a traceback, and a
desk that keeps working. These use a stand-in engine whose answers the test controls."""
import asyncio
from pathlib import Path

from engine.config import from_mapping
from engine.events import EngineState, StoreStatus
from engine.model import Mode
from engine.startup import StartError
from engine.statefile import StateFile
from storage.errors import InstanceBusy
from tests.tui.conftest import FROZEN_NOW, Notices, press, shown, until
from tests.tui.fake_engine import FakeEngine
from tui.app import DeskApp
from tui.screens.quit import QuitScreen


def desk(tmp_path: Path, engine: FakeEngine, **kwargs) -> DeskApp:
    return DeskApp(engine, from_mapping({}), StateFile(tmp_path / "state.toml"), clock=lambda: FROZEN_NOW,
                   **kwargs)


async def test_an_engine_that_dies_gives_a_notice_not_a_traceback(tmp_path):
    engine = FakeEngine(fail_with=RuntimeError("the feed fell over"))
    app = desk(tmp_path, engine)
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.engine_done, "the engine worker ended")
        await until(pilot, lambda: notices.any("the feed fell over"), "the failure is shown")
        title, message, severity = next(n for n in notices.shown if "fell over" in n[1])
        assert severity == "error" and "Traceback" not in message and "log file" in message
        assert "ENGINE STOPPED" in shown(app.desk.header)
        await press(pilot, "F")
        await until(pilot, lambda: notices.any("engine has stopped"), "keys say the engine is gone")
        assert app.is_running, "the desk itself stays up"


async def test_a_command_that_raises_gives_a_notice(tmp_path):
    engine = FakeEngine()

    async def broken() -> None:
        raise ConnectionError("exchange unreachable")

    engine.flatten_all = broken
    app = desk(tmp_path, engine)
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await press(pilot, "F")
        await until(pilot, lambda: notices.any("Flatten all failed: exchange unreachable"), "the failure")
        await press(pilot, "F")
        await until(pilot, lambda: notices.texts().count("failed") == 2, "the key works again afterwards")


async def test_a_key_with_no_symbol_highlighted_gets_a_notice(tmp_path):
    engine = FakeEngine(symbols=())
    app = desk(tmp_path, engine)
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await press(pilot, "p", "x", "enter")
        await until(pilot, lambda: notices.texts().count("The Signals table has no row under the cursor") == 3, "three notices")
        assert engine.calls == []


async def test_a_second_press_while_the_first_runs_is_refused_politely(tmp_path):
    engine = FakeEngine()
    release = asyncio.Event()
    real = engine.flatten_all

    async def slow():
        await release.wait()
        return await real()

    engine.flatten_all = slow
    app = desk(tmp_path, engine)
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await press(pilot, "F", "F")
        await until(pilot, lambda: notices.any("already in progress"), "the second press is refused")
        release.set()
        await until(pilot, lambda: notices.any("flattened"), "the first one finishes")
        assert engine.calls.count("flatten_all") == 1


async def test_quit_asks_first_only_when_live_positions_are_open(tmp_path):
    engine = FakeEngine(live_keys=True)
    app = desk(tmp_path, engine, max_bars=3)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine.ran.is_set() and app.desk.positions.open_count, "positions open")
        await press(pilot, "m")
        await until(pilot, lambda: app.screen.query("#mode-options"), "the switcher opened")
        await press(pilot, "down", "down", "enter")
        await until(pilot, lambda: app.screen.query_one("#mode-confirm").has_focus, "asked for LIVE")
        await press(pilot, *"LIVE", "enter")
        await until(pilot, lambda: engine.mode is Mode.LIVE, "switched to live")
        await until(pilot, lambda: "LIVE" in shown(app.desk.header), "the header shows live")
        engine.step()  # a live bar opens positions
        await until(pilot, lambda: app.desk.positions.open_count > 0, "live positions shown")
        await press(pilot, "q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen), "the desk asks first")
        await press(pilot, "n")
        await until(pilot, lambda: not isinstance(app.screen, QuitScreen), "staying")
        assert "stop" not in engine.calls
        await press(pilot, "q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen), "asks again")
        await press(pilot, "y")
        await until(pilot, lambda: not app.is_running, "quit")
    assert "stop" in engine.calls


class BrokenStore:
    def __init__(self) -> None:
        self.closed = False

    async def start(self) -> None:
        raise OSError("disk full")

    def status(self) -> StoreStatus:
        return StoreStatus("down", message="not started")


async def test_a_store_that_cannot_open_is_reported_and_trading_goes_on(tmp_path):
    engine = FakeEngine()
    app = desk(tmp_path, engine, store=BrokenStore())
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: notices.any("The store could not be opened: disk full"), "the notice")
        await until(pilot, lambda: engine.started, "the engine runs anyway")
        await until(pilot, lambda: "db down" in shown(app.desk.header), "the header shows the store down")


class BusyStore(BrokenStore):
    async def start(self) -> None:
        raise InstanceBusy("another trifactor engine (pid 7 on host h, since 2026-01-01 00:00:00 UTC) already "
                           "runs instance 'default' on store sqlite:///x.db; stop it or pick another `instance`")


async def test_a_second_desk_on_a_running_instance_is_refused(tmp_path, capsys):
    engine = FakeEngine()
    app = desk(tmp_path, engine, store=BusyStore())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: not app.is_running, "the desk ends")
    assert app.return_code == 2 and not engine.started
    said = " ".join(capsys.readouterr().err.split())
    assert "trifactor: error: another trifactor engine (pid 7 on host h" in said
    assert "already runs instance 'default' on store sqlite:///x.db" in said


async def test_engine_errors_are_one_short_notice_and_each_a_line_of_the_event_log(tmp_path):
    engine = FakeEngine()
    app = desk(tmp_path, engine)
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        for n in range(10):
            engine.report_error(f"bad bar {n}")
        await until(pilot, lambda: notices.any("bad bar 0"), "the errors are shown")
        message = next(m for _, m, _ in notices.shown if "bad bar 0" in m)
        assert message == "bad bar 0 (and 9 more) · see the log (6)"
        logged = [e.text for e in app.desk.event_log.entries if e.kind == "error"]
        assert logged == [f"bad bar {n}" for n in range(10)]


async def test_a_damaged_state_file_and_an_unknown_theme_are_reported(tmp_path):
    (tmp_path / "state.toml").write_text("theme = [broken")
    engine = FakeEngine()
    app = DeskApp(engine, from_mapping({"ui": {"theme": "neon"}}), StateFile(tmp_path / "state.toml"),
                  clock=lambda: FROZEN_NOW)
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: notices.any("theme 'neon' is not known"), "the theme notice")
        assert app.theme == "dark"
        await until(pilot, lambda: notices.any("was unreadable"), "the state file notice")


async def test_a_live_start_that_fails_for_good_says_why_and_never_shows_live(tmp_path):
    engine = FakeEngine(fail_with=StartError("could not start live: API key rejected; not trading", "live"))
    engine.mode = Mode.LIVE
    app = desk(tmp_path, engine)
    notices = Notices(app)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: notices.any("API key rejected"), "the reason is shown")
        title, message, severity = next(n for n in notices.shown if "API key rejected" in n[1])
        assert title == "Live could not start" and severity == "error" and "stays in live mode" in message
        header = shown(app.desk.header)
        assert "live: not trading" in header and "ENGINE STOPPED" in header and "LIVE ‼" not in header


async def test_the_header_shows_start_up_retries_and_live_only_once_trading(tmp_path):
    gate = asyncio.Event()
    engine = FakeEngine(start_gate=gate, live_keys=True)
    engine.mode = Mode.LIVE
    app = desk(tmp_path, engine)
    async with app.run_test(size=(160, 30)) as pilot:
        engine.bus.publish(EngineState(mode=Mode.LIVE, market="binance", halted=False, halt_reason="",
                                       paused=frozenset(), breakers={}, mismatched=frozenset(),
                                       feed_status="connecting", connecting="attempt 3, next in 4 s"))
        await until(pilot, lambda: "connecting (attempt 3, next in 4 s)" in shown(app.desk.header),
                    "the retry is shown")
        assert "live: not trading" in shown(app.desk.header)
        gate.set()
        await until(pilot, lambda: "‼ LIVE ‼" in shown(app.desk.header), "live once the engine trades")
        assert "connecting" not in shown(app.desk.header)
