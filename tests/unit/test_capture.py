"""Recorded sources and the newest-frame-wins capture thread (no camera needed)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from vtuber.capture.latest import LatestFrameGrabber
from vtuber.capture.open import open_source
from vtuber.capture.video import ImageFolderSource, VideoFileSource
from vtuber.config import SourceConfig
from vtuber.errors import SourceError
from vtuber.records import Frame


def write_video(path: Path, frames: int = 12, fps: float = 20.0, size: tuple[int, int] = (64, 48)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(frames):
        img = np.full((size[1], size[0], 3), i * 20 % 255, np.uint8)
        writer.write(img)
    writer.release()
    return path


def test_video_file_frames_carry_stream_time(tmp_path: Path) -> None:
    src = VideoFileSource(write_video(tmp_path / "a.avi"))
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    assert len(frames) == 12
    assert src.nominal_fps == pytest.approx(20.0)
    ts = [f.t for f in frames]
    assert ts[0] == pytest.approx(0.0)
    assert np.allclose(np.diff(ts), 0.05, atol=1e-3)
    assert [f.index for f in frames] == list(range(12))
    assert frames[0].image.shape == (48, 64, 3)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="video file not found"):
        VideoFileSource(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match="junk.mp4"):
        src = VideoFileSource(junk)
        src.read()


def test_truncated_video_yields_what_decodes(tmp_path: Path) -> None:
    full = write_video(tmp_path / "full.avi", frames=30)
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 2 // 3])
    src = VideoFileSource(cut)
    n = 0
    while src.read() is not None:
        n += 1
    assert 5 <= n < 30


def test_image_folder(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((10, 10, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "999.png").write_bytes(b"broken")
    src = ImageFolderSource(tmp_path, fps=10)
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    assert [f.t for f in frames] == pytest.approx([0.0, 0.1, 0.2])
    assert src.skipped_frames == 1


def test_open_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="source not found"):
        open_source(SourceConfig(spec=str(tmp_path / "missing.mp4")))
    with pytest.raises(SourceError, match="bad webcam spec"):
        open_source(SourceConfig(spec="webcam:x"))
    with pytest.raises(SourceError, match="cannot open camera"):
        open_source(SourceConfig(spec="/dev/video99"))
    with pytest.raises(SourceError, match="no images"):
        open_source(SourceConfig(spec=str(tmp_path)))


class FastSource:
    """A live source producing frames faster than the consumer reads them."""

    name = "fast"
    nominal_fps = 1000.0
    live = True

    def __init__(self, total: int) -> None:
        self.total = total
        self.index = 0
        self.image = np.zeros((4, 4, 3), np.uint8)

    def read(self) -> Frame | None:
        if self.index >= self.total:
            return None
        time.sleep(0.001)
        f = Frame(self.image, time.monotonic(), self.index)
        self.index += 1
        return f

    def close(self) -> None:
        pass


def test_grabber_keeps_only_the_newest_frame() -> None:
    grabber = LatestFrameGrabber(FastSource(300)).start()
    taken = []
    while (g := grabber.get(timeout_s=1.0)) is not None:
        taken.append(g.frame.index)
        time.sleep(0.01)  # a consumer ten times slower than the source
    grabber.stop()
    assert taken == sorted(taken)
    assert len(taken) < 100  # frames were dropped, not queued
    assert grabber.dropped > 150
    assert taken[-1] == 299  # the newest frame is never lost


class FlakySource:
    """A camera that disappears after a few frames and comes back after two reopen attempts."""

    name = "flaky"
    nominal_fps = 100.0
    live = True

    def __init__(self) -> None:
        self.index = 0
        self.unplugged = False
        self.opens = 0
        self.lock = threading.Lock()

    def open(self) -> None:
        self.opens += 1
        if self.opens < 2:
            raise SourceError("camera 'flaky' is busy")
        self.unplugged = False

    def read(self) -> Frame | None:
        if self.index == 5 and not self.unplugged and self.opens == 0:
            self.unplugged = True
        if self.unplugged:
            raise SourceError("camera 'flaky' stopped delivering frames")
        if self.index >= 10:
            return None
        f = Frame(np.zeros((2, 2, 3), np.uint8), time.monotonic(), self.index)
        self.index += 1
        time.sleep(0.005)
        return f

    def close(self) -> None:
        pass


def test_grabber_retries_a_lost_camera_and_resumes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vtuber.capture.latest.RETRY_DELAYS_S", (0.01, 0.02))
    source = FlakySource()
    grabber = LatestFrameGrabber(source).start()
    seen = set()
    states = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        states.add(grabber.state)
        g = grabber.get(timeout_s=0.05)
        if g is not None:
            seen.add(g.frame.index)
        if grabber.finished:
            break
    grabber.stop()
    assert source.opens == 2
    assert grabber.state == "ended"
    assert 9 in seen  # frames after the outage arrived


def test_prefetch_reader_keeps_every_frame_in_order(tmp_path: Path) -> None:
    from vtuber.capture.latest import PrefetchReader

    reader = PrefetchReader(VideoFileSource(write_video(tmp_path / "p.avi", frames=30))).start()
    indices = []
    while (g := reader.get()) is not None:
        indices.append(g.frame.index)
        time.sleep(0.002)  # a consumer slower than decoding: nothing may be dropped
    reader.stop()
    assert indices == list(range(30))
