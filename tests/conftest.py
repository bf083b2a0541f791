"""What every test shares: a short temporary root and private XDG directories.

A Unix socket path holds at most 108 bytes. pytest's own temporary root is long (and
longer again per worker in a parallel run), which would push the control sockets the
tests create inside it past that limit. Each run gets a short root of its own instead.
Every test gets its own XDG directories, so no test reads or writes the user's trifactor
files and tests running side by side never share a store, a lock or a socket. A parallel run's
workers have COLUMNS=80 and LINES=24 set, which a desk started in tmux would take for its size.
"""
import shutil
import tempfile

import pytest

XDG_VARIABLES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME")
_OWN_ROOT = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="tf-")
        config.stash[_OWN_ROOT] = config.option.basetemp


def pytest_sessionfinish(session, exitstatus):
    root = session.config.stash.get(_OWN_ROOT, None)
    if root is not None and exitstatus == 0:  # a failed run's files stay, to be looked at
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def private_xdg_dirs(tmp_path_factory, monkeypatch):
    root = tmp_path_factory.mktemp("xdg")
    for variable in XDG_VARIABLES:
        monkeypatch.setenv(variable, str(root / variable.lower()))
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)

