"""Driving a real `trifactor` desk inside tmux from an async test: keys in, screen text out.

Each desk gets its own tmux server (socket) and a session named `config-desk-<pid>`, so
nothing touches another tmux user's sessions.
"""
from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess

from tests.engine.support import GUARD


class TmuxDesk:
    def __init__(self, command: list[str], env: dict[str, str], cwd: str, width: int = 80, height: int = 24) -> None:
        self.socket = f"config-desk-{os.getpid()}"
        self.session = f"config-desk-{os.getpid()}"
        self.command, self.env, self.cwd = command, env, cwd
        self.width, self.height = width, height

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=30).stdout

    def start(self) -> None:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items()
                           if k.startswith(("TRIFACTOR_", "XDG_")))
        shell = f"cd {shlex.quote(self.cwd)} && env {exports} {shlex.join(self.command)}; sleep 30"
        self._tmux("new-session", "-d", "-s", self.session, "-x", str(self.width), "-y", str(self.height), shell)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        """tmux key names (`Escape`, `Down`, `Space`) or literal text with `-l` semantics for one character."""
        for key in keys:
            if len(key) == 1:
                self._tmux("send-keys", "-t", self.session, "-l", key)
            else:
                self._tmux("send-keys", "-t", self.session, key)

    async def wait_for(self, pattern: str, what: str, timeout: float = GUARD) -> str:
        """The screen once `pattern` (a regex) shows on it."""
        async def look() -> str:
            while True:
                text = self.screen()
                if re.search(pattern, text):
                    return text
                await asyncio.sleep(0.2)
        try:
            return await asyncio.wait_for(look(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{what}: no /{pattern}/ on screen after {timeout} s:\n{self.screen()}") from None

    def close(self) -> None:
        self._tmux("kill-server")
