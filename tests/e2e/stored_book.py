"""Reading what a run left in its store (SQLite file or MariaDB database), independently
of the product's own storage code, with money as exact Decimals.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql

MONEY = {"quantity", "price", "total_equity", "capital", "realized_pnl_cumulative", "unrealized_pnl",
         "total_fees_cumulative", "funding_cumulative"}
COLUMNS = {
    "trades": ("trade_id", "symbol", "side", "quantity", "price", "client_order_id"),
    "positions": ("symbol", "quantity"),
    "performance": ("timestamp", "total_equity", "capital", "realized_pnl_cumulative", "unrealized_pnl",
                    "total_fees_cumulative", "funding_cumulative", "trade_count_cumulative"),
    "orders": ("client_order_id", "symbol", "side", "quantity", "status"),
}
ORDER_BY = {"trades": "id", "positions": "symbol", "performance": "timestamp", "orders": "id"}


@dataclass(frozen=True)
class Book:
    trades: list[dict]
    positions: list[dict]
    performance: list[dict]
    orders: list[dict]


def _connect(url: str):
    """A DB-API connection and its parameter marker."""
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url[len("sqlite:///"):], timeout=60), "?"
    parts = urlsplit(url)
    socket = parse_qs(parts.query).get("unix_socket", [None])[0]
    conn = pymysql.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
                           user=unquote(parts.username or "root"), password=unquote(parts.password or ""),
                           database=parts.path.lstrip("/"), unix_socket=socket, connect_timeout=10)
    return conn, "%s"


def _value(column: str, value):
    if value is None:
        return None
    if column in MONEY:
        return Decimal(str(value))
    if column == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _columns(cur, table: str, dialect_marker: str) -> set[str]:
    if dialect_marker == "?":
        cur.execute(f"PRAGMA table_info({table})")
        return {row[1] for row in cur.fetchall()}
    cur.execute(f"SHOW COLUMNS FROM `{table}`")
    return {row[0] for row in cur.fetchall()}


def read_book(url: str, mode: str = "paper", instance: str | None = None) -> Book:
    """The run mode's trades, positions, performance rows and orders; one instance's only
    when `instance` is given."""
    conn, marker = _connect(url)
    try:
        cur = conn.cursor()
        tables = {}
        for table, columns in COLUMNS.items():
            where, params = f"mode = {marker}", [mode]
            if instance is not None:
                if "instance" not in _columns(cur, table, marker):
                    raise AssertionError(f"table {table} in {url} has no instance column")
                where += f" AND instance = {marker}"
                params.append(instance)
            cur.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {where} ORDER BY {ORDER_BY[table]}",
                        params)
            tables[table] = [{c: _value(c, v) for c, v in zip(columns, row)} for row in cur.fetchall()]
        return Book(**tables)
    finally:
        conn.close()


def write_book(book: Book, path: Path) -> None:
    """The book as text, one row a line, table by table."""
    with path.open("w", encoding="utf-8") as fh:
        for table in COLUMNS:
            fh.write(f"# {table}\n")
            fh.writelines(f"{row}\n" for row in getattr(book, table))
