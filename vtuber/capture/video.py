"""Video files and image folders as frame sources (recorded: the engine paces them by ``t``)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from vtuber.errors import SourceError
from vtuber.records import Frame

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
DEFAULT_FOLDER_FPS = 30.0  # an image folder has no clock; 30 fps is the common webcam rate
MAX_CONSECUTIVE_BAD_FRAMES = 30  # about a second of undecodable frames ends a video as corrupt


class VideoFileSource:
    """Frames of a video file; ``t`` is the container position in seconds.

    Corrupt frames that the decoder skips are counted in ``skipped_frames``; a file that cannot
    be opened or yields no frame at all raises ``SourceError`` naming the file.
    """

    live = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path} (check the path given to --source)")
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise SourceError(
                f"cannot open video {self.path}: not a video OpenCV can decode (try re-encoding it to H.264 MP4)"
            )
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.nominal_fps: float | None = fps if 1.0 <= fps <= 1000.0 else None
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.name = f"video {self.path.name}"
        self.skipped_frames = 0
        self._index = 0
        self._last_t = -1.0

    def read(self) -> Frame | None:
        bad = 0
        while True:
            ok = self._capture.grab()
            if not ok:
                if self._index == 0 and bad == 0:
                    raise SourceError(f"video {self.path} has no decodable frames (file truncated or corrupt?)")
                return None
            ok, bgr = self._capture.retrieve()
            if ok and bgr is not None and bgr.size:
                break
            bad += 1
            self.skipped_frames += 1
            if bad >= MAX_CONSECUTIVE_BAD_FRAMES:
                logger.warning("video %s: %d undecodable frames in a row, stopping", self.path, bad)
                return None
        t = self._timestamp()
        self._last_t = t
        frame = Frame(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t=t, index=self._index)
        self._index += 1
        return frame

    def _timestamp(self) -> float:
        """Stream time of the frame just decoded: the container's timestamp when it is sane,
        else the index over the nominal rate; always strictly increasing (variable-rate
        files with non-monotonic timestamps exist, e.g. ../shared/media/pyfeat/face_noface.mov)."""
        pos_ms = float(self._capture.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        fps = self.nominal_fps or DEFAULT_FOLDER_FPS
        t = pos_ms / 1000.0 if pos_ms > 0.0 or self._index == 0 else self._index / fps
        if t <= self._last_t:
            t = self._last_t + 1.0 / fps
        return t

    def close(self) -> None:
        self._capture.release()


class ImageFolderSource:
    """The images of a folder in name order, at ``fps`` frames per second of stream time."""

    live = False

    def __init__(self, path: str | Path, fps: float = DEFAULT_FOLDER_FPS) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise SourceError(f"image folder not found: {self.path}")
        self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceError(
                f"no images in {self.path} (expected {', '.join(sorted(IMAGE_SUFFIXES))} files)"
            )
        self.nominal_fps: float | None = fps
        self.name = f"folder {self.path.name} ({len(self._files)} images)"
        self.skipped_frames = 0
        self._index = 0
        self._position = 0

    def read(self) -> Frame | None:
        while self._position < len(self._files):
            file = self._files[self._position]
            self._position += 1
            bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if bgr is None:
                logger.warning("skipping unreadable image %s", file)
                self.skipped_frames += 1
                continue
            frame = Frame(
                image=np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)),
                t=self._index / (self.nominal_fps or DEFAULT_FOLDER_FPS),
                index=self._index,
            )
            self._index += 1
            return frame
        return None

    def close(self) -> None:
        self._files = []
