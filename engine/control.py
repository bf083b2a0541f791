"""The running engine's local control socket: the outside kill switch.

One unix socket per instance, `trifactor-<instance>.sock`, mode 0600 in a 0700 directory (the
XDG runtime dir, else the XDG state dir). A client sends one JSON object per line,
`{"command": "flatten", "symbol": "BTCUSDT"}`, and reads JSON lines back: zero or more
`{"progress": "..."}` while the command runs, then the answer `{"ok", "message", "details", ...}`.

A lock file held for the engine's life makes "another engine runs" exact; a socket file left by
a killed engine (nothing answers on it) is replaced.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import re
import socket
from decimal import Decimal
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

from engine import paths
from engine.events import CommandResult, EngineError, FlattenProgress
from engine.flatten import flatten_line

log = logging.getLogger(__name__)
SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes on Linux; keep a margin
REQUEST_LIMIT = 64 * 1024
_INSTANCE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ControlError(Exception):
    """The control socket cannot be set up (another engine runs, or the path is unusable)."""


def instance_of(config: Any) -> str:
    return getattr(config, "instance", "default") or "default"


def control_dir() -> Path:
    """$XDG_RUNTIME_DIR/trifactor when XDG_RUNTIME_DIR is usable, else the XDG state dir."""
    runtime_root = os.environ.get("XDG_RUNTIME_DIR")
    # A runtime dir that does not exist is unusable (the spec has the login create it, 0700): the
    # engine must not create it, with whatever mode, or its clients would judge it differently.
    if runtime_root and os.path.isdir(runtime_root):
        import platformdirs

        try:
            runtime = Path(platformdirs.user_runtime_dir(paths.APP))
        except OSError:
            runtime = None
        # platformdirs falls back to /run/user/<uid> or /tmp when the variable is unusable;
        # the state dir is the one the operator's other files already use, so prefer that.
        if runtime is not None and runtime.parent == Path(runtime_root):
            return runtime
    return paths.state_dir()


def socket_path(config: Any) -> Path:
    instance = instance_of(config)
    if not _INSTANCE_NAME.fullmatch(instance):
        raise ControlError(f"config `instance` {instance!r} must be letters, digits, '.', '_' or '-' "
                           f"(it names the control socket)")
    path = control_dir() / f"trifactor-{instance}.sock"
    if len(str(path)) <= SOCKET_PATH_MAX:
        return path
    # A unix socket's path has a hard length limit: a deep state dir gets a short stand-in that
    # every client derives the same way, in a directory only this user may use.
    import hashlib
    import tempfile

    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    short = Path(tempfile.gettempdir()) / f"trifactor-{os.getuid()}"
    return short / f"{instance}-{digest}.sock"


def _private_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if directory.stat().st_uid != os.getuid():
        raise ControlError(f"the control socket directory {directory} belongs to another user; remove it or set "
                           f"XDG_RUNTIME_DIR")
    os.chmod(directory, 0o700)


def answers(path: Path) -> bool:
    """Whether an engine listens on `path` (a stale file from a killed engine does not)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def result_answer(result: CommandResult) -> dict:
    return {"command": result.command, "ok": result.ok, "message": result.message, "symbol": result.symbol,
            "details": dict(result.details)}


def status_answer(engine: Any) -> dict:
    snap = engine.snapshot()
    state = snap.state
    positions = {s: {"quantity": p.quantity, "entry_price": p.entry_price, "mark_price": p.mark_price,
                     "unrealized_pnl": p.unrealized_pnl} for s, p in sorted(snap.positions.items())}
    equity = snap.equity.equity if snap.equity is not None else None
    halt = f"entries halted ({state.halt_reason})" if state.halted else "entries allowed"
    phase = "running" if engine.started else "starting or stopped"
    message = (f"{state.mode.value} on {state.market}, {phase}: "
               f"equity {'-' if equity is None else f'{equity:,.2f}'}; {len(positions)} open position(s); {halt}")
    details = {"mode": state.mode.value, "market": state.market, "started": engine.started,
               "halted": state.halted, "halt_reason": state.halt_reason, "paused": sorted(state.paused),
               "mismatched": sorted(state.mismatched), "feed": state.feed_status, "equity": equity,
               "positions": positions}
    return {"command": "status", "ok": True, "message": message, "symbol": None, "details": details}


def _running_elsewhere(instance: str, path: Path) -> str:
    return (f"another trifactor engine (or a direct flatten) is running for instance {instance!r} "
            f"(control socket {path}); stop it first, or give this one its own `instance` in the config")


