"""Logging to a rotating file in the XDG state directory, with every secret redacted.

Nothing goes to the screen: the desk owns the terminal.
"""
from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from engine import paths
from engine.secrets import Secrets

REDACTED = "****"
HANDLER_NAME = "trifactor-file"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Every log file it opens (the first, and each one after a rollover) is created 0600."""

    def _open(self):
        paths.private_file(Path(self.baseFilename))
        return super()._open()


class SecretRedactor(logging.Filter):
    """Replaces every secret value in a record's message, arguments and traceback text."""

    def __init__(self, values: list[str]) -> None:
        super().__init__()
        # Longest first, so a secret containing another is replaced whole.
        self.values = sorted({v for v in values if v}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.values:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed log call must not reach the screen
            message = f"{record.msg} {record.args}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def setup_logging(level: str, secrets: Secrets, *, path: Path | None = None,
                  max_bytes: int = 5_000_000, backups: int = 3) -> Path:
    """Send all logging to the rotating log file; returns its path."""
    target = path or paths.log_file()
    paths.private_dir(target.parent)
    handler = PrivateRotatingFileHandler(target, maxBytes=max_bytes, backupCount=backups,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(SecretRedactor(secrets.all_values()))
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in list(root.handlers):
        # Our earlier file handler, and anything writing to the terminal, which the desk owns.
        screen = isinstance(old, logging.StreamHandler) and getattr(old, "stream", None) in (sys.stdout, sys.stderr)
        if old.get_name() == HANDLER_NAME or screen:
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    logging.captureWarnings(True)
    return target
