"""Runs `alerts.command` for one alert: the alert's kind and text as arguments, the alert line
on standard input, stopped after `alerts.timeout_s`. It runs as its own process, awaited
off the engine's path, so a slow or hanging script never holds the engine up."""
from __future__ import annotations

import asyncio
import os
import shlex

from tui.alerts import Alert


async def run_alert_command(command: str, alert: Alert, timeout_s: float) -> str | None:
    """None when the command ran and exited 0; otherwise one sentence saying what went wrong."""
    try:
        program, *args = shlex.split(command)
        argv = [os.path.expanduser(program), *args, alert.kind, alert.text]
    except ValueError as e:
        return f"config `alerts.command` cannot be split into words: {e}"
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
    except OSError as e:
        return f"config `alerts.command`: {argv[0]} could not be started: {e.strerror or e}"
    try:
        await asyncio.wait_for(process.communicate((alert.line() + "\n").encode()), timeout_s)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return f"config `alerts.command`: {argv[0]} did not finish within {timeout_s:g} s and was stopped"
    if process.returncode:
        return f"config `alerts.command`: {argv[0]} exited with status {process.returncode}"
    return None
