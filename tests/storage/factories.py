"""Engine events built directly, with deterministic times and values."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from engine.events import (CommandResult, EngineState, EquityUpdate, FillEvent, FundingPayment, OrderUpdate,
                           PositionUpdate, SignalBatch, SignalUpdate)
from engine.model import Fill, Mode, Side

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)
FACTORS = ("raw_factor", "filtered_factor", "final_factor", "funding_signal", "mr_signal", "flow_signal",
           "vol_regime", "trend_regime", "risk_scale", "extreme_market_factor", "funding_weight", "mr_weight",
           "flow_weight")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fill(i: int, symbol: str = "BTCUSDT", side: Side = Side.BUY, qty: str = "0.001", price: str = "50000",
         *, mode: Mode = Mode.PAPER, fee: str = "0.025", pnl: str = "0", minute: float | None = None) -> FillEvent:
    return FillEvent(Fill(mode=mode, symbol=symbol, side=side, quantity=Decimal(qty), price=Decimal(price),
                          fee=Decimal(fee), fee_asset="USDT", ts=at(i if minute is None else minute),
                          client_order_id=f"cid-{i}", trade_id=f"tid-{i}", exchange_order_id=f"ex-{i}",
                          realized_pnl=Decimal(pnl), factor=0.25))


def signal(symbol: str, minute: float, value: float = 0.1, *, warming: bool = False) -> SignalBatch:
    """A minute's batch of one symbol's signal."""
    return SignalBatch(at(minute), (signal_update(symbol, minute, value, warming=warming),))


def signal_update(symbol: str, minute: float, value: float = 0.1, *, warming: bool = False) -> SignalUpdate:
    components = {} if warming else {
        **{k: value + n / 100 for n, k in enumerate(FACTORS)},
        "final_factor": value, "target_factor": value, "returns": 0.001, "funding_z": 1.5, "target_changed": True, "bars_seen": 901,
        "timestamp": at(minute),
    }
    return SignalUpdate(symbol=symbol, ts=at(minute), price=100.0 + minute, ret=0.001,
                        status="warming" if warming else "active", progress=0.5 if warming else 1.0,
                        components=components, final_factor=value, target_factor=value,
                        target_notional=Decimal("123.45"), current_notional=Decimal("100"))


def position(symbol: str, qty: str, minute: float, *, entry: str = "50000", mark: str = "50100",
             mode: Mode = Mode.PAPER) -> PositionUpdate:
    q, e, m = Decimal(qty), Decimal(entry), Decimal(mark)
    return PositionUpdate(mode=mode, symbol=symbol, quantity=q, entry_price=e, mark_price=m,
                          unrealized_pnl=(m - e) * q, leverage=5, ts=at(minute))


def equity(minute: float, value: str, *, mode: Mode = Mode.PAPER, peak: str | None = None,
           trades: int = 0) -> EquityUpdate:
    v = Decimal(value)
    capital = Decimal(10000)
    return EquityUpdate(mode=mode, ts=at(minute), equity=v, capital=capital, realized=v - capital,
                        unrealized=Decimal(0), fees=Decimal(0), funding=Decimal(0),
                        peak=Decimal(peak) if peak else v, drawdown=Decimal(0), trade_count=trades)


def order(cid: str, status: str, minute: float, *, qty: str = "0.002", exchange_id: str | None = None,
          mode: Mode = Mode.PAPER) -> OrderUpdate:
    return OrderUpdate(mode=mode, client_order_id=cid, symbol="BTCUSDT", side="BUY", quantity=Decimal(qty),
                       status=status, reduce_only=False, reason="rebalance", ts=at(minute),
                       exchange_order_id=exchange_id, message=f"{status} at {minute}")


def funding(symbol: str, minute: float, amount: str, *, mode: Mode = Mode.PAPER) -> FundingPayment:
    return FundingPayment(mode=mode, symbol=symbol, ts=at(minute), rate=Decimal("0.0001"),
                          quantity=Decimal("0.01"), mark_price=Decimal("50000"), amount=Decimal(amount))


def command(name: str, minute: float, *, ok: bool = True, symbol: str | None = None,
            details: dict | None = None) -> CommandResult:
    return CommandResult(command=name, ok=ok, message=f"{name} done", symbol=symbol, details=details or {},
                         ts=at(minute))


def engine_state(minute: float, *, halted: bool = False, paused: frozenset[str] = frozenset(),
                 mode: Mode = Mode.PAPER, reason: str = "") -> EngineState:
    return EngineState(mode=mode, market="sim", halted=halted, halt_reason=reason, paused=paused,
                       breakers={"daily_loss": ""}, mismatched=frozenset(), feed_status="live", ts=at(minute))
