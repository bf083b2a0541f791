"""Where trifactor keeps its files, following the XDG base directory spec."""
from __future__ import annotations

import os
from pathlib import Path

APP = "trifactor"


def _xdg(var: str, fallback: str) -> Path:
    base = os.environ.get(var)
    root = Path(base) if base and os.path.isabs(base) else Path.home() / fallback
    return root / APP


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share")


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state")


def default_config_path() -> Path:
    return config_dir() / "config.yaml"


def default_db_url() -> str:
    return f"sqlite:///{data_dir() / 'trifactor.db'}"


def default_state_file() -> Path:
    return state_dir() / "state.toml"


def log_file() -> Path:
    return state_dir() / "trifactor.log"
