"""The control socket in process: where it lives, one engine per instance, stale files, and
the request/answer protocol against a running engine."""
from __future__ import annotations

import asyncio
import json
import socket
import stat
from pathlib import Path

import pytest

from engine.control import ControlError, ControlServer, control_dir, socket_path
from engine.control_client import NoEngineRunning, request
from engine.model import Mode, OrderResult
from tests.engine.support import Harness, make_config, open_quantities


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch) -> Path:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return run


def test_the_socket_lives_in_the_runtime_dir_else_the_state_dir(runtime, tmp_path, monkeypatch):
    assert control_dir() == runtime / "trifactor"
    assert socket_path(make_config()) == runtime / "trifactor" / "trifactor-default.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert control_dir() == tmp_path / "state" / "trifactor"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))  # set, but no login made it
    assert control_dir() == tmp_path / "state" / "trifactor" and not (tmp_path / "missing").exists()


def test_one_claim_per_instance_until_released(runtime):
    first = ControlServer.claim(make_config())
    try:
        path = first.path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        with pytest.raises(ControlError, match="another trifactor engine .* instance 'default'"):
            ControlServer.claim(make_config())
    finally:
        first.release()
    assert not path.exists()
    ControlServer.claim(make_config()).release()


def test_a_stale_socket_file_is_replaced_and_a_live_one_refused(runtime):
    path = socket_path(make_config())
    path.parent.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, as after kill -9
    server = ControlServer.claim(make_config())
    server.release()

    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # an engine that holds no lock
    live.bind(str(path))
    live.listen(1)
    try:
        with pytest.raises(ControlError, match="another trifactor engine"):
            ControlServer.claim(make_config())
    finally:
        live.close()
        path.unlink()


def test_no_socket_means_no_engine(runtime):
    path = socket_path(make_config())
    with pytest.raises(NoEngineRunning, match=f"no trifactor engine is running for instance default "
                                              f"\\(no socket at {path}\\)"):
        request(path, "default", {"command": "status"})


async def raw(path: Path, *lines: bytes) -> list[dict]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    answers = []
    for line in lines:
        writer.write(line)
        await writer.drain()
        answers.append(json.loads(await reader.readline()))
    writer.close()
    return answers


async def test_requests_are_answered_and_bad_ones_refused_with_a_sentence(runtime):
    async with Harness() as h:
        server = ControlServer.claim(h.config)
        await server.start(h.engine)
        try:
            status, garbage, unknown, bare, extra = await raw(
                server.path, b'{"command": "status"}\n', b"flatten please\n", b'{"command": "nuke"}\n',
                b'{"command": "pause"}\n', b'{"command": "halt", "symbol": "BTCUSDT"}\n')
            assert status["ok"] and status["details"]["mode"] == "paper" and status["details"]["started"]
            assert not garbage["ok"] and "one JSON object per line" in garbage["message"]
            assert not unknown["ok"] and "unknown command 'nuke'" in unknown["message"]
            assert not bare["ok"] and bare["message"] == "pause needs a symbol, e.g. pause BTCUSDT"
            assert not extra["ok"] and extra["message"] == "halt takes no symbol"
            assert not h.engine.snapshot().state.halted  # nothing refused reached the engine
        finally:
            await server.close()
        assert not server.path.exists()


async def test_a_flatten_streams_the_engines_errors_then_answers_with_its_result(runtime):
    async with Harness() as h:
        await h.step_until(lambda: len(open_quantities(h.engine)) >= 2)
        venue = h.venues[Mode.PAPER]
        real_submit, failed = venue.submit, []

        async def first_close_fails(order):
            if not failed:
                failed.append(order.symbol)
                return OrderResult(order, "error", message=f"{order.symbol}: the venue hiccuped")
            return await real_submit(order)

        venue.submit = first_close_fails
        server = ControlServer.claim(h.config)
        await server.start(h.engine)
        progress: list[str] = []
        try:
            answer = await asyncio.to_thread(request, server.path, "default", {"command": "flatten"}, progress.append)
        finally:
            await server.close()
        assert answer["ok"] and answer["command"] == "flatten_all", answer
        assert any(failed[0] in line and "the venue hiccuped" in line for line in progress), progress
        assert open_quantities(h.engine) == {}
