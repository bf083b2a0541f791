"""Signals packed a minute at a time: one row per (instance, minute) holds every symbol's
values for that minute in one compressed value (storage/signal_pack.py), where the signals
table spent a row of about 50 columns and two index entries per symbol.

The signals table stays as it was, with its rows: the reads take a bar from it when the
packed rows do not reach back that far, and retention ages its rows out as before. New
bars are written packed only.

`first_symbol` is part of the key so that a minute written in two parts (two batches)
keeps both; a minute written again in the same parts replaces them.
"""
from __future__ import annotations

from storage.ddl import Table, col
from storage.migrations.v0001_initial import SYMBOL
from storage.migrations.v0002_instances import INSTANCE

DESCRIPTION = "signals packed per minute"

SIGNAL_MINUTES = Table(
    "signal_minutes",
    (
        col("instance", "varchar", INSTANCE, null=False),
        col("timestamp", "ts", null=False),
        col("first_symbol", "varchar", SYMBOL, null=False),
        col("symbols", "int", null=False),  # how many symbols the minute holds
        col("data", "blob", null=False),
    ),
    # Also the index of the reads (newest minutes first) and of retention (oldest first).
    unique=(("signal_minutes_instance_time", ("instance", "timestamp", "first_symbol")),),
)


def statements(dialect: str) -> list[str]:
    return SIGNAL_MINUTES.create(dialect)
