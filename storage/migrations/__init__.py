"""Versioned schema migrations, applied in order. A released migration never changes;
a schema change is a new module appended to MIGRATIONS.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from storage.migrations import v0001_initial, v0002_instances, v0003_signal_minutes


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: Callable[[str], list[str]]  # dialect -> DDL statements, each safe to re-run


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, v0001_initial.DESCRIPTION, v0001_initial.statements),
    Migration(2, v0002_instances.DESCRIPTION, v0002_instances.statements),
    Migration(3, v0003_signal_minutes.DESCRIPTION, v0003_signal_minutes.statements),
)

LATEST_VERSION = MIGRATIONS[-1].version
