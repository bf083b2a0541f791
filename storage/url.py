"""Store URLs: `sqlite:///path` and `mysql://user[:password]@host[:port]/db[?unix_socket=...]`.

A URL is parsed once into a StoreUrl; everything shown to a person uses `redacted`, which
never contains the password.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from engine.paths import default_db_url
from storage.errors import StoreError

_DB_NAME = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
_MYSQL_PARAMS = {"unix_socket"}


@dataclass(frozen=True)
class StoreUrl:
    dialect: str  # "sqlite" or "mysql"
    path: Path | None = None  # sqlite
    user: str = ""
    password: str = field(default="", repr=False)  # only from the URL itself; never shown
    host: str = ""
    port: int = 3306
    database: str = ""
    unix_socket: str | None = None

    @property
    def redacted(self) -> str:
        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        secret = ":***" if self.password else ""
        query = f"?unix_socket={self.unix_socket}" if self.unix_socket else ""
        return f"mysql://{self.user}{secret}@{self.host}:{self.port}/{self.database}{query}"

    def __str__(self) -> str:
        return self.redacted


def parse_url(url: str | None) -> StoreUrl:
    """Parse a store URL; None means the default SQLite file in the XDG data directory."""
    url = url or default_db_url()
    if url.startswith("sqlite:///"):
        return _parse_sqlite(url)
    if url.startswith("mysql://"):
        return _parse_mysql(url)
    shown = url.split("://", 1)[0] + "://..." if "://" in url else url
    raise StoreError(f"store URL {shown!r} is not understood: use sqlite:///path or mysql://user@host:port/db")


def _parse_sqlite(url: str) -> StoreUrl:
    raw = url[len("sqlite:///"):]
    if not raw or raw == ":memory:" or "?" in raw:
        raise StoreError(f"store URL {url!r} needs a file path (sqlite:///relative.db or sqlite:////abs/path.db)")
    return StoreUrl("sqlite", path=Path(unquote(raw)).expanduser())


def _parse_mysql(url: str) -> StoreUrl:
    parts = urlsplit(url)
    # What we show in errors before the URL is understood: never the part before '@'.
    shown = f"mysql://...@{parts.hostname or ''}"
    try:
        port = parts.port or 3306
    except ValueError:
        raise StoreError(f"store URL {shown}: the port is not a number") from None
    params = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(params) - _MYSQL_PARAMS
    if unknown:
        raise StoreError(f"store URL {shown}: unknown parameter(s) {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted(_MYSQL_PARAMS))})")
    if not parts.username:
        raise StoreError(f"store URL {shown} needs a user: mysql://user@host:port/db")
    database = parts.path.lstrip("/")
    if not _DB_NAME.match(database):
        raise StoreError(f"store URL {shown}: the database name {database!r} must be 1-64 letters, "
                         f"digits or _ (mysql://user@host:port/db)")
    socket = params.get("unix_socket", [None])[0] or None
    host = parts.hostname or ("localhost" if socket else "")
    if not host:
        raise StoreError(f"store URL {shown} needs a host: mysql://user@host:port/db")
    user = unquote(parts.username)
    if ":" in user:  # `user%3Apassword`: a password in disguise, which `redacted` would show
        raise StoreError(f"store URL {shown}: the user name holds a password; set TRIFACTOR_DB_PASSWORD "
                         f"or use the secrets file")
    return StoreUrl("mysql", user=user, password=unquote(parts.password or ""),
                    host=host, port=port, database=database, unix_socket=socket)
