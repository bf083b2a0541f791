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
    def from_theme(cls, theme: Theme, plain: bool = False) -> "Palette":
        """`plain` (NO_COLOR): no colours at all. Textual then draws coloured text in grey by
        its luminance, which would make a red loss fainter than normal text."""
        if plain:
            return cls(profit="", loss="", warn="", muted="dim")
        return cls(
            profit=theme.variables.get("profit") or theme.success or cls.profit,
            loss=theme.variables.get("loss") or theme.error or cls.loss,
            warn=theme.warning or cls.warn,
        )

    @property
    def alarm(self) -> str:
        """Something is wrong: bold and reverse video, so it stands out in 16 colours and in
        none, never fainter than normal text."""
        return f"bold reverse {self.loss}".strip()

    @property
    def caution(self) -> str:
        return f"bold {self.warn}".strip()

    def signed(self, text: str, value: float | int | None) -> Text:
        """`text` coloured as a gain or a loss by the sign of `value`."""
        if value is None or value != value or value == 0:
            return Text(text)
        return Text(text, style=self.profit if value > 0 else self.loss)

    def status(self, text: str, kind: str) -> Text:
        if kind in ("halted", "mismatch"):
            return Text(text, style=self.alarm)
        if kind in ("paused", "uncertain"):
            return Text(text, style=self.caution)
        if kind == "warming":
            return Text(text, style=self.muted)
        return Text(text)
