"""The exceptions the store raises to its callers (StoreError, and StoreConflict for rows whose key
holds other content), and the backends' signal for "try later"."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class StoreError(Exception):
    """A store problem worth telling the operator; the message names the (redacted) URL."""


class InstanceBusy(StoreError):
    """Another engine runs this instance on this store; the message names it."""


class Unavailable(Exception):
    """The database cannot take this write now (down, locked, slow); the rows go to the journal.

    Backends raise it for transient failures only; anything else is a bug or a schema problem.
    """


class StoreUnreachable(StoreError):
    """The database does not answer (not running, frozen, locked): waited for, never fatal.

    Everything else that stops the store from opening (a wrong password, TLS refused, a schema
    that is not ours) is a StoreError the operator must fix first.
    """


@dataclass(frozen=True)
class Conflict:
    """A row not stored because its key is already stored with other content."""

    table: str
    key: dict[str, Any]
    columns: tuple[str, ...]  # the columns whose stored value differs
    row: tuple[str, dict[str, Any]]  # the refused row (kind, values), as the journal keeps it

    def __str__(self) -> str:
        key = ", ".join(f"{k}={v}" for k, v in self.key.items())
        return f"{self.table} ({key}) is already stored with a different {', '.join(self.columns)}"


class StoreConflict(StoreError):
    """Rows whose keys are stored with other content: the rest of their batch is committed,
    these are not. A byte-identical replay is never a conflict."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
        super().__init__(f"conflicting row not stored: {conflicts[0]}{more}")
