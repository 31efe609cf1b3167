"""`vtuber run` as a user runs it: real processes, real clips, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import media_path

pytestmark = pytest.mark.mediapipe


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vtuber", "run", "--no-ws", "--no-vmc", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("vtuber: error:")]


def test_no_camera_is_one_clear_line() -> None:
    result = run_cli("--source", "/dev/video99")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        line for line in result.stderr.splitlines() if "error" in line.lower() and "W0000" not in line
    ]
    assert "cannot open camera" in result.stderr and "Traceback" not in result.stderr


def test_unreadable_file_is_one_clear_line(tmp_path: Path) -> None:
    junk = tmp_path / "holiday.mp4"
    junk.write_bytes(b"\x00garbage" * 1000)
    result = run_cli("--source", str(junk))
    assert result.returncode == 2
    assert len(error_lines(result.stderr)) == 1
    assert "holiday.mp4" in result.stderr and "Traceback" not in result.stderr


def test_malformed_config_is_one_clear_line(tmp_path: Path) -> None:
    cfg = tmp_path / "my.toml"
    cfg.write_text("[websocket]\nport = 'eighty'\n")
    result = run_cli("--config", str(cfg))
    assert result.returncode == 2
    assert error_lines(result.stderr) == [f"vtuber: error: {cfg}: [websocket] port must be an integer, got 'eighty'"]


def test_no_face_in_view_says_so_once_and_keeps_running(tmp_path: Path) -> None:
    for i in range(70):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((120, 160, 3), 90 + i, np.uint8))
    result = run_cli("--source", str(tmp_path), "--no-pace")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("no face in view") == 1
    assert "70 frames" in result.stderr and "face in 0/70" in result.stderr


def test_video_no_pace_reports_frames_per_second() -> None:
    clip = media_path("liveportrait/d10.mp4")
    result = run_cli("--source", str(clip), "--no-pace", "--face-backend", "mesh")
    assert result.returncode == 0, result.stderr
    summary = [line for line in result.stderr.splitlines() if line.startswith("vtuber: 448 frames")]
    assert summary, result.stderr
    fps = float(summary[0].split("(")[1].split(" frames per second")[0])
    assert fps > 30.0  # faster than the clip's own 30 fps: nothing paced it


def test_video_is_paced_at_its_own_frame_rate() -> None:
    clip = media_path("liveportrait/d10.mp4")
    result = run_cli("--source", str(clip), "--frames", "90", "--face-backend", "mesh")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if line.startswith("vtuber: 90 frames"))
    fps = float(line.split("(")[1].split(" frames per second")[0])
    assert 26.0 <= fps <= 31.0  # the clip is 30 fps; start-up costs a little


def test_the_live_view_counts_websocket_clients() -> None:
    """A streamer checks in the terminal that OBS's browser source is connected."""
    import json
    import socket
    import threading
    import time

    from websockets.sync.client import connect

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vtuber", "run", "--no-vmc", "--source", "demo", "--duration", "8",
         "--face-backend", "mesh", "--ws", f"127.0.0.1:{port}"],
        stderr=subprocess.PIPE, text=True,
    )
    frames = []

    def read() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with connect(f"ws://127.0.0.1:{port}/", open_timeout=2) as ws:
                    json.loads(ws.recv(timeout=10))  # hello
                    while True:
                        frames.append(ws.recv(timeout=5))
            except (OSError, TimeoutError):
                time.sleep(0.2)  # not listening yet
            except Exception:  # noqa: BLE001 - the engine closed the stream at the end
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    _, stderr = proc.communicate(timeout=120)
    reader.join(timeout=10)
    assert proc.returncode == 0, stderr
    assert frames, stderr
    views = [line for line in stderr.splitlines() if " fps | frame " in line]
    assert views and all("ws clients" in line for line in views), views
    assert any(line.endswith("ws clients 1") for line in views), views
