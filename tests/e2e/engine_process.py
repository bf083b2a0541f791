"""Real `trifactor run --headless` processes in a sandbox: their own XDG directories (so
the journal, state file and log of every run of one scenario live together and nothing
touches the real home), their output read line by line as it comes.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from tests.e2e.output import BAR, Output

GUARD_S = 120.0  # no run of these tests takes this long unless something hangs


class Sandbox:
    """One scenario's home: XDG dirs, config file, and the runs made in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs: list[EngineRun] = []
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("TRIFACTOR", "BINANCE", "XDG_"))}
        for var in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME"):
            path = root / var.lower()
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.env[var] = str(path)
        self.env["PYTHONUNBUFFERED"] = "1"
        self.config: Path | None = None

    def write_config(self, text: str, name: str = "config.yaml") -> Path:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        return path

    def start(self, db: str, *, bars: int, speed: float, seed: int = 7,
              config: Path | None = None) -> "EngineRun":
        args = ["run", "--headless", "--bars", str(bars), "--speed", str(speed), "--seed", str(seed), "--db", db]
        if config is not None:
            args += ["--config", str(config)]
        run = EngineRun(self, args, len(self.runs), config.name if config else None)
        self.runs.append(run)
        self.note(f"run {run.index} started (pid {run.pid}): {' '.join(args)}")
        return run

    def run(self, db: str, **kw) -> "EngineRun":
        """A run to its end; it must exit 0."""
        run = self.start(db, **kw)
        run.wait()
        assert run.returncode == 0, f"run {run.index} exited {run.returncode}: {run.stderr_text()[-2000:]}"
        return run

    def note(self, what: str) -> None:
        """A line in the scenario's timeline (kills, outages), on the clock of the runs' logs."""
        with (self.root / "timeline.txt").open("a", encoding="utf-8") as fh:
            fh.write(f"{datetime.now():%H:%M:%S.%f} {what}\n")

    def fills(self) -> list:
        """Every fill any run of this sandbox printed, in order."""
        return [fill for run in self.runs for fill in run.output().fills]

    def close(self) -> None:
        for run in self.runs:
            run.kill9()


class EngineRun:
    def __init__(self, sandbox: Sandbox, args: list[str], index: int, config_name: str | None = None) -> None:
        self.index, self.config_name = index, config_name
        self._sandbox = sandbox
        self.started_at = time.monotonic()
        self._lines: list[str] = []
        self.first_bar_after_s: float | None = None  # how long its start-up took
        self._changed = threading.Condition()
        self._stderr_path = sandbox.root / f"stderr-{index}.txt"
        # What the run printed, kept beside its stderr: a failed trial is read long after the test ended.
        self._stdout_path = sandbox.root / f"stdout-{index}.txt"
        with self._stderr_path.open("wb") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "tui.cli", *args], cwd=sandbox.root,
                                            env=sandbox.env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=err, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self._stdout_path.open("w", encoding="utf-8") as copy:
            for line in self.process.stdout:
                copy.write(f"{datetime.now():%H:%M:%S.%f} {line}")  # the clock of the engine's log
                copy.flush()
                self._take(line)
        with self._changed:
            self._changed.notify_all()

    def _take(self, line: str) -> None:
        with self._changed:
            self._lines.append(line.rstrip("\n"))
            if self.first_bar_after_s is None and BAR.match(line):
                self.first_bar_after_s = time.monotonic() - self.started_at
            self._changed.notify_all()

    def wait_for(self, seen: Callable[[Output], bool], timeout: float = GUARD_S) -> bool:
        """Wait until `seen(output so far)` holds; False if the process ended or time ran out."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if seen(Output(self._lines)):
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    return False
                self._changed.wait(min(left, 0.2))

    def wait(self, timeout: float = GUARD_S) -> int:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError(f"run {self.index} did not end within {timeout:.0f} s") from None
        self._reader.join(timeout=10)
        return self.process.returncode

    def kill9(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self._sandbox.note(f"run {self.index} killed")
        self.process.wait(timeout=30)
        self._reader.join(timeout=10)

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait()

    def output(self) -> Output:
        with self._changed:
            return Output(list(self._lines))

    def stderr_text(self) -> str:
        return self._stderr_path.read_text(encoding="utf-8", errors="replace")
