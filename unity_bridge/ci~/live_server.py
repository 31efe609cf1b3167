"""Run the C# BridgeClient (CoreTests.exe --live) against the engine's real WebSocket server.

    python unity_bridge/ci~/live_server.py MONO CORE_TESTS_EXE

Order of events: the client starts first (connection refused -> backoff), the server starts and
publishes frames, the server is closed (1001) and started again on the same port (the client must
reconnect), frames continue until the client exits. Exit code: the client's.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from vtuber.records import AvatarPose, BoneTransform, HeadPose
from vtuber.send.websocket import WebSocketServer

TIMEOUT_S = 40.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pose(index: int) -> AvatarPose:
    identity = np.array([0.0, 0.0, 0.0, 1.0])
    return AvatarPose(
        t=index / 100,
        index=index,
        root=BoneTransform(identity),
        bones={
            "Hips": BoneTransform(identity),
            "Head": BoneTransform(np.array([0.0, 0.6, 0.0, 0.8])),
        },
        blendshapes={"Blink_L": 0.5},
        head=HeadPose(identity, np.array([0.25, 0.0, -0.6])),
        tracked={"face": True},
    )


def serve(port: int, seconds: float, start_index: int, client: subprocess.Popen) -> int:
    server = WebSocketServer("127.0.0.1", port, avatar_profile="ci", version="ci")
    server.start()
    index = start_index
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end and client.poll() is None:
            server.publish(pose(index), sent_wall_s=time.time())
            index += 1
            time.sleep(0.01)
    finally:
        server.close()
    return index


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__)
        return 2
    mono, exe = argv[1], argv[2]
    port = free_port()
    url = f"ws://127.0.0.1:{port}/?coords=unity&names=profile"
    client = subprocess.Popen(
        [mono, exe, "--live", url, "2", str(TIMEOUT_S - 5)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(client.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        time.sleep(1.0)  # the client's first attempts are refused
        index = serve(port, 1.5, 0, client)
        time.sleep(0.5)  # down: the client retries
        deadline = time.monotonic() + TIMEOUT_S
        while client.poll() is None and time.monotonic() < deadline:
            index = serve(port, 1.0, index, client)
        code = client.wait(timeout=10)
    finally:
        if client.poll() is None:
            client.kill()
    reader.join(5)
    sys.stdout.write("".join(output))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
