"""The store: SQLite (embedded default) or MariaDB/MySQL, one schema with versioned
migrations, a write-behind writer that spools to a local journal while the database is
away, the engine's state at start, and the reads of the desk and `trifactor status`.
"""
from storage.errors import StoreError
from storage.records import AuditRecord, EquityPoint, OrderRecord, PositionRecord, SignalRecord, TradeRecord
from storage.store import Store, open_store

_REPORTS = ("db_check", "db_upgrade", "status_report")

__all__ = [
    "AuditRecord", "EquityPoint", "OrderRecord", "PositionRecord", "SignalRecord", "Store", "StoreError", "TradeRecord",
    "db_check", "db_upgrade", "open_store", "status_report",
]


def __getattr__(name: str):
    # The read-only tools' functions load on first use: an engine run never needs storage.report
    # and the modules only it imports.
    if name in _REPORTS:
        from storage import report

        return getattr(report, name)
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
