"""Binance order answers and account trades as trifactor's Fills and positions (exact Decimals)."""
from __future__ import annotations

from decimal import Decimal

from engine.feeds.binance_bars import ms_to_dt
from engine.model import Fill, Mode, OrderRequest, VenuePosition, unlisted_trade_id


def fill_from_trade(mode: Mode, order: OrderRequest, trade: dict) -> Fill:
    """One row of /fapi/v1/userTrades: the exchange's own price, quantity, fee and realised PnL."""
    return Fill(
        mode=mode, symbol=order.symbol, side=order.side,
        quantity=Decimal(trade["qty"]), price=Decimal(trade["price"]),
        fee=Decimal(trade.get("commission", "0")), fee_asset=trade.get("commissionAsset", "USDT"),
        ts=ms_to_dt(int(trade["time"])), client_order_id=order.client_order_id, trade_id=str(trade["id"]),
        exchange_order_id=str(trade["orderId"]), is_maker=bool(trade.get("maker", False)),
        realized_pnl=Decimal(trade.get("realizedPnl", "0")),
    )


def fill_from_order(mode: Mode, order: OrderRequest, answer: dict, quantity: Decimal) -> Fill:
    """The part of an order the trade list does not show yet, at the order's average price.

    Its fee is unknown until Binance lists the trade, so it is zero here rather than guessed.
    """
    return Fill(
        mode=mode, symbol=order.symbol, side=order.side, quantity=quantity,
        price=Decimal(str(answer.get("avgPrice") or "0")), fee=Decimal(0), fee_asset="USDT",
        ts=ms_to_dt(int(answer.get("updateTime") or answer.get("time") or 0)),
        client_order_id=order.client_order_id, trade_id=unlisted_trade_id(str(answer["orderId"])),
        exchange_order_id=str(answer["orderId"]),
    )


ORDER_FIELDS = ("orderId", "status", "executedQty")
TRADE_FIELDS = ("id", "orderId", "qty", "price", "time")
WORKING = {"NEW", "PARTIALLY_FILLED"}  # an order Binance may still fill


def _numbers(row: dict, fields: tuple[str, ...]) -> bool:
    try:
        return all(Decimal(str(row[k])).is_finite() for k in fields)
    except (KeyError, ArithmeticError, ValueError):
        return False


def is_order_answer(answer: object) -> bool:
    """An order as Binance describes it; a truncated, HTML or empty body (which ccxt hands back as
    text) is not, and says nothing about what happened to the order."""
    return (isinstance(answer, dict) and all(answer.get(k) not in (None, "") for k in ORDER_FIELDS)
            and _numbers(answer, ("orderId", "executedQty")))


def trade_rows(answer: object) -> list[dict] | None:
    """userTrades rows, each trade once (Binance can list one twice); None if the answer is unreadable."""
    if not isinstance(answer, list) or not all(isinstance(t, dict) and _numbers(t, TRADE_FIELDS) for t in answer):
        return None
    unique: dict[str, dict] = {}
    for trade in answer:
        unique.setdefault(str(trade["id"]), trade)
    return list(unique.values())


def account_rows(answer: object, numbers: tuple[str, ...]) -> list[dict] | None:
    """positionRisk or balance rows, or None if the answer is unreadable: never read as "nothing"."""
    if not isinstance(answer, list) or not all(isinstance(r, dict) and _numbers(r, numbers) for r in answer):
        return None
    return answer


def order_status(answer: dict) -> str:
    executed = Decimal(str(answer.get("executedQty") or "0"))
    if executed <= 0:
        return "rejected"
    return "filled" if executed >= Decimal(str(answer.get("origQty") or executed)) else "partially_filled"


def position_from_risk(row: dict, leverage: int) -> VenuePosition:
    """A /fapi/v3/positionRisk row (v3 has no leverage field: the caller knows what it set)."""
    extra = {k: row[k] for k in ("markPrice", "unRealizedProfit", "liquidationPrice", "notional",
                                 "marginType", "isolatedMargin") if k in row}
    return VenuePosition(symbol=row["symbol"], quantity=Decimal(row["positionAmt"]),
                         entry_price=Decimal(row["entryPrice"]),
                         leverage=int(row.get("leverage") or leverage), extra=extra)
