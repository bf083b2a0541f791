"""When the desk rings: a breaker trip, the engine stopping, the store down for more than
10 s, a reconciliation mismatch, a flatten that did not end flat, and a feed silent for more
than two bars. Each condition alerts once, and again only after it has cleared.

Time here is passed in (the desk's clock, in seconds), so a test's frozen clock keeps every
condition that is about time still.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.events import CommandResult, EngineState, StoreStatus

STORE_DOWN_S = 10.0
STALE_BARS = 2
MIN_STALE_S = 5.0  # an accelerated sim's bars come many a second: a short hiccup is not an outage
FLATTENS = ("flatten", "flatten_all", "breaker")


@dataclass(frozen=True)
class Alert:
    kind: str  # breaker, engine, store, mismatch, flatten, feed
    text: str

    def line(self) -> str:
        return f"trifactor alert {self.kind}: {self.text}"


class AlertWatch:
    def __init__(self) -> None:
        self._tripped: set[str] = set()
        self._mismatched: frozenset[str] = frozenset()
        self._store_down_since: float | None = None
        self._store_alerted = False
        self._last_bar: float | None = None
        self._bar_gap: float | None = None  # typical seconds between bars
        self._feed_alerted = False

    def on_state(self, state: EngineState) -> list[Alert]:
        alerts = []
        tripped = {name for name, why in state.breakers.items() if why}
        for name in sorted(tripped - self._tripped):
            alerts.append(Alert("breaker", f"{name.replace('_', ' ')} tripped: {state.breakers[name]}"))
        self._tripped = tripped
        new = state.mismatched - self._mismatched
        if new:
            alerts.append(Alert("mismatch", f"our book differs from the exchange for {', '.join(sorted(new))}; "
                                            "halted for them"))
        self._mismatched = state.mismatched
        return alerts

    def on_result(self, result: CommandResult) -> list[Alert]:
        if result.command in FLATTENS and not result.ok:
            return [Alert("flatten", f"{result.command.replace('_', ' ')} did not end flat: {result.message}")]
        return []

    def on_store(self, status: StoreStatus, now: float) -> None:
        if status.status == "down":
            if self._store_down_since is None:
                self._store_down_since = now
        else:
            self._store_down_since = None
            self._store_alerted = False

    def on_bar(self, now: float) -> None:
        if self._last_bar is not None:
            gap = now - self._last_bar
            if self._bar_gap is None:
                self._bar_gap = gap
            elif gap <= STALE_BARS * self._bar_gap:  # an outage is not the feed's usual pace
                self._bar_gap = 0.8 * self._bar_gap + 0.2 * gap
        self._last_bar = now
        self._feed_alerted = False

    def bar_age(self, now: float) -> float | None:
        return None if self._last_bar is None else now - self._last_bar

    def tick(self, now: float) -> list[Alert]:
        """Once a second: the conditions that are about how long something has lasted."""
        alerts = []
        down = self._store_down_since
        if down is not None and not self._store_alerted and now - down > STORE_DOWN_S:
            self._store_alerted = True
            alerts.append(Alert("store", f"the store has been down for {now - down:.0f} s; events are spooled "
                                         "to the local journal"))
        age = self.bar_age(now)
        if (age is not None and self._bar_gap and not self._feed_alerted
                and age > max(STALE_BARS * self._bar_gap, MIN_STALE_S)):
            self._feed_alerted = True
            alerts.append(Alert("feed", f"no bar for {age:.0f} s (more than {STALE_BARS} bars)"))
        return alerts
