"""A backend under test: its URL, where its journal goes and, for MariaDB, the server and database."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.config import StorageConfig
from storage import Store, open_store
from tests.storage.db import NO_SECRETS
from tests.storage.mariadb import Server


@dataclass
class Backend:
    """One backend under test: its URL and, for MariaDB, the server and database name."""

    name: str
    url: str
    tmp: Path
    server: Server | None = None
    database: str = ""

    def open(self, url: str | None = None, *, journal: str = "journal", retention_days: float = 0.0,
             timeout_s: float = 2.0, retry_interval_s: float = 0.05, instance: str = "default") -> Store:
        config = StorageConfig(signals_retention_days=retention_days)
        return open_store(url or self.url, config, NO_SECRETS, journal_dir=self.tmp / journal,
                          timeout_s=timeout_s, retry_interval_s=retry_interval_s, instance=instance)
