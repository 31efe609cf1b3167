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
MAX_CONSECUTIVE_BAD_FRAMES = 300  # ~10 s at 30 fps of undecodable frames in a row ends a video;
# generous because a failed grab at the end of a file costs microseconds


class VideoFileSource:
    """Frames of a video file; ``t`` is the container position in seconds.

    Corrupt frames that the decoder skips are counted in ``skipped_frames`` and reading goes on
    after them; a file that cannot be opened or yields no frame at all raises ``SourceError``
    naming the file from the constructor (the first frame is decoded there and kept for the
    first ``read``), before models or servers start.

    OpenCV's ``grab()`` returns False both at the end of the file and at a corrupt frame (and
    succeeds again after it), so a failed grab ends the stream only when the frames consumed
    (decoded + skipped + this run of failures) pass the container's frame count (when it is
    known), or after ``MAX_CONSECUTIVE_BAD_FRAMES`` failures in a row. Failures still
    pending at the end (a truncated tail) are not counted as skipped: they may not be frames.
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
        self._pending: Frame | None = self._decode_next()
        if self._pending is None:
            self._capture.release()
            raise SourceError(
                f"video {self.path} has no decodable frames (empty, truncated or corrupt): "
                "re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4) or pick another file"
            )

    def read(self) -> Frame | None:
        """The next decodable frame (the one decoded by the constructor first), None at the end."""
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        return self._decode_next()

    def _decode_next(self) -> Frame | None:
        """Grab and decode until a frame decodes; bad frames in between count as skipped."""
        bad = 0  # frames that failed to grab or decode since the last good one
        while True:
            if self._capture.grab():
                ok, bgr = self._capture.retrieve()
                if ok and bgr is not None and bgr.size:
                    break
            bad += 1
            if self._at_end(bad):
                self._log_short_end(bad)
                return None
        self.skipped_frames += bad
        if bad:
            logger.info("video %s: skipped %d undecodable frame(s) before frame %d", self.path, bad, self._index)
        t = self._timestamp()
        self._last_t = t
        frame = Frame(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t=t, index=self._index)
        self._index += 1
        return frame

    def _at_end(self, bad: int) -> bool:
        """Whether ``bad`` failures in a row mean the end of the file rather than corrupt frames."""
        if bad >= MAX_CONSECUTIVE_BAD_FRAMES:
            return True
        return self.frame_count > 0 and self._index + self.skipped_frames + bad > self.frame_count

    def _log_short_end(self, bad: int) -> None:
        """Warn when the file ended before the frame count its header lists (truncated tail)."""
        read = self._index + self.skipped_frames
        if self.frame_count > 0 and read < self.frame_count:
            logger.warning(
                "video %s ended after %d of the %d frames its header lists (truncated or corrupt tail?)",
                self.path, read, self.frame_count,
            )
        elif bad >= MAX_CONSECUTIVE_BAD_FRAMES and self._index:
            logger.warning("video %s: %d undecodable frames in a row, stopping", self.path, bad)

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
    """The images of a folder in name order, at ``fps`` frames per second of stream time.

    Unreadable images are skipped and counted in ``skipped_frames``. The constructor reads up to
    the first readable image (kept for the first ``read``) and raises ``SourceError`` naming the
    folder when none of them can be read, as ``VideoFileSource`` does for an undecodable video.
    """

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
        self._pending: Frame | None = self._read_next()
        if self._pending is None:
            raise SourceError(
                f"none of the {len(self._files)} images in {self.path} can be read (damaged or not really "
                "images): replace them or pick another folder"
            )

    def read(self) -> Frame | None:
        """The next readable image (the one read by the constructor first), None at the end."""
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        return self._read_next()

    def _read_next(self) -> Frame | None:
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
        self._pending = None
