"""The small TOML file of operator choices that must survive a restart (paused symbols,
halt, mode, theme). Written atomically; a damaged file is reported and set aside, not fatal.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from engine import paths


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None

    def read(self) -> dict[str, Any]:
        try:
            with self.path.open("rb") as fh:
                return tomllib.load(fh)
        except FileNotFoundError:
            return {}
        except (tomllib.TOMLDecodeError, OSError) as e:
            broken = self.path.with_suffix(".toml.broken")
            try:
                self.path.replace(broken)
            except OSError:
                pass
            self.problem = f"state file {self.path} was unreadable ({e}); moved aside to {broken.name}"
            return {}

    def update(self, **values: Any) -> None:
        """Merge `values` into the file (None removes a key)."""
        data = self.read()
        for key, value in values.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        tmp = paths.private_file(self.path.with_suffix(".toml.tmp"))
        with tmp.open("wb") as fh:
            tomli_w.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)
