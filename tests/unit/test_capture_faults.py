"""Faulty inputs: damaged videos and folders, a camera that opens but never delivers, malformed
config values and damaged or cut-short model files. Real files, real OpenCV, real sockets."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import MODELS, media_path
from vtuber.capture.latest import LatestFrameGrabber
from vtuber.capture.video import ImageFolderSource, VideoFileSource
from vtuber.capture.webcam import WebcamSource
from vtuber.config import build_config, load_config
from vtuber.errors import ConfigError, SourceError, TrackerError
from vtuber.track import models

FPS = 20.0  # frames per second of the synthetic clips
SIZE = (64, 48)  # width, height in pixels: small clips decode in milliseconds


def write_ramp_video(path: Path, frames: int = 60) -> Path:
    """An MJPG AVI whose frame i is a flat grey of level 4 * i (so a frame names itself)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for i in range(frames):
        writer.write(np.full((SIZE[1], SIZE[0], 3), 4 * i, np.uint8))
    writer.release()
    return path


def zero_jpeg_frames(src: Path, dst: Path, frames: range) -> Path:
    """A copy of an MJPG AVI with the JPEG data of ``frames`` zeroed (the AVI index intact)."""
    data = bytearray(src.read_bytes())
    starts = [m.start() for m in re.finditer(b"\xff\xd8\xff", data)]
    for k in frames:
        end = starts[k + 1] - 8  # the next chunk's 8-byte header ("00dc" + size) stays
        data[starts[k] : end] = bytes(end - starts[k])
    dst.write_bytes(bytes(data))
    return dst


def read_all(src: VideoFileSource | ImageFolderSource) -> list:
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    return frames


# Bug 1: a bad frame is not the end of the file


def test_corrupt_frames_in_the_middle_are_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    good = write_ramp_video(tmp_path / "good.avi")
    bad = zero_jpeg_frames(good, tmp_path / "bad.avi", range(20, 40))
    src = VideoFileSource(bad)
    frames = read_all(src)
    assert len(frames) == 40
    assert src.skipped_frames == 20
    levels = [round(float(f.image.mean()) / 4) for f in frames]
    assert levels == [*range(20), *range(40, 60)]  # the frames after the gap are the real ones
    assert [f.index for f in frames] == list(range(40))
    assert frames[20].t == pytest.approx(40 / FPS, abs=1e-3)  # stream time keeps the gap


@pytest.mark.media
def test_h264_clip_with_damaged_bytes_decodes_past_the_damage(tmp_path: Path) -> None:
    clip = media_path("liveportrait/d10.mp4")
    data = bytearray(clip.read_bytes())
    start = len(data) // 3  # inside the frame data, well past the header
    for k in range(start, start + 40000, 997):
        data[k : k + 200] = bytes(200)
    damaged = tmp_path / "d10_damaged.mp4"
    damaged.write_bytes(bytes(data))
    src = VideoFileSource(damaged)
    frames = read_all(src)
    assert len(frames) > 400  # the old reader stopped at the first bad frame (149)
    assert src.skipped_frames >= 1
    assert len(frames) + src.skipped_frames == src.frame_count
    ts = [f.t for f in frames]
    assert all(b > a for a, b in itertools.pairwise(ts))


# Bug 7: a video with no frame is an error from the constructor, and the first frame is kept


def test_video_without_frames_fails_when_opened(tmp_path: Path) -> None:
    empty = tmp_path / "empty clip.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE).release()
    assert empty.stat().st_size > 0  # a valid container with zero frames
    with pytest.raises(SourceError, match="empty clip.avi.*no decodable frames"):
        VideoFileSource(empty)
    src = VideoFileSource(write_ramp_video(tmp_path / "ok.avi", frames=5))
    frames = read_all(src)  # the frame decoded by the constructor comes first
    assert [f.index for f in frames] == list(range(5))
    assert [round(float(f.image.mean()) / 4) for f in frames] == list(range(5))


# Bug 8: a folder of unreadable images is an error


