"""VtsPlugin against a local server implementing VTube Studio's documented API messages
(DenchiSoft/VTubeStudio README): token request, denial (errorID 50), authentication, injection,
keep-alive injection, revoked tokens, and VTube Studio restarting. Real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from vtuber import geometry
from vtuber.errors import SenderError
from vtuber.records import AvatarPose, BoneTransform, HeadPose
from vtuber.send.vts import VtsPlugin

WAIT_S = 5.0
DEFAULT_INPUTS = {
    "FaceAngleX", "FaceAngleY", "FaceAngleZ", "FacePositionX", "FacePositionY", "FacePositionZ", "MouthSmile",
    "MouthOpen", "MouthX", "Brows", "BrowLeftY", "BrowRightY", "TongueOut", "CheekPuff", "EyeOpenLeft",
    "EyeOpenRight", "EyeLeftX", "EyeLeftY", "EyeRightX", "EyeRightY",
}
ROOT = BoneTransform(rotation=geometry.IDENTITY.copy(), position=np.zeros(3))


class FakeVts:
    """The subset of VTube Studio's API a tracking plugin uses, with its documented replies."""

    def __init__(self, port: int = 0, *, allow: bool = True, valid_tokens: set[str] | None = None) -> None:
        self.allow = allow
        self.valid_tokens = valid_tokens if valid_tokens is not None else set()
        self.requests: list[tuple[float, str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped = asyncio.Event()
        self._port = port
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self._thread.start()
        assert self._ready.wait(WAIT_S)

    async def _main(self) -> None:
        async with serve(self._handle, "127.0.0.1", self._port) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._server = server
            self._ready.set()
            await self._stopped.wait()
            server.close()  # closes every connection, like VTube Studio quitting
            await server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            await self._serve(ws)
        except ConnectionClosed:
            pass

    async def _serve(self, ws: ServerConnection) -> None:
        authenticated = False
        async for text in ws:
            msg = json.loads(text)
            rid = msg.get("requestID", "")
            kind = msg.get("messageType", "")
            data = msg.get("data", {})
            with self._lock:
                self.requests.append((time.monotonic(), kind, data))
            if msg.get("apiName") != "VTubeStudioPublicAPI" or msg.get("apiVersion") != "1.0" or not rid:
                await ws.send(self._reply(rid, "APIError", {"errorID": 1, "message": "bad envelope"}))
            elif kind == "APIStateRequest":
                await ws.send(self._reply(rid, "APIStateResponse", {"active": True, "vTubeStudioVersion": "1.28.0",
                                                                     "currentSessionAuthenticated": authenticated}))
            elif kind == "AuthenticationTokenRequest":
                if not self.allow:
                    await ws.send(self._reply(rid, "APIError", {"errorID": 50, "message": "User has denied API access for your plugin."}))
                else:
                    token = f"token-{len(self.valid_tokens) + 1}"
                    self.valid_tokens.add(token)
                    await ws.send(self._reply(rid, "AuthenticationTokenResponse", {"authenticationToken": token}))
            elif kind == "AuthenticationRequest":
                authenticated = data.get("authenticationToken") in self.valid_tokens
                reason = "Token valid. The plugin is authenticated." if authenticated else "Token invalid."
                await ws.send(self._reply(rid, "AuthenticationResponse", {"authenticated": authenticated, "reason": reason}))
            elif kind == "InjectParameterDataRequest":
                ids = {p["id"] for p in data.get("parameterValues", [])}
                if not authenticated:
                    await ws.send(self._reply(rid, "APIError", {"errorID": 8, "message": "requires authentication"}))
                elif not ids <= DEFAULT_INPUTS:
                    await ws.send(self._reply(rid, "APIError", {"errorID": 453, "message": f"not found: {ids - DEFAULT_INPUTS}"}))
                else:
                    await ws.send(self._reply(rid, "InjectParameterDataResponse", {}))

    @staticmethod
    def _reply(rid: str, kind: str, data: dict[str, Any]) -> str:
        return json.dumps({"apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0", "timestamp": int(time.time() * 1000),
                           "requestID": rid, "messageType": kind, "data": data})

    def kinds(self) -> list[str]:
        with self._lock:
            return [k for _, k, _ in self.requests]

    def injections(self) -> list[tuple[float, dict[str, Any]]]:
        with self._lock:
            return [(t, d) for t, k, d in self.requests if k == "InjectParameterDataRequest"]

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(WAIT_S)


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def face_pose(yaw_deg: float = 15.0) -> AvatarPose:
    head = HeadPose(geometry.from_axis_angle((0, 1, 0), np.radians(yaw_deg)), np.array([0.0, 0.0, -0.6]))
    bs = {"jawOpen": 0.4, "eyeBlinkLeft": 0.1, "eyeBlinkRight": 0.1, "mouthSmileLeft": 0.2, "mouthSmileRight": 0.2}
    return AvatarPose(0.0, 0, ROOT, MappingProxyType({}), MappingProxyType({}), head=head,
                      source_blendshapes=MappingProxyType(bs), tracked=MappingProxyType({"face": True}))


@pytest.fixture
def server() -> Iterator[FakeVts]:
    s = FakeVts()
    yield s
    s.stop()


def plugin_for(server_port: int, tmp_path: Path, **kw: Any) -> VtsPlugin:
    kw.setdefault("reconnect_min_s", 0.05)
    kw.setdefault("reconnect_max_s", 0.2)
    return VtsPlugin(f"ws://127.0.0.1:{server_port}", token_path=tmp_path / "cfg" / "vts_token.json", **kw)


def test_first_run_requests_a_token_stores_it_and_injects(server: FakeVts, tmp_path: Path) -> None:
    with plugin_for(server.port, tmp_path) as plugin:
        plugin.send(face_pose(15.0), 0.0)
        wait_until(lambda: len(server.injections()) >= 1)
        assert plugin.state == "authenticated"
    kinds = server.kinds()
    assert kinds[:4] == ["APIStateRequest", "AuthenticationTokenRequest", "AuthenticationRequest", "InjectParameterDataRequest"]
    token_file = tmp_path / "cfg" / "vts_token.json"
    assert json.loads(token_file.read_text())["authenticationToken"] == "token-1"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    _, data = server.injections()[0]
    assert data["mode"] == "set" and data["faceFound"] is True
    values = {p["id"]: p["value"] for p in data["parameterValues"]}
    assert values["FaceAngleX"] == pytest.approx(15.0, abs=1e-3)
    assert values["MouthOpen"] == pytest.approx(0.4)
    assert values["EyeOpenLeft"] == pytest.approx(0.9)


def test_values_are_reinjected_at_least_once_a_second_without_frames(server: FakeVts, tmp_path: Path) -> None:
    with plugin_for(server.port, tmp_path) as plugin:
        plugin.send(face_pose(), 0.0)
        wait_until(lambda: len(server.injections()) >= 1)
        time.sleep(2.1)
        times = [t for t, _ in server.injections()]
    assert len(times) >= 4  # keep-alive every 0.5 s
    assert max(np.diff(times)) < 1.0


def test_new_frames_are_injected_latest_first(server: FakeVts, tmp_path: Path) -> None:
    with plugin_for(server.port, tmp_path) as plugin:
        plugin.send(face_pose(1.0), 0.0)
        wait_until(lambda: len(server.injections()) >= 1)
        for i in range(50):
            plugin.send(face_pose(10.0 + i * 0.1), i / 60)
        last = lambda: {p["id"]: p["value"] for p in server.injections()[-1][1]["parameterValues"]}["FaceAngleX"]
        wait_until(lambda: abs(last() - 14.9) < 1e-3)


def test_denied_token_is_reported_once_and_not_asked_again(server: FakeVts, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server.allow = False
    with caplog.at_level(logging.INFO, logger="vtuber.send.vts"):
        with plugin_for(server.port, tmp_path) as plugin:
            plugin.send(face_pose(), 0.0)
            wait_until(lambda: plugin.state == "denied")
            time.sleep(1.0)  # well past several reconnect backoffs
            assert server.kinds().count("AuthenticationTokenRequest") == 1
            errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name.startswith("vtuber")]
            assert len(errors) == 1 and "denied" in errors[0].getMessage()
            assert not server.injections()
            # The user asks again and this time clicks Allow.
            server.allow = True
            plugin.request_token_again()
            wait_until(lambda: len(server.injections()) >= 1)
            assert plugin.state == "authenticated"
    assert not (tmp_path / "cfg" / "vts_token.json").exists() or json.loads((tmp_path / "cfg" / "vts_token.json").read_text())["authenticationToken"]


def test_stored_token_skips_the_popup(tmp_path: Path) -> None:
    token_path = tmp_path / "cfg" / "vts_token.json"
    token_path.parent.mkdir(parents=True)
    token_path.write_text(json.dumps({"authenticationToken": "kept", "pluginName": "vtuber"}))
    server = FakeVts(valid_tokens={"kept"})
    try:
        with plugin_for(server.port, tmp_path) as plugin:
            plugin.send(face_pose(), 0.0)
            wait_until(lambda: len(server.injections()) >= 1)
        assert "AuthenticationTokenRequest" not in server.kinds()
    finally:
        server.stop()


def test_revoked_token_is_replaced(tmp_path: Path) -> None:
    token_path = tmp_path / "cfg" / "vts_token.json"
    token_path.parent.mkdir(parents=True)
    token_path.write_text(json.dumps({"authenticationToken": "revoked", "pluginName": "vtuber"}))
    server = FakeVts()
    try:
        with plugin_for(server.port, tmp_path) as plugin:
            plugin.send(face_pose(), 0.0)
            wait_until(lambda: len(server.injections()) >= 1)
        assert server.kinds()[:5] == ["APIStateRequest", "AuthenticationRequest", "AuthenticationTokenRequest",
                                      "AuthenticationRequest", "InjectParameterDataRequest"]
        assert json.loads(token_path.read_text())["authenticationToken"] == "token-1"
    finally:
        server.stop()


def test_vtube_studio_restarting(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = FakeVts()
    port = first.port
    with caplog.at_level(logging.INFO, logger="vtuber.send.vts"):
        with plugin_for(port, tmp_path) as plugin:
            plugin.send(face_pose(), 0.0)
            wait_until(lambda: len(first.injections()) >= 1)
            tokens = set(first.valid_tokens)
            first.stop()  # VTube Studio quits
            wait_until(lambda: plugin.state != "authenticated")
            time.sleep(0.5)  # several failed reconnects while it is down
            for i in range(30):
                plugin.send(face_pose(), i / 60)  # never blocks while VTS is away
            second = FakeVts(port, valid_tokens=tokens)  # VTube Studio is back (it keeps its tokens)
            try:
                wait_until(lambda: len(second.injections()) >= 1)
                assert plugin.sessions == 2
                assert "AuthenticationTokenRequest" not in second.kinds()
                # One line when VTS went away (not one per failed reconnect), one when it is back.
                warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("vtuber")]
                assert len(warnings) == 1 and "connection lost" in warnings[0]
                assert any("again" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
                plugin.close()
            finally:
                second.stop()


def test_send_never_blocks_without_vtube_studio(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with plugin_for(port, tmp_path) as plugin:
        pose = face_pose()
        start = time.perf_counter()
        for i in range(2000):
            plugin.send(pose, i / 60)
        elapsed = time.perf_counter() - start
        assert plugin.state == "connecting"
    assert elapsed < 0.2  # ~100 us per call would already be very slow; typical is a few us
    assert plugin.state == "closed"


@pytest.mark.parametrize(("kw", "match"), [({"url": "http://localhost:8001"}, "ws://"), ({"plugin_name": "ab"}, "pluginName"),
                                           ({"keepalive_s": 1.5}, "keepalive_s")])
def test_bad_settings_raise_sender_error(tmp_path: Path, kw: dict[str, Any], match: str) -> None:
    with pytest.raises(SenderError, match=match):
        VtsPlugin(token_path=tmp_path / "t.json", **kw)


def test_a_dropped_session_reconnects_fast_even_after_a_long_wait_at_start(tmp_path: Path) -> None:
    """VTube Studio started after vtuber (the backoff grew to its maximum), then restarts: the
    plugin reconnects after the minimum delay, not the grown one."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with plugin_for(port, tmp_path, reconnect_min_s=0.05, reconnect_max_s=2.0) as plugin:
        plugin.send(face_pose(), 0.0)
        time.sleep(3.0)  # nobody listens: the delay grows 0.05 -> 2.0 s
        first = FakeVts(port)
        try:
            wait_until(lambda: plugin.sessions == 1, 5.0)
            tokens = set(first.valid_tokens)
        finally:
            first.stop()
        back = FakeVts(port, valid_tokens=tokens)
        t0 = time.monotonic()
        try:
            wait_until(lambda: plugin.sessions == 2, 5.0)
            assert time.monotonic() - t0 < 1.0  # the old order waited the grown 2 s
        finally:
            back.stop()
