"""The fake exchange's account: one-way positions, market orders, trades, wallet balance.

Market orders fill at once at the symbol's current price; the taker fee is charged in USDT
and closing trades realise PnL into the wallet, as Binance's one-way mode does.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from tests.fake_binance.market import SymbolMarket

CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
ALGO_TYPES = {"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"}


class Rejected(Exception):
    """A Binance error answer: HTTP status, error code and message."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


@dataclass
class Position:
    symbol: str
    quantity: Decimal = Decimal(0)  # signed
    entry_price: Decimal = Decimal(0)
    leverage: int = 20
    margin_type: str = "cross"

    MAINTENANCE_RATE = Decimal("0.005")  # one flat rate: the fake has no brackets

    def liquidation_price(self) -> Decimal:
        """An isolated position's liquidation price with one flat maintenance rate, 0 for none
        (as Binance answers for a position that cannot be liquidated)."""
        if not self.quantity or self.entry_price <= 0:
            return Decimal(0)
        side = 1 if self.quantity > 0 else -1
        price = self.entry_price * (1 - side / Decimal(self.leverage)) / (1 - side * self.MAINTENANCE_RATE)
        return price.quantize(Decimal("0.00000001")) if price > 0 else Decimal(0)


@dataclass
class Account:
    taker_fee: Decimal = Decimal("0.0005")
    wallet: Decimal = Decimal("10000")
    hedge_mode: bool = False  # Binance's dual-side positions; trifactor needs one-way
    positions: dict[str, Position] = field(default_factory=dict)
    orders: list[dict] = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)
    income: list[dict] = field(default_factory=list)  # /fapi/v1/income rows (funding fees)
    algo_orders: list[dict] = field(default_factory=list)  # conditional orders (stops, take-profits)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _client_ids: set[str] = field(default_factory=set)

    def position(self, symbol: str) -> Position:
        if symbol not in self.positions:
            self.positions[symbol] = Position(symbol)
        return self.positions[symbol]

    def used_margin(self, prices: dict[str, Decimal]) -> Decimal:
        return sum((abs(p.quantity) * prices.get(p.symbol, p.entry_price) / p.leverage
                    for p in self.positions.values()), Decimal(0))

    def place_market(self, market: SymbolMarket, params: dict, now_ms: int,
                     prices: Callable[[], dict[str, Decimal]]) -> dict:
        rules = market.rules
        side = params.get("side", "")
        if params.get("type") != "MARKET":
            raise Rejected(400, -1116, "Invalid orderType.")
        if side not in ("BUY", "SELL"):
            raise Rejected(400, -1117, "Invalid side.")
        client_id = params.get("newClientOrderId") or f"fake{next(self._ids)}"
        if not CLIENT_ID.match(client_id):
            raise Rejected(400, -1100, "Illegal characters found in parameter 'newClientOrderId'.")
        if client_id in self._client_ids:
            raise Rejected(400, -4116, "ClientOrderId is duplicated.")
        try:
            qty = Decimal(params.get("quantity", ""))
        except ArithmeticError:
            raise Rejected(400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
        if qty <= 0 or qty % rules.step_size != 0:
            raise Rejected(400, -1111, "Precision is over the maximum defined for this asset.")
        if qty < rules.min_qty:
            raise Rejected(400, -4003, "Quantity less than or equal to zero.")
        price = Decimal(str(market.price)).quantize(rules.tick_size)
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        pos = self.position(rules.symbol)
        sign = 1 if side == "BUY" else -1
        if reduce_only:
            if pos.quantity == 0 or (pos.quantity > 0) == (sign > 0):
                raise Rejected(400, -2022, "ReduceOnly Order is rejected.")
            qty = min(qty, abs(pos.quantity))
        elif qty * price < rules.min_notional:
            raise Rejected(400, -4164, f"Order's notional must be no smaller than {rules.min_notional} "
                                       f"(unless you choose reduce only).")
        else:
            opening = qty if pos.quantity == 0 or (pos.quantity > 0) == (sign > 0) else max(qty - abs(pos.quantity), 0)
            if opening * price / pos.leverage > self.wallet - self.used_margin(prices()):
                raise Rejected(400, -2019, "Margin is insufficient.")
        order_id = next(self._ids)
        trade = self._fill(pos, order_id, side, sign * qty, price, now_ms)
        order = {
            "orderId": order_id, "symbol": rules.symbol, "status": "FILLED", "clientOrderId": client_id,
            "price": "0", "avgPrice": str(price), "origQty": str(qty), "executedQty": str(qty),
            "cumQty": str(qty), "cumQuote": str(qty * price), "timeInForce": "GTC", "type": "MARKET",
            "reduceOnly": reduce_only, "closePosition": False, "side": side, "positionSide": "BOTH",
            "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": "MARKET",
            "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 0,
            "time": now_ms, "updateTime": now_ms,
        }
        self.orders.append(order)
        self._client_ids.add(client_id)
        self.trades.append(trade)
        return order

    def pay_funding(self, symbol: str, amount: Decimal, time_ms: int) -> dict:
        """A funding fee settled into the wallet (+ received, - paid), as the income history lists it."""
        self.wallet += amount
        row = {"symbol": symbol, "incomeType": "FUNDING_FEE", "income": str(amount), "asset": "USDT",
               "info": "FUNDING_FEE", "time": time_ms, "tranId": next(self._ids), "tradeId": ""}
        self.income.append(row)
        return row
    def place_algo(self, symbol: str, params: dict, now_ms: int) -> dict:
        """A resting conditional order; the fake never triggers it, only lists and cancels it."""
        kind = params.get("type", "")
        if params.get("algoType") != "CONDITIONAL" or kind not in ALGO_TYPES:
            raise Rejected(400, -1116, "Invalid orderType.")
        order = {"algoId": next(self._ids), "clientAlgoId": params.get("clientAlgoId") or f"algo{now_ms}",
                 "algoType": "CONDITIONAL", "orderType": kind, "symbol": symbol, "side": params.get("side", ""),
                 "positionSide": "BOTH", "quantity": params.get("quantity", "0"),
                 "triggerPrice": params.get("triggerPrice", "0"), "algoStatus": "NEW",
                 "reduceOnly": params.get("reduceOnly", "false") == "true", "createTime": now_ms,
                 "updateTime": now_ms}
        self.algo_orders.append(order)
        return order

    def _fill(self, pos: Position, order_id: int, side: str, signed_qty: Decimal, price: Decimal, now_ms: int) -> dict:
        realized = Decimal(0)
        old = pos.quantity
        if old != 0 and (old > 0) != (signed_qty > 0):
            closed = min(abs(old), abs(signed_qty))
            realized = (price - pos.entry_price) * closed * (1 if old > 0 else -1)
        new = old + signed_qty
        if new == 0:
            pos.entry_price = Decimal(0)
        elif old == 0 or (old > 0) != (new > 0):
            pos.entry_price = price
        elif abs(new) > abs(old):
            pos.entry_price = (pos.entry_price * abs(old) + price * abs(signed_qty)) / abs(new)
        pos.quantity = new
        fee = abs(signed_qty) * price * self.taker_fee
        self.wallet += realized - fee
        return {
            "symbol": pos.symbol, "id": next(self._ids), "orderId": order_id, "side": side,
            "price": str(price), "qty": str(abs(signed_qty)), "realizedPnl": str(realized),
            "quoteQty": str(abs(signed_qty) * price), "commission": str(fee), "commissionAsset": "USDT",
            "time": now_ms, "positionSide": "BOTH", "buyer": side == "BUY", "maker": False,
        }
