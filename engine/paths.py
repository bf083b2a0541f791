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


def private_dir(path: Path) -> Path:
    """Make `path` (and any missing parents) a directory only we can enter.

    Directories created here get mode 0700 whatever the umask; trifactor's own XDG
    directories are tightened too. A directory the user chose that already exists (for a
    database under /tmp, say) is left alone.
    """
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    ours = {config_dir(), data_dir(), state_dir()}
    for directory in [*missing, *(d for d in ours if d == path)]:
        _tighten(directory, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 if it is missing (its directory 0700), and tighten it
    if an earlier version left it readable by others. Log, store, journal and state files all
    hold trading history, so nobody else on the machine gets to read them."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    except OSError:
        return path  # whoever opens it next reports the problem in their own words
    _tighten(path, 0o600)
    return path


def _tighten(path: Path, mode: int) -> None:
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and st.st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except OSError:
        pass
