"""Tests that set up the log file put the root logger back as they found it."""
import contextlib
import logging


@contextlib.contextmanager
def restored_root_logging():
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        yield root
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
