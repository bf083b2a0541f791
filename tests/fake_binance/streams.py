"""The fake exchange's market streams: raw (`/ws`, `/market/ws/0`...) and combined (`/stream`).

Raw connections subscribe with `{"method": "SUBSCRIBE", "params": [...], "id": n}` and get
bare events; combined connections name their streams in the URL and get
`{"stream": name, "data": event}`.
"""
from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType, web


class StreamHub:
    def __init__(self) -> None:
        self._connections: dict[web.WebSocketResponse, tuple[set[str], bool]] = {}
        self.subscribe_counts: dict[str, int] = {}
        self.paths: list[str] = []
        self._changed = asyncio.Event()

    def _subscribe(self, ws: web.WebSocketResponse, names: list[str]) -> None:
        streams, _ = self._connections[ws]
        for name in names:
            streams.add(name)
            self.subscribe_counts[name] = self.subscribe_counts.get(name, 0) + 1
        self._changed.set()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        combined = "stream" in request.path.rsplit("/", 1)[-1]
        self.paths.append(request.path)
        self._connections[ws] = (set(), combined)
        if combined and request.query.get("streams"):
            self._subscribe(ws, request.query["streams"].split("/"))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await self._on_request(ws, msg.data)
        finally:
            self._connections.pop(ws, None)
            self._changed.set()
        return ws

    async def _on_request(self, ws: web.WebSocketResponse, text: str) -> None:
        try:
            req = json.loads(text)
            method, params, rid = req["method"], req.get("params", []), req.get("id")
        except (ValueError, KeyError, TypeError):
            await ws.send_str(json.dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}))
            return
        streams, _ = self._connections[ws]
        if method == "SUBSCRIBE":
            self._subscribe(ws, list(params))
            await ws.send_str(json.dumps({"result": None, "id": rid}))
        elif method == "UNSUBSCRIBE":
            streams.difference_update(params)
            await ws.send_str(json.dumps({"result": None, "id": rid}))
        elif method == "LIST_SUBSCRIPTIONS":
            await ws.send_str(json.dumps({"result": sorted(streams), "id": rid}))
        else:
            await ws.send_str(json.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": rid}))

    async def publish(self, stream: str, event: dict) -> int:
        """Send one event to every connection subscribed to `stream`; returns how many got it."""
        raw = json.dumps(event)
        wrapped = None
        sends = []
        for ws, (streams, combined) in list(self._connections.items()):
            if stream not in streams or ws.closed:
                continue
            if combined:
                wrapped = wrapped or json.dumps({"stream": stream, "data": event})
                sends.append(ws.send_str(wrapped))
            else:
                sends.append(ws.send_str(raw))
        results = await asyncio.gather(*sends, return_exceptions=True)
        return sum(1 for r in results if not isinstance(r, Exception))

    def subscribers(self, stream: str) -> int:
        return sum(1 for streams, _ in self._connections.values() if stream in streams)

    async def wait_until(self, predicate, timeout: float) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(loop(), timeout)

    async def drop_all(self) -> int:
        """Close every stream connection from the server side, as a network cut would."""
        conns = list(self._connections)
        await asyncio.gather(*(ws.close(code=1001, message=b"dropped") for ws in conns), return_exceptions=True)
        return len(conns)
