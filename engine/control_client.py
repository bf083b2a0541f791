"""Talking to a running engine over its control socket (see engine.control for the protocol)."""
from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Callable

from engine.control import ControlError


class NoEngineRunning(Exception):
    """Nothing listens on the instance's control socket."""

    def __init__(self, instance: str, path: Path, stale: bool = False) -> None:
        # A stale file left by a killed engine is no socket anyone listens on: the same sentence.
        super().__init__(f"no trifactor engine is running for instance {instance} (no socket at {path})")
        self.instance, self.path, self.stale = instance, path, stale


class ControlProtocolError(ControlError):
    """The engine's answer could not be read."""


def request(path: Path, instance: str, payload: dict, on_progress: Callable[[str], None] | None = None,
            connect_timeout_s: float = 5.0) -> dict:
    """Send one command and return the engine's answer; progress lines go to `on_progress`.

    There is no time limit on the answer itself: a flatten runs until the positions are closed.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(connect_timeout_s)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, NotADirectoryError):
            raise NoEngineRunning(instance, path) from None
        except ConnectionRefusedError:
            raise NoEngineRunning(instance, path, stale=True) from None
        except OSError as e:
            raise ControlError(f"cannot connect to the control socket {path}: {e.strerror or e}") from None
        sock.settimeout(None)
        sock.sendall(json.dumps(payload).encode() + b"\n")
        with sock.makefile("rb") as lines:
            for line in lines:
                try:
                    message = json.loads(line)
                except ValueError:
                    raise ControlProtocolError(f"the engine at {path} sent an unreadable answer") from None
                if "progress" in message:
                    if on_progress is not None:
                        on_progress(str(message["progress"]))
                    continue
                return message
        raise ControlProtocolError(f"the engine at {path} closed the connection without answering")
    finally:
        sock.close()
