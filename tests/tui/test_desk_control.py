"""The desk serves the engine's control socket: a command from outside acts on the engine the
desk shows, and the socket goes away with the engine."""
import asyncio

from engine.control import ControlServer
from engine.control_client import request
from tests.tui.conftest import build_desk, until, until_trading


async def test_a_flatten_sent_to_the_desks_socket_closes_what_the_desk_shows(tmp_path, monkeypatch):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    app, engine = build_desk(tmp_path)
    app.control = ControlServer.claim(app.config)
    path = app.control.path
    async with app.run_test(size=(120, 40)) as pilot:
        await until_trading(pilot, app)
        status = await asyncio.to_thread(request, path, "default", {"command": "status"})
        assert status["ok"] and status["details"]["positions"]
        answer = await asyncio.to_thread(request, path, "default", {"command": "flatten"})
        assert answer["ok"] and answer["command"] == "flatten_all", answer
        await until(pilot, lambda: app.desk.positions.open_count == 0, "the desk shows no position")
        assert engine.snapshot().state.halted
        app.shutdown()
        await until(pilot, lambda: not path.exists(), "the socket is removed with the engine")
