"""Every benchmark run in XDG directories of its own, so no state file, store or config of an
earlier run (a halt, paused symbols) changes what it measures."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

XDG_KEYS = ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR")


@contextlib.contextmanager
def isolated_dirs():
    """A temporary home for the XDG directories, in this process and in its children."""
    saved = {k: os.environ.get(k) for k in XDG_KEYS}
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
        for k in XDG_KEYS:
            os.environ[k] = os.path.join(tmp, k.lower())
            os.makedirs(os.environ[k], mode=0o700)
        try:
            yield Path(tmp)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
