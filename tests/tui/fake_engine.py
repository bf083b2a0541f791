"""A small stand-in with the Engine's command methods and events, for desk tests that need
exact control over what the engine says (refusals, errors, a slow start)."""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from engine.events import (CommandResult, EngineError, EngineState, EquityUpdate, EventBus, FillEvent,
                           PositionUpdate, SignalBatch, SignalUpdate)
from engine.model import Fill, Mode, Side

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
COMPONENT_KEYS = (
    "raw_factor filtered_factor final_factor funding_signal mr_signal flow_signal vol_regime trend_regime "
    "risk_scale extreme_market_factor funding_weight mr_weight flow_weight target_factor returns funding_rate "
    "funding_z funding_threshold funding_signal_raw returns_z mr_threshold trend_filter_mr volume_ratio "
    "volume_filter buy_ratio buy_ratio_z dollar_delta_z flow_combined flow_threshold volume_scale "
    "vol_risk_scale drawdown_scale trend_filter signal_threshold conviction_scale conviction_factor "
    "smoothed_factor factor_std change_threshold target_changed"
).split()


@dataclass
class FakeSnapshot:
    state: EngineState | None = None
    signals: dict = field(default_factory=dict)
    positions: dict = field(default_factory=dict)
    equity: EquityUpdate | None = None
    fills: list = field(default_factory=list)
    equity_history: list = field(default_factory=list)