def test_folder_of_unreadable_images_fails_when_opened(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(b"junk!")
    with pytest.raises(SourceError, match=f"none of the 3 images in {re.escape(str(tmp_path))}"):
        ImageFolderSource(tmp_path)
    cv2.imwrite(str(tmp_path / "3.png"), np.full((8, 8, 3), 200, np.uint8))
    src = ImageFolderSource(tmp_path, fps=10)
    frames = read_all(src)
    assert [(f.index, f.t) for f in frames] == [(0, 0.0)]
    assert src.skipped_frames == 3


# Bug 2: a camera that opens but delivers nothing keeps its backoff


class CountingWebcam(WebcamSource):
    """The real webcam source; a zero-frame video file stands in for a device that opens and
    then never delivers a frame (cv2.VideoCapture takes either)."""

    def __init__(self, device: str) -> None:
        self.opens = 0
        super().__init__(device, width=None, height=None, fps=None)

    def open(self) -> None:
        self.opens += 1
        super().open()


def test_camera_that_opens_but_never_delivers_backs_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    delays = (0.02, 0.04, 0.08, 0.16)  # seconds; the real ladder scaled down 25x
    monkeypatch.setattr("vtuber.capture.latest.RETRY_DELAYS_S", delays)
    dead = tmp_path / "dead_camera.avi"
    cv2.VideoWriter(str(dead), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE).release()
    camera = CountingWebcam(str(dead))
    caplog.set_level(logging.INFO, logger="vtuber.capture.latest")
    grabber = LatestFrameGrabber(camera).start()
    assert grabber.get(timeout_s=0.8) is None
    state = grabber.state
    grabber.stop()
    # with the backoff kept: reopens at 0.02, 0.06, 0.14, 0.30, 0.46, 0.62, 0.78 s (+ the
    # first open); reset on every open, it would reopen every 0.02 s (about 40 times)
    assert camera.opens <= 10
    assert state == "retrying"
    assert not [r for r in caplog.records if "is back" in r.getMessage()]


# Bug 3: a section written as a plain value


def test_section_written_as_a_value_is_a_config_error_with_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('source = "webcam:0"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c.toml: \[source\] must be a table.*\[source\] line"):
        load_config(cfg, {"source": {"spec": "x.mp4"}})
    with pytest.raises(ConfigError, match=r"\[source\] must be a table"):
        load_config(cfg)
    with pytest.raises(ConfigError, match=r"\[run\] must be a table, got run = 5"):
        build_config({"run": 5}, {"run": {"max_frames": 3}})


# Bug 6: out-of-range numbers


@pytest.mark.parametrize(
    ("section", "key", "value", "toml"),
    [
        ("camera", "horizontal_fov_deg", math.nan, "nan"),
        ("camera", "horizontal_fov_deg", math.inf, "inf"),
        ("camera", "horizontal_fov_deg", 0.5, "0.5"),
        ("run", "max_frames", -5, "-5"),
        ("run", "duration_s", -5.0, "-5.0"),
        ("run", "duration_s", math.nan, "nan"),
    ],
)
def test_out_of_range_values_are_rejected(tmp_path: Path, section: str, key: str, value: float, toml: str) -> None:
    with pytest.raises(ConfigError, match=f"command line: \\[{section}\\] {key}"):
        build_config({}, {section: {key: value}}, origin="command line")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[{section}]\n{key} = {toml}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"c.toml: \\[{section}\\] {key}"):
        load_config(cfg)


def test_zero_limits_still_mean_no_limit() -> None:
    config = build_config({}, {"run": {"max_frames": 0, "duration_s": 0.0}, "camera": {"horizontal_fov_deg": 90.0}})
    assert config.run.max_frames == 0 and config.run.duration_s == 0.0


# Bug 5: damaged and cut-short model files


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Model lookup sees only the folders a test passes: no env folder, an empty cache."""
    monkeypatch.delenv("VTUBER_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return models.cache_dir()


def test_damaged_model_is_named_with_its_hash_size_and_url(tmp_path: Path, empty_cache: Path) -> None:
    real = MODELS / "face_landmarker.task"
    if not real.is_file():
        pytest.skip(f"{real} not present")
    mine = tmp_path / "models"
    mine.mkdir()
    (mine / "face_landmarker.task").write_bytes(real.read_bytes()[:100_000])  # a cut copy
    with pytest.raises(TrackerError) as caught:
        models.ensure_model("face_landmarker", mine, download=False)
    message = str(caught.value)
    assert "\n" not in message
    assert str(mine / "face_landmarker.task") in message
    assert "sha256 does not match" in message and "100000 bytes, expected 3758596" in message
    assert models.MODELS["face_landmarker"].url in message
    assert "not found" not in message


class OneShotHttp:
    """A real HTTP server on 127.0.0.1 that answers every request with fixed raw bytes and
    closes the connection (so a reply can be cut short on purpose)."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/face_landmarker.task"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def local_model_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bytes], OneShotHttp]]:
    """Point the face model's download URL at a local server with the given raw reply."""
    servers: list[OneShotHttp] = []

    def serve(reply: bytes) -> OneShotHttp:
        server = OneShotHttp(reply)
        servers.append(server)
        spec = dataclasses.replace(models.MODELS["face_landmarker"], url=server.url)
        monkeypatch.setitem(models.MODELS, "face_landmarker", spec)
        return server

    yield serve
    for server in servers:
        server.close()


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 3758596\r\n\r\n" + b"x" * 5000,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" + b"x" * 100,
    ],
    ids=["content-length", "chunked"],
)
def test_download_cut_short_is_one_line_and_leaves_no_file(
    empty_cache: Path, local_model_url: Callable[[bytes], OneShotHttp], reply: bytes
) -> None:
    server = local_model_url(reply)
    with pytest.raises(TrackerError) as caught:
        models.ensure_model("face_landmarker", None, download=True)
    message = str(caught.value)
    assert "\n" not in message and "cut short" in message and server.url in message
    assert not empty_cache.exists() or list(empty_cache.iterdir()) == []  # no temp file left


def test_download_of_the_real_bundle_is_verified_and_kept(
    empty_cache: Path, local_model_url: Callable[[bytes], OneShotHttp]
) -> None:
    real = MODELS / "face_landmarker.task"
    if not real.is_file():
        pytest.skip(f"{real} not present")
    body = real.read_bytes()
    local_model_url(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    path = models.ensure_model("face_landmarker", None, download=True)
    assert path == empty_cache / "face_landmarker.task"
    assert [p.name for p in empty_cache.iterdir()] == ["face_landmarker.task"]
    assert models.sha256_of(path) == models.MODELS["face_landmarker"].sha256
