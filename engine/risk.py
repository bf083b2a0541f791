"""The two breakers: a daily loss limit and a maximum drawdown from peak equity.

A tripped breaker stays tripped (even across a new UTC day) until the operator resumes
entries; resuming re-bases its reference on the equity of that moment, so the same loss
does not trip it again at once.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

DAILY = "daily_loss"
DRAWDOWN = "max_drawdown"


class Breakers:
    def __init__(self, daily_loss_limit: float, max_drawdown: float) -> None:
        self.daily_limit = Decimal(str(daily_loss_limit))
        self.drawdown_limit = Decimal(str(max_drawdown))
        self.day: date | None = None
        self.day_open: Decimal | None = None
        self.peak: Decimal | None = None
        self.tripped: dict[str, str] = {DAILY: "", DRAWDOWN: ""}

    @property
    def any_tripped(self) -> bool:
        return any(self.tripped.values())

    def restore(self, peak: Decimal | None, day_open: Decimal | None, day: date | None) -> None:
        self.peak = peak
        if day_open is not None and day is not None:
            self.day, self.day_open = day, day_open

    def drawdown(self, equity: Decimal) -> Decimal:
        if not self.peak or self.peak <= 0 or equity >= self.peak:
            return Decimal(0)
        return (self.peak - equity) / self.peak

    def update(self, ts: datetime, equity: Decimal) -> list[str]:
        """Feed one equity observation; returns the reasons of breakers that trip now."""
        if self.day != ts.date() or self.day_open is None:
            self.day, self.day_open = ts.date(), equity
        if self.peak is None or equity > self.peak:
            self.peak = equity
        newly: list[str] = []
        if self.daily_limit > 0 and not self.tripped[DAILY] and self.day_open > 0:
            loss = (self.day_open - equity) / self.day_open
            if loss >= self.daily_limit:
                self.tripped[DAILY] = (f"daily loss limit: equity {equity:.2f} is {loss:.2%} below the day's "
                                       f"opening {self.day_open:.2f} (limit {self.daily_limit:.2%})")
                newly.append(self.tripped[DAILY])
        dd = self.drawdown(equity)
        if self.drawdown_limit > 0 and not self.tripped[DRAWDOWN] and dd >= self.drawdown_limit:
            self.tripped[DRAWDOWN] = (f"max drawdown: equity {equity:.2f} is {dd:.2%} below the peak "
                                      f"{self.peak:.2f} (limit {self.drawdown_limit:.2%})")
            newly.append(self.tripped[DRAWDOWN])
        return newly

    def reset(self, equity: Decimal) -> list[str]:
        """Clear tripped breakers, re-basing each one's reference on `equity`; returns their names."""
        cleared = [name for name, why in self.tripped.items() if why]
        if self.tripped[DAILY]:
            self.day_open = equity
        if self.tripped[DRAWDOWN]:
            self.peak = equity
        self.tripped = {name: "" for name in self.tripped}
        return cleared
