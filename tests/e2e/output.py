"""What a headless run printed: its fill lines, bar lines and closing summary."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

FILL = re.compile(r"^fill (?P<trade_id>\S+) (?P<symbol>\S+) (?P<side>BUY|SELL) (?P<qty>[\d,.]+) @ (?P<price>[\d,.]+)$")
BAR = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d)\s+(?P<mode>\w+)\s+equity (?P<equity>-?[\d,.]+)\s.*"
                 r"\btrades (?P<trades>\d+)\b")
SUMMARY = re.compile(r"^done: .*; equity (?P<equity>-?[\d,.]+) \(.*\); (?P<trades>\d+) trades; "
                     r"(?P<positions>\d+) open positions$")


def number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


@dataclass(frozen=True)
class Fill:
    trade_id: str
    symbol: str
    side: str
    quantity: str  # as printed: compared against the store at the precision shown
    price: str


@dataclass(frozen=True)
class Bar:
    ts: datetime
    mode: str
    equity: Decimal
    trades: int


@dataclass(frozen=True)
class Summary:
    equity: Decimal
    trades: int
    open_positions: int


class Output:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    @property
    def fills(self) -> list[Fill]:
        return [Fill(m["trade_id"], m["symbol"], m["side"], m["qty"].replace(",", ""), m["price"].replace(",", ""))
                for m in map(FILL.match, self.lines) if m]

    @property
    def bars(self) -> list[Bar]:
        return [Bar(datetime.strptime(m["ts"], "%Y-%m-%d %H:%M"), m["mode"], number(m["equity"]), int(m["trades"]))
                for m in map(BAR.match, self.lines) if m]

    @property
    def summary(self) -> Summary | None:
        for line in reversed(self.lines):
            m = SUMMARY.match(line)
            if m:
                return Summary(number(m["equity"]), int(m["trades"]), int(m["positions"]))
        return None

    def traded(self) -> bool:
        """Whether the engine has reported a trade (a fill line, or a bar line counting one)."""
        return bool(self.fills) or any(bar.trades for bar in self.bars)
