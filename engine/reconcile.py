"""Our book against the exchange's positions: any difference is a mismatch to stop on.

The engine never trades a symbol whose quantity it cannot confirm; the operator checks and
resumes it, which adopts the exchange's quantity.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

from engine.model import VenuePosition


@dataclass(frozen=True, slots=True)
class Mismatch:
    symbol: str
    ours: Decimal
    venue: Decimal

    def describe(self, mode: str) -> str:
        return (f"{self.symbol}: our {mode} book holds {self.ours:f} but the exchange reports {self.venue:f}; "
                f"entries for {self.symbol} are halted until you check and resume it")


def mismatches(ours: Mapping[str, Decimal], venue: Mapping[str, VenuePosition],
               universe: Iterable[str]) -> list[Mismatch]:
    """Symbols of the universe (or of our book) whose quantities differ."""
    symbols = set(universe) | {s for s, q in ours.items() if q}
    out = []
    for symbol in sorted(symbols):
        mine = ours.get(symbol, Decimal(0))
        theirs = venue[symbol].quantity if symbol in venue else Decimal(0)
        if mine != theirs:
            out.append(Mismatch(symbol, mine, theirs))
    return out


def outside_universe(venue: Mapping[str, VenuePosition], universe: Iterable[str]) -> list[str]:
    known = set(universe)
    return sorted(s for s, p in venue.items() if p.quantity and s not in known)
