"""The event log pane: what happened, from this run's events and from the store's rows of
earlier runs, filterable by symbol and kind."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from textual.app import App

from engine.events import OrderUpdate
from engine.model import Mode
from engine.secrets import Secrets
from storage import open_store
from tests.tui.conftest import build_desk, desk_config, press, until
from tests.tui.fake_engine import FakeEngine
from tests.tui.test_desk_failures import desk
from tui.event_log import LogEntry
from tui.widgets.event_log import EventLogPane

REJECTED = "Margin is insufficient (-2019)"
SKIPPED = "below the minimum notional 100 USDT (test)"


def order(cid: str, symbol: str, status: str, message: str) -> OrderUpdate:
    return OrderUpdate(Mode.PAPER, cid, symbol, "BUY", Decimal("0.001"), status, False, "rebalance",
                       datetime.now(timezone.utc), message=message)


def logged_lines(app) -> list[str]:
    return app.desk.event_log.log_view.lines


async def test_a_rejected_and_a_skipped_order_show_with_their_reason_after_a_restart(tmp_path):
    config = desk_config()
    url = f"sqlite:///{tmp_path / 'desk.db'}"

    def store():
        return open_store(url, config.storage, Secrets.load(environ={}), journal_dir=tmp_path / "journal")

    first, engine = build_desk(tmp_path, config, store=store())
    async with first.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: engine.started, "the first run's engine started")
        engine.bus.publish(order("r1", "ETHUSDT", "rejected", REJECTED))
        engine.bus.publish(order("s1", "SOLUSDT", "skipped", SKIPPED))
        await until(pilot, lambda: any(SKIPPED in e.text for e in first.desk.event_log.entries), "logged live")
        await press(pilot, "q")
        await until(pilot, lambda: not first.is_running, "the first run quit")

    second, _ = build_desk(tmp_path, config, store=store())
    async with second.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: any(SKIPPED in line for line in logged_lines(second)), "the restart shows it")
        lines = logged_lines(second)
        assert any("ETHUSDT" in line and f"rejected: {REJECTED}" in line for line in lines), lines
        assert any("SOLUSDT" in line and f"skipped: {SKIPPED}" in line for line in lines), lines
        await press(pilot, "6")
        await until(pilot, lambda: second.desk.shown_pane == "log", "6 shows the log")


async def test_the_filter_keeps_only_the_symbol_or_kind_typed(tmp_path):
    engine = FakeEngine()
    app = desk(tmp_path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: engine.started, "the engine started")
        await until(pilot, lambda: any(e.kind == "fill" for e in app.desk.event_log.entries), "fills are logged")
        engine.report_error("ETHUSDT: a bad bar")
        await until(pilot, lambda: any(e.kind == "error" for e in app.desk.event_log.entries), "an error logged")
        await press(pilot, "6")
        await until(pilot, lambda: app.desk.event_log.log_view.has_focus, "the log has focus")
        await press(pilot, "slash")
        await until(pilot, lambda: app.desk.query_one("#event-filter").has_focus, "the filter has focus")
        await press(pilot, "e", "t", "h")
        await until(pilot, lambda: app.desk.event_log.words == ("eth",), "the filter is typed")
        shown = app.desk.event_log.shown()
        assert shown and all(e.symbol == "ETHUSDT" or "eth" in e.text.lower() for e in shown)
        await press(pilot, "backspace", "backspace", "backspace", "e", "r", "r", "o", "r")
        await until(pilot, lambda: app.desk.event_log.words == ("error",), "the kind filter is typed")
        assert {e.kind for e in app.desk.event_log.shown()} == {"error"}
        assert len(app.desk.event_log.log_view.lines) == len(app.desk.event_log.shown())


def test_an_entry_matches_when_every_word_is_its_symbol_kind_or_text():
    entry = LogEntry(datetime(2026, 1, 1, tzinfo=timezone.utc), "order", f"BUY 1 (rebalance) skipped: {SKIPPED}",
                     "SOLUSDT")
    assert entry.matches(("sol",)) and entry.matches(("order", "sol")) and entry.matches(("minimum",))
    assert not entry.matches(("eth",)) and not entry.matches(("fill",))
    assert entry.line().startswith("01-01 00:00:00 order    SOLUSDT   BUY 1")


async def test_the_log_follows_the_newest_line_until_scrolled_up_and_again_once_back_at_the_end():
    class LogApp(App):
        def compose(self):
            yield EventLogPane()

    def entries(start: int, n: int) -> list[LogEntry]:
        return [LogEntry(ts=datetime(2026, 1, 1, 7, 0), kind="order", symbol="BTCUSDT", text=f"line {i}") for i in range(start, start + n)]

    app = LogApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(EventLogPane)
        for start in range(0, 60, 3):  # batches in quick succession, as a busy minute writes them
            pane.add(entries(start, 3))
        await pilot.pause()
        view = pane.log_view
        assert view.scroll_y == view.max_scroll_y > 0
        view.scroll_to(y=0, animate=False)
        await pilot.pause()
        pane.add(entries(60, 3))
        await pilot.pause()
        assert view.scroll_y == 0 and not pane.following  # reading an older line: it stays put
        view.scroll_end(animate=False)
        await pilot.pause()
        pane.add(entries(63, 3))
        await pilot.pause()
        assert pane.following and view.scroll_y == view.max_scroll_y
