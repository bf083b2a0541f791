"""The main screen at 80x24, 120x40 and 160x48, and without colour (NO_COLOR), on the seeded sim market, after a fixed number of bars.

The desk sees every bar (the feed waits for it), the clock is frozen, and the screenshot is
taken only once everything the engine said is on screen, so the picture is the same on
every run. Update after a deliberate change with: pytest tests/tui --snapshot-update
"""
from pathlib import Path

from tests.tui.conftest import build_desk, desk_config, until

BARS = 12


def settled_desk(tmp_path: Path):
    app, engine = build_desk(tmp_path, desk_config(sim={"speed": 1000}), paced_bars=BARS)

    async def settle(pilot) -> None:
        desk = app.desk
        await until(pilot, lambda: engine.live_bars >= BARS and not len(app.subscription),
                    f"the engine processed {BARS} bars and the desk took them")
        await until(pilot, lambda: desk.signals.up_to_date and desk.positions.up_to_date and desk.chart.up_to_date
                    and desk.trades.count == len(engine.snapshot().fills)
                    and desk.equity.latest == engine.snapshot().equity, "the desk shows all of it")
        desk.tick()  # what the once-a-second tick shows (risk, per-symbol PnL), now rather than by chance

    return app, settle


def test_main_screen_80x24(snap_compare, tmp_path):
    app, settle = settled_desk(tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_main_screen_160x48(snap_compare, tmp_path):
    app, settle = settled_desk(tmp_path)
    assert snap_compare(app, terminal_size=(160, 48), run_before=settle)


def test_breakdown_pane_80x24(snap_compare, tmp_path):
    app, settle = settled_desk(tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle, press=["enter"])


def test_main_screen_120x40(snap_compare, tmp_path):
    app, settle = settled_desk(tmp_path)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)


def test_main_screen_no_color_with_entries_halted(snap_compare, tmp_path, monkeypatch):
    """Alarms are bold and reverse, never fainter than normal text, when there is no colour."""
    monkeypatch.setenv("NO_COLOR", "1")
    app, settle = settled_desk(tmp_path)

    async def halted(pilot) -> None:
        await settle(pilot)
        await app.engine.halt_entries()
        await until(pilot, lambda: app.desk.header.state.halted and app.desk.signals.up_to_date
                    and app.desk.positions.up_to_date
                    and not len(app.subscription), "the desk shows entries halted")

    assert snap_compare(app, terminal_size=(120, 40), run_before=halted)
