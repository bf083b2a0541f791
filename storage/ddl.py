"""A small table description rendered as DDL for SQLite and MariaDB/MySQL, so one schema
serves both. Migrations describe their tables with it and stay frozen once released.
"""
from __future__ import annotations

from dataclasses import dataclass

# Column kinds -> (MariaDB/MySQL type, SQLite declared type).
# SQLite types matter through affinity: names containing TEXT keep values as text, which
# is what keeps Decimal and timestamp values exact and sortable.
TYPES: dict[str, tuple[str, str]] = {
    "money": ("DECIMAL(38,18)", "DECIMAL_TEXT"),
    "real": ("DOUBLE", "REAL"),
    "ts": ("DATETIME(6)", "TIMESTAMP_TEXT"),
    "int": ("INT", "INTEGER"),
    "bigint": ("BIGINT", "INTEGER"),
    "bool": ("BOOLEAN", "INTEGER"),
    "text": ("TEXT", "TEXT"),
    "blob": ("MEDIUMBLOB", "BLOB"),  # up to 16 MB
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # a key of TYPES, or "varchar"
    length: int = 0  # varchar only
    null: bool = True
    default: str | None = None  # an SQL literal valid in both dialects

    def render(self, dialect: str) -> str:
        if self.kind == "varchar":
            sql_type = f"VARCHAR({self.length})" if dialect == "mysql" else "TEXT"
        else:
            sql_type = TYPES[self.kind][0 if dialect == "mysql" else 1]
        out = f"{self.name} {sql_type}"
        if not self.null:
            out += " NOT NULL"
        if self.default is not None:
            out += f" DEFAULT {self.default}"
        return out


def col(name: str, kind: str, length: int = 0, *, null: bool = True, default: str | None = None) -> Column:
    return Column(name, kind, length, null, default)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    unique: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (index name, columns)
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    id_column: bool = True  # an auto-increment `id` primary key first

    def create(self, dialect: str) -> list[str]:
        """Statements creating the table and its indexes; each is safe to run twice."""
        lines = []
        if self.id_column:
            lines.append("id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY" if dialect == "mysql"
                         else "id INTEGER PRIMARY KEY")
        lines += [c.render(dialect) for c in self.columns]
        if dialect == "mysql":
            lines += [f"UNIQUE KEY {name} ({', '.join(cols)})" for name, cols in self.unique]
            lines += [f"INDEX {name} ({', '.join(cols)})" for name, cols in self.indexes]
            tail = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        else:
            tail = ""
        body = ",\n    ".join(lines)
        out = [f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {body}\n){tail}"]
        if dialect == "sqlite":
            out += [f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {self.name} ({', '.join(cols)})"
                    for name, cols in self.unique]
            out += [f"CREATE INDEX IF NOT EXISTS {name} ON {self.name} ({', '.join(cols)})"
                    for name, cols in self.indexes]
        return out
