"""Faulty inputs through the real CLI: real processes, real files, real UDP, real signals."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

FPS = 20.0  # frames per second of the synthetic clip
SIZE = (64, 48)  # width, height in pixels


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vtuber", "run", "--no-ws", "--no-vmc", "--no-page", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("vtuber: error:")]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--demo", "--fov", "nan"], "[camera] horizontal_fov_deg (--fov) must be"),
        (["--demo", "--duration", "-5"], "[run] duration_s (--duration) must be seconds >= 0"),
        (["--demo", "--frames", "-5"], "[run] max_frames (--frames) must be >= 0"),
    ],
)
def test_out_of_range_flags_are_one_line_errors(args: list[str], expected: str) -> None:
    result = run_cli(*args, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_section_written_as_a_value_plus_a_flag_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "plain.toml"
    cfg.write_text('source = "webcam:0"\n', encoding="utf-8")
    result = run_cli("--config", str(cfg), "--source", str(tmp_path / "x.mp4"), timeout=60)
    assert result.returncode == 2, result.stderr
    assert error_lines(result.stderr) == [
        (
            f"vtuber: error: {cfg}: [source] must be a table, got source = 'webcam:0' "
            "(write it as a table: a [source] line, then spec = 'webcam:0')"
        )
    ]


def test_video_without_frames_fails_before_anything_starts(tmp_path: Path) -> None:
    empty = tmp_path / "no frames.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE).release()
    result = run_cli("--source", str(empty), timeout=120)
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and str(empty) in lines[0] and "no decodable frames" in lines[0]
    assert "source failed" not in result.stderr and "Traceback" not in result.stderr


def test_folder_of_unreadable_images_is_one_line_error(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(b"junk!")
    result = run_cli("--source", str(tmp_path), timeout=120)
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "none of the 3 images" in lines[0] and str(tmp_path) in lines[0]


@pytest.mark.mediapipe
def test_run_reads_past_corrupt_frames_and_counts_them(tmp_path: Path) -> None:
    clip = tmp_path / "bad.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for i in range(60):
        writer.write(np.full((SIZE[1], SIZE[0], 3), 4 * i, np.uint8))
    writer.release()
    data = bytearray(clip.read_bytes())
    starts = [m.start() for m in re.finditer(b"\xff\xd8\xff", data)]
    for k in range(20, 40):  # zero the JPEG data of frames 20-39, keep the AVI chunk headers
        end = starts[k + 1] - 8
        data[starts[k] : end] = bytes(end - starts[k])
    clip.write_bytes(bytes(data))
    result = run_cli("--source", str(clip), "--no-pace", "--face-backend", "mesh")
    assert result.returncode == 0, result.stderr
    assert re.search(r"vtuber: 40 frames .*skipped 20; source ended", result.stderr), result.stderr


def vmc_time_datagram(t: float) -> bytes:
    builder = OscMessageBuilder("/VMC/Ext/T")
    builder.add_arg(float(t))
    return builder.build().dgram


def test_listen_record_survives_sigterm(tmp_path: Path) -> None:
    port = free_udp_port()
    record = tmp_path / "vmc.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vtuber", "listen", "--port", str(port), "--record", str(record), "--quiet"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        assert "listening for VMC" in proc.stderr.readline()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for i in range(20):
                tx.sendto(vmc_time_datagram(i / 60), ("127.0.0.1", port))
                time.sleep(0.005)
        time.sleep(1.6)  # more than the record flush period (1 s)
        flushed = record.read_text(encoding="utf-8").splitlines()
        assert len(flushed) == 20  # on disk while still running: a SIGKILL now loses nothing
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert [r["address"] for r in lines] == ["/VMC/Ext/T"] * 20
    assert "20 datagrams, 20 messages" in err
