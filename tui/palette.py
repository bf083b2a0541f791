"""The few colours the desk puts inside table cells, taken from the active theme.

Cell text is Rich text, which cannot refer to theme variables, so the desk re-reads these
whenever the theme changes. Colour only ever repeats what a sign, arrow or word already says.
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.theme import Theme


@dataclass(frozen=True)
class Palette:
    profit: str = "green"
    loss: str = "red"
    warn: str = "yellow"
    muted: str = "dim"

    @classmethod
    def from_theme(cls, theme: Theme) -> "Palette":
        return cls(
            profit=theme.variables.get("profit") or theme.success or cls.profit,
            loss=theme.variables.get("loss") or theme.error or cls.loss,
            warn=theme.warning or cls.warn,
        )

    def signed(self, text: str, value: float | int | None) -> Text:
        """`text` coloured as a gain or a loss by the sign of `value`."""
        if value is None or value != value or value == 0:
            return Text(text)
        return Text(text, style=self.profit if value > 0 else self.loss)

    def status(self, text: str, kind: str) -> Text:
        if kind in ("halted", "mismatch"):
            return Text(text, style=f"bold {self.loss}")
        if kind in ("paused", "uncertain"):
            return Text(text, style=f"bold {self.warn}")
        if kind == "warming":
            return Text(text, style=self.muted)
        return Text(text)
