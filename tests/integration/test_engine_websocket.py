"""The engine's WebSocket stream end to end: the demo through real MediaPipe to real clients.

Two clients of the server process each get one message per frame with the head rotation and blendshapes; a third that
disconnects and a fourth that never reads slow nobody down."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from websockets.sync.client import connect

from vtuber.capture.demo import DemoSource
from vtuber.engine import Engine
from vtuber.retarget.profile import load_profile
from vtuber.send.websocket_process import WebSocketServerProcess
from vtuber.smooth import RigSmoother
from vtuber.track.mediapipe_adapter import MediaPipeTracker

pytestmark = [pytest.mark.mediapipe, pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")]

FRAMES = 90  # three seconds of demo at 30 fps


def collect(url: str, out: list[dict], ready: threading.Event, stop_after: int | None = None) -> threading.Thread:
    def run() -> None:
        with connect(url) as ws:
            out.append(json.loads(ws.recv(timeout=10)))  # hello
            ready.set()
            while True:
                try:
                    message = json.loads(ws.recv(timeout=3))
                except TimeoutError:
                    return
                out.append(message)
                if stop_after is not None and len(out) > stop_after:
                    return  # disconnect mid-stream

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_clients_get_one_message_per_frame_and_bad_clients_slow_nobody() -> None:
    server = WebSocketServerProcess("127.0.0.1", 0, avatar_profile="vrm0")  # as `vtuber run` serves it
    server.start()
    try:
        url = f"ws://127.0.0.1:{server.port}/"
        streams: list[list[dict]] = [[], [], []]
        ready = [threading.Event() for _ in streams]
        threads = [
            collect(url, streams[0], ready[0]),
            collect(url + "?coords=gltf&names=arkit", streams[1], ready[1]),
            collect(url, streams[2], ready[2], stop_after=10),
        ]
        stalled = socket.create_connection(("127.0.0.1", server.port))
        stalled.sendall(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # and never reads
        for event in ready:
            assert event.wait(10)
        deadline = time.monotonic() + 10
        while server.client_count < 4:  # the three readers and the stalled client, as the server counts them
            assert time.monotonic() < deadline, server.client_count
            time.sleep(0.01)
        with MediaPipeTracker("face", face_backend="mesh") as tracker:
            engine = Engine(
                source=DemoSource(),
                tracker=tracker,
                smoother=RigSmoother("balanced"),
                profile=load_profile("vrm0"),
                senders=[server],
                pace=True,
            )
            summary = engine.run(max_frames=FRAMES)
        for t in threads:
            t.join(timeout=10)
        stalled.close()
    finally:
        server.close()
    assert 27.0 <= summary.fps <= 31.0  # paced at 30 fps: the stalled client did not slow it
    cpu, wall = engine.telemetry.after_tracking_cpu(), engine.telemetry.after_tracking()
    assert 0.0 < cpu.p50_ms <= wall.p50_ms + 0.05  # the engine thread's own CPU time, within its wall time
    for stream in streams[:2]:
        frames = [m for m in stream if m["type"] == "frame"]
        assert [m["index"] for m in frames] == list(range(FRAMES))  # one message per frame
        for m in frames:
            assert len(m["head"]["rotation"]) == 4
            assert all(0.0 <= v <= 1.0 for v in m["blendshapes"].values())
    assert "Blink_L" in streams[0][-1]["blendshapes"]
    assert "eyeBlinkLeft" in streams[1][-1]["blendshapes"]
    assert streams[1][0]["coords"] == "gltf"
