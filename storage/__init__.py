"""The store: SQLite (embedded default) or MariaDB/MySQL, one schema with versioned
migrations, a write-behind writer that spools to a local journal while the database is
away, the engine's state at start, and the reads of the desk and `trifactor status`.
"""
from storage.errors import StoreError
from storage.records import AuditRecord, EquityPoint, OrderRecord, PositionRecord, SignalRecord, TradeRecord
from storage.report import db_check, db_upgrade, status_report
from storage.store import Store, open_store

__all__ = [
    "AuditRecord", "EquityPoint", "OrderRecord", "PositionRecord", "SignalRecord", "Store", "StoreError", "TradeRecord",
    "db_check", "db_upgrade", "open_store", "status_report",
]
