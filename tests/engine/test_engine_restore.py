from datetime import datetime, timezone
from decimal import Decimal

from engine.events import EngineError, EquityUpdate, FillEvent, FundingPayment, PositionUpdate
from engine.model import Mode
from engine.statefile import StateFile
from engine.store import RestoredControls, RestoredPosition, RestoredState
from tests.engine.support import Harness, StoreStub, make_config, open_quantities

D = Decimal
TAIL = [(datetime(2025, 12, 31, 23, m, tzinfo=timezone.utc), D(10100 + m)) for m in range(5)]


def paper_state() -> RestoredState:
    return RestoredState(
        mode="paper",
        positions={"ETHUSDT": RestoredPosition("ETHUSDT", D("0.5"), D(3200)),
                   "SOLUSDT": RestoredPosition("SOLUSDT", D(-3), D(185))},
        realized=D("123.45"), fees=D("6.78"), funding=D("-1.25"), trade_count=42,
        peak_equity=D(10300), day_open_equity=D(10150), equity_tail=TAIL)


async def test_paper_restores_positions_totals_peak_and_equity_tail():
    store = StoreStub(state={"paper": paper_state()},
                      controls=RestoredControls(mode="paper", paused=frozenset({"SOLUSDT"}), halted=True,
                                                halt_reason="operator"))
    async with Harness(store=store) as h:
        snap = h.engine.snapshot()
        assert open_quantities(h.engine) == {"ETHUSDT": D("0.5"), "SOLUSDT": D(-3)}
        assert snap.positions["ETHUSDT"].entry_price == D(3200)
        eq = snap.equity
        # The last stored bar closed at 23:04; the positions were held through the 00:00 funding, which the
        # warm-up history covers and settles once.
        paid = [e for e in h.collect() if isinstance(e, FundingPayment)]
        assert {(e.symbol, e.ts, e.quantity) for e in paid} == {
            ("ETHUSDT", datetime(2026, 1, 1, tzinfo=timezone.utc), D("0.5")),
            ("SOLUSDT", datetime(2026, 1, 1, tzinfo=timezone.utc), D(-3))}
        assert (eq.realized, eq.fees, eq.trade_count) == (D("123.45"), D("6.78"), 42)
        assert eq.funding == D("-1.25") + sum(e.amount for e in paid)
        assert eq.peak == D(10300)
        assert snap.equity_history[:5] == TAIL
        assert snap.state.paused == frozenset({"SOLUSDT"}) and snap.state.halted
        # the paper venue knows the restored positions too, so a flatten closes them
        assert {s: p.quantity for s, p in (await h.venues[Mode.PAPER].positions()).items()} == \
            {"ETHUSDT": D("0.5"), "SOLUSDT": D(-3)}
        result = await h.engine.flatten_all()
        assert result.ok and open_quantities(h.engine) == {}
        realized = sum((f.fill.realized_pnl for f in h.of(FillEvent)), D(0))
        assert h.engine.snapshot().equity.realized == D("123.45") + realized


async def test_the_state_file_wins_over_the_store_for_controls(tmp_path):
    state_file = StateFile(tmp_path / "state.toml")
    state_file.update(paused=["BTCUSDT"], halted=False)
    store = StoreStub(controls=RestoredControls(paused=frozenset({"SOLUSDT"}), halted=True, halt_reason="x"))
    async with Harness(store=store, state_file=state_file) as h:
        state = h.engine.snapshot().state
        assert state.paused == frozenset({"BTCUSDT"}) and not state.halted


async def test_a_damaged_state_file_is_reported_not_fatal(tmp_path):
    path = tmp_path / "state.toml"
    path.write_text("paused = [unclosed")
    async with Harness(state_file=StateFile(path)) as h:
        assert any("unreadable" in e.message for e in h.of(EngineError))
        assert h.engine.started
    path.write_text('paused = "BTCUSDT"\nmode = "moon"\n')
    async with Harness(state_file=StateFile(path)) as h:
        messages = [e.message for e in h.of(EngineError)]
        assert any("`paused` must be a list" in m for m in messages)
        assert any("`mode` 'moon'" in m for m in messages)


async def test_a_restored_live_mode_is_not_resumed_without_confirmation(tmp_path):
    state_file = StateFile(tmp_path / "state.toml")
    state_file.update(mode="live")
    async with Harness(make_config(market="binance"), state_file=state_file) as h:
        assert h.engine.mode is Mode.PAPER
        assert any("typed confirmation" in e.message for e in h.of(EngineError))


async def test_restored_positions_are_marked_and_published_at_start():
    async with Harness(store=StoreStub(state={"paper": paper_state()})) as h:
        positions = {e.symbol: e for e in h.of(PositionUpdate)}
        assert positions["ETHUSDT"].mark_price > 0
        assert positions["ETHUSDT"].unrealized_pnl == D("0.5") * (positions["ETHUSDT"].mark_price - D(3200))
        assert h.of(EquityUpdate)
