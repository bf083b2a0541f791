"""What a run left on local disk that the database may not have: rows in the write-ahead
ledger, rows spooled while the database was away, and rows the database refused as
conflicts. Read without locks or repairs, so `trifactor status` can look while an engine runs.

An engine that is running writes the first two on its own; after a crash (kill -9, power
loss) they wait for the instance's next start, and until then the database's figures lack
them. Refused rows wait for a person.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.journal import peek


@dataclass(frozen=True)
class PendingRows:
    directory: Path
    ledger: int  # rows in ledger records not yet released (some may already be in the database)
    spooled: int
    refused: int

    @property
    def unwritten(self) -> int:
        return self.ledger + self.spooled


def pending_rows(journal_dir: Path) -> PendingRows:
    ledger = sum(len(rows) for path in sorted((journal_dir / "ledger").glob("ledger-*.jsonl"))
                 for _, rows in peek(path))
    spooled = sum(len(rows) for rows in peek(journal_dir / "spool.jsonl"))
    refused = sum(1 for _ in peek(journal_dir / "rejected.jsonl"))  # one refused row a record
    return PendingRows(journal_dir, ledger, spooled, refused)


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def pending_text(pending: PendingRows, running: bool | None) -> list[str]:
    """Lines for the status report; none when nothing waits (or a running engine is writing it)."""
    lines = []
    if pending.unwritten and running is not True:
        lines.append(f"journal {_rows(pending.unwritten)} of a run that stopped before the database had them "
                     f"wait in {pending.directory}: the figures below may lack them until this instance "
                     f"starts again and writes them")
    if pending.refused:
        lines.append(f"refused {_rows(pending.refused)} the database turned away as conflicts (their key holds "
                     f"other content) are kept in {pending.directory / 'rejected.jsonl'}: compare them with the "
                     f"stored rows before anything else")
    return lines