class FakeEngine:
    def __init__(self, symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"), *, warmup: int = 2,
                 fail_with: Exception | None = None, start_gate: asyncio.Event | None = None,
                 live_keys: bool = False) -> None:
        self.bus = EventBus()
        self.mode = Mode.PAPER
        self.market = "sim"
        self.started = False
        self.symbols = list(symbols)
        self.warmup = warmup
        self.fail_with = fail_with
        self.start_gate = start_gate
        self.live_keys = live_keys
        self.paused: set[str] = set()
        self.halted = False
        self.positions: dict[str, PositionUpdate] = {}
        self.bars = 0
        self.orders: list[tuple[str, str]] = []  # (symbol, reason) of every order sent
        self.calls: list[str] = []
        self._stop = asyncio.Event()
        self.ran = asyncio.Event()
        self.equity: EquityUpdate | None = None

    # Engine API ---------------------------------------------------------------------------

    async def run(self, max_bars: int | None = None) -> None:
        if self.start_gate is not None:
            await self.start_gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.started = True
        self.publish_state()
        n = 0
        while max_bars is None or n < max_bars:
            if self._stop.is_set():
                return
            self.step()
            n += 1
            await asyncio.sleep(0)
        self.ran.set()
        await self._stop.wait()

    async def stop(self) -> None:
        self.calls.append("stop")
        self._stop.set()

    def step(self) -> None:
        self.bars += 1
        ts = T0 + timedelta(minutes=self.bars)
        signals = []
        for i, symbol in enumerate(self.symbols):
            price = 100.0 * (i + 1) + math.sin(self.bars / 3 + i) * (i + 1)
            factor = round(math.sin(self.bars / 5 + i), 6)
            ready = self.bars >= self.warmup
            status = "paused" if symbol in self.paused else ("active" if ready else "warming")
            comps = {k: (factor if "factor" in k else 0.1 * (j + 1)) for j, k in enumerate(COMPONENT_KEYS)}
            comps["target_changed"] = self.bars % 2 == 0
            position = self.positions.get(symbol)
            signals.append(SignalUpdate(
                symbol=symbol, ts=ts, price=price, ret=0.001 * factor, status=status,
                progress=min(1.0, self.bars / self.warmup), components=comps if ready else {},
                final_factor=factor, target_factor=factor, target_notional=Decimal(int(factor * 1000)),
                current_notional=position.notional if position else Decimal(0)))
            if ready and symbol not in self.paused and not self.halted and symbol not in self.positions:
                self.trade(symbol, Side.BUY, Decimal("0.5"), Decimal(str(round(price, 2))), ts, "rebalance")
        self.bus.publish(SignalBatch(ts, tuple(signals)))
        self.publish_equity(ts)

    def trade(self, symbol, side, qty, price, ts, reason) -> None:
        self.orders.append((symbol, reason))
        signed = qty if side is Side.BUY else -qty
        fill = Fill(mode=self.mode, symbol=symbol, side=side, quantity=qty, price=price, fee=Decimal("0.01"),
                    fee_asset="USDT", ts=ts, client_order_id=f"c{len(self.orders)}",
                    trade_id=f"t{len(self.orders)}")
        self.bus.publish(FillEvent(fill))
        old = self.positions.get(symbol)
        new_qty = (old.quantity if old else Decimal(0)) + signed
        update = PositionUpdate(mode=self.mode, symbol=symbol, quantity=new_qty, entry_price=price,
                                mark_price=price, unrealized_pnl=Decimal("1.5") * signed, leverage=5, ts=ts)
        if new_qty == 0:
            self.positions.pop(symbol, None)
        else:
            self.positions[symbol] = update
        self.bus.publish(update)

    def publish_equity(self, ts) -> None:
        equity = Decimal(10000) + Decimal(self.bars)
        self.equity = EquityUpdate(mode=self.mode, ts=ts, equity=equity, capital=Decimal(10000),
                                   realized=Decimal(self.bars), unrealized=Decimal(0), fees=Decimal(0),
                                   funding=Decimal(0), peak=equity, drawdown=Decimal(0),
                                   trade_count=len(self.orders))
        self.bus.publish(self.equity)

    def publish_state(self) -> None:
        self.bus.publish(EngineState(mode=self.mode, market=self.market, halted=self.halted,
                                     halt_reason="operator" if self.halted else "",
                                     paused=frozenset(self.paused), breakers={"daily_loss": ""},
                                     mismatched=frozenset(), feed_status="live", ts=T0))

    def result(self, command, ok, message, symbol=None, details=None) -> CommandResult:
        self.calls.append(command)
        r = CommandResult(command=command, ok=ok, message=message, symbol=symbol, details=details or {}, ts=T0)
        self.bus.publish(r)
        return r

    async def flatten_all(self) -> CommandResult:
        details = {}
        for symbol, p in list(self.positions.items()):
            side = Side.SELL if p.quantity > 0 else Side.BUY
            self.trade(symbol, side, abs(p.quantity), p.mark_price, p.ts, "flatten")
            details[symbol] = f"closed {abs(p.quantity)}"
        self.halted = True
        self.publish_state()
        return self.result("flatten_all", True, f"flattened {len(details)} positions; entries halted",
                           details=details)

    async def flatten(self, symbol: str) -> CommandResult:
        p = self.positions.get(symbol)
        if p is None:
            return self.result("flatten", True, f"{symbol}: no position", symbol)
        self.trade(symbol, Side.SELL if p.quantity > 0 else Side.BUY, abs(p.quantity), p.mark_price, p.ts,
                   "flatten")
        return self.result("flatten", True, f"{symbol}: closed", symbol)

    async def pause(self, symbol: str) -> CommandResult:
        self.paused.add(symbol)
        self.publish_state()
        return self.result("pause", True, f"{symbol} paused", symbol)

    async def resume(self, symbol: str) -> CommandResult:
        self.paused.discard(symbol)
        self.publish_state()
        return self.result("resume", True, f"{symbol} resumed", symbol)

    async def halt_entries(self) -> CommandResult:
        self.halted = True
        self.publish_state()
        return self.result("halt", True, "entries halted")

    async def resume_entries(self) -> CommandResult:
        self.halted = False
        self.publish_state()
        return self.result("resume_entries", True, "entries resumed")

    def can_trade(self, mode: str) -> tuple[bool, str]:
        if mode == "paper":
            return True, ""
        if mode == "live" and self.live_keys:
            return True, ""
        return False, f"no API keys for {mode}: set TRIFACTOR_{'API' if mode == 'live' else 'TESTNET_API'}_KEY"

    async def set_mode(self, mode: str, confirm: str | None = None) -> CommandResult:
        ok, reason = self.can_trade(mode)
        if not ok:
            return self.result("set_mode", False, reason)
        if mode == "live" and confirm != "LIVE":
            return self.result("set_mode", False, "live mode needs the typed confirmation LIVE")
        self.mode = Mode(mode)
        self.positions.clear()
        self.publish_state()
        return self.result("set_mode", True, f"now in {mode} mode")

    def detach_store(self) -> None:
        self.calls.append("detach_store")

    def snapshot(self) -> FakeSnapshot:
        return FakeSnapshot(positions=dict(self.positions), equity=self.equity)

    def report_error(self, message: str) -> None:
        self.bus.publish(EngineError(message=message, ts=T0))
