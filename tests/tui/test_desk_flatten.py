"""A flatten that cannot finish: its progress is on the desk, and the key shown stops it."""
from __future__ import annotations

from engine.model import OrderResult
from tests.tui.conftest import Notices, press, shown, until, until_trading
from tui.widgets.flatten import FlattenPane


def footer_text(app) -> str:
    from textual.widgets import Footer

    footer = app.desk.query_one(Footer)
    return " ".join(shown(key) for key in footer.query("FooterKey"))


async def test_a_stuck_flatten_shows_its_progress_and_the_stop_key_ends_it(desk_factory):
    app, engine = desk_factory()
    notices = Notices(app)
    async with app.run_test(size=(160, 48)) as pilot:
        await until_trading(pilot, app, positions=1)
        assert "Stop flatten" not in footer_text(app)

        async def unavailable(order):
            return OrderResult(order, "error", message=f"{order.symbol}: the exchange is unavailable")
        engine.book.venue.submit = unavailable  # every close fails until the operator gives up
        await press(pilot, "F")
        pane = app.desk.query_one(FlattenPane)
        await until(pilot, lambda: pane.display and "next try in" in shown(pane), "the countdown shows")
        text = shown(pane)
        assert "FLATTENING" in text and "press S to stop" in text and "the exchange is unavailable" in text
        assert "FLATTENING" in shown(app.desk.header)
        await until(pilot, lambda: "Stop flatten" in footer_text(app), "the footer offers the stop key")
        await press(pilot, "S")
        await until(pilot, lambda: notices.any("stopped by the operator"), "the flatten's answer is shown")
        await until(pilot, lambda: not pane.display, "the progress pane is gone")
        assert engine.snapshot().positions, "what could not be closed stays open"
        await until(pilot, lambda: "Stop flatten" not in footer_text(app), "the stop key is no longer offered")


def test_the_header_counts_down_a_rate_limit_and_says_when_a_flatten_runs():
    from datetime import datetime, timedelta, timezone

    from engine.events import EngineState
    from engine.model import Mode
    from tui.palette import Palette
    from tui.widgets.header import header_text

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    state = EngineState(Mode.TESTNET, "binance", True, "flatten all", frozenset(), {}, frozenset(), "live", now,
                        flattening=True, rate_limited_until=now + timedelta(seconds=41.2))
    text = header_text("testnet", state, None, None, now, Palette(), "running").plain
    assert "rate-limited, 42s" in text and "FLATTENING" in text
    later = header_text("testnet", state, None, None, now + timedelta(seconds=42), Palette(), "running").plain
    assert "rate-limited" not in later


def test_many_symbols_fit_in_a_few_lines():
    from decimal import Decimal

    from engine.events import FlattenProgress
    from tui.palette import Palette
    from tui.widgets.flatten import progress_text

    progress = {f"S{i:02d}USDT": FlattenProgress(f"S{i:02d}USDT", "flat" if i < 45 else "waiting", 3, Decimal(1),
                                                 "HTTP 503", 1.6) for i in range(50)}
    lines = progress_text(progress, "S", Palette()).plain.splitlines()
    assert lines[0].startswith("FLATTENING  45 flat, 5 to go · press S to stop")
    assert lines[1] == "S45USDT attempt 3: next try in 1.6 s · HTTP 503"
    assert lines[-1] == "… and 2 more" and len(lines) == 5