def _take_lock(path: Path, instance: str) -> int:
    """The instance's lock, held until released (the kernel drops it when the process dies)."""
    try:
        _private_dir(path.parent)
        fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise ControlError(f"cannot use {path.parent} for the control socket: {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ControlError(_running_elsewhere(instance, path)) from None
    return fd


@contextlib.contextmanager
def instance_lock(config: Any) -> Iterator[None]:
    """Hold the instance's lock without a socket: no engine can start meanwhile (a direct flatten)."""
    fd = _take_lock(socket_path(config), instance_of(config))
    try:
        yield
    finally:
        os.close(fd)


Handler = Callable[[Any, str | None], Awaitable[CommandResult]]
# The commands the socket takes: name -> (needs a symbol, the engine call).
COMMANDS: dict[str, tuple[bool | None, Handler]] = {
    "flatten": (None, lambda e, s: e.flatten(s) if s else e.flatten_all()),  # symbol optional
    "pause": (True, lambda e, s: e.pause(s)),
    "resume": (True, lambda e, s: e.resume(s)),
    "halt": (False, lambda e, s: e.halt_entries()),
    "resume-entries": (False, lambda e, s: e.resume_entries()),
}


def _refused(command: str, message: str) -> dict:
    return {"command": command, "ok": False, "message": message, "symbol": None, "details": {}}


class ControlServer:
    """Claimed (lock, stale check, bind) before the engine is built; served on the engine's loop."""

    def __init__(self, path: Path, instance: str) -> None:
        self.path = path
        self.instance = instance
        self._lock_fd: int | None = None
        self._bound = False  # the socket file is ours to remove
        self._sock: socket.socket | None = None
        self._server: asyncio.AbstractServer | None = None
        self._engine: Any = None

    @classmethod
    def claim(cls, config: Any) -> ControlServer:
        server = cls(socket_path(config), instance_of(config))
        server._claim()
        return server

    def _claim(self) -> None:
        path = self.path
        if len(str(path)) > SOCKET_PATH_MAX:
            raise ControlError(f"the control socket path {path} is too long for a unix socket; "
                               f"set XDG_RUNTIME_DIR to a shorter directory")
        fd = _take_lock(path, self.instance)
        self._lock_fd = fd
        try:
            if path.exists() or path.is_symlink():
                if answers(path):
                    raise ControlError(_running_elsewhere(self.instance, path))
                log.info("replacing the stale control socket %s", path)
                path.unlink()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(str(path))
                self._bound = True
                os.chmod(path, 0o600)
                sock.listen(16)
            except OSError as e:
                sock.close()
                raise ControlError(f"cannot listen on the control socket {path}: {e.strerror or e}") from None
            sock.setblocking(False)
            self._sock = sock
        except BaseException:
            self.release()
            raise

    async def start(self, engine: Any) -> None:
        if self._sock is None:
            raise ControlError(f"the control socket {self.path} was released")
        self._engine = engine
        self._server = await asyncio.start_unix_server(self._serve, sock=self._sock, limit=REQUEST_LIMIT)
        log.info("control socket listening on %s", self.path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
            self._sock = None  # the server owned and closed it
        self.release()

    def release(self) -> None:
        """Remove the socket file and drop the lock (safe to call more than once)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._bound:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self._bound = False
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- serving ------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._send(writer, _refused("?", f"a request is longer than {REQUEST_LIMIT} bytes"))
                    return
                if not line:
                    return
                await self._send(writer, await self._answer(line, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; the command (if any) ran to its end regardless
        except Exception as e:  # noqa: BLE001 - one bad connection must not touch the engine
            log.exception("control socket: serving a request failed")
            with contextlib.suppress(Exception):
                await self._send(writer, _refused("?", f"the engine could not answer: {e}"))
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _send(self, writer: asyncio.StreamWriter, payload: dict) -> None:
        writer.write(json.dumps(payload, default=_jsonable).encode() + b"\n")
        await writer.drain()

    async def _answer(self, line: bytes, writer: asyncio.StreamWriter) -> dict:
        try:
            request = json.loads(line)
        except ValueError:
            return _refused("?", "a request must be one JSON object per line")
        if not isinstance(request, dict) or not isinstance(request.get("command"), str):
            return _refused("?", 'a request needs a "command", e.g. {"command": "status"}')
        command, symbol = request["command"], request.get("symbol")
        if symbol is not None and not isinstance(symbol, str):
            return _refused(command, "the symbol must be a string")
        symbol = symbol.upper() if symbol else None
        if command == "status":
            return status_answer(self._engine)
        if command not in COMMANDS:
            return _refused(command, f"unknown command {command!r} (one of status, {', '.join(COMMANDS)})")
        needs_symbol, call = COMMANDS[command]
        if needs_symbol and not symbol:
            return _refused(command, f"{command} needs a symbol, e.g. {command} BTCUSDT")
        if needs_symbol is False and symbol:
            return _refused(command, f"{command} takes no symbol")
        log.info("control socket: %s%s", command, f" {symbol}" if symbol else "")
        return result_answer(await self._with_progress(call(self._engine, symbol), writer))

    async def _with_progress(self, work: Awaitable[CommandResult], writer: asyncio.StreamWriter) -> CommandResult:
        """Run the command; what the engine reports meanwhile (its errors) goes to the client as progress."""
        bus = self._engine.bus
        sub = bus.subscribe("control", maxsize=1_000, coalesce=True)
        task = asyncio.ensure_future(work)
        try:
            while not task.done():
                waiter = asyncio.ensure_future(sub.get_batch())
                await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if not waiter.done():
                    waiter.cancel()
                    continue
                for event in waiter.result():
                    line = event.message if isinstance(event, EngineError) else (
                        flatten_line(event) if isinstance(event, FlattenProgress) else None)
                    if line is not None:
                        with contextlib.suppress(ConnectionError):
                            await self._send(writer, {"progress": line})
            return task.result()  # never awaited directly: a client going away must not cancel it
        finally:
            bus.unsubscribe(sub)
