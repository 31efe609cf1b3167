"""Webcams (a device index or path) as live frame sources.

``t`` is ``time.monotonic()`` taken right after the frame is grabbed. A camera that is unplugged
or busy raises ``SourceError`` from ``read`` after ``open_retries`` attempts; the latest-frame
thread (``vtuber.capture.latest``) owns the retry-with-backoff policy for live runs.
"""

from __future__ import annotations

import logging
import time

import cv2

from vtuber.errors import SourceError
from vtuber.records import Frame

logger = logging.getLogger(__name__)


class WebcamSource:
    """A camera opened with OpenCV.

    Args:
        device: an index (``0``) or a device path (``/dev/video2``).
        width, height, fps: requested capture format; the camera may choose another.
    """

    live = True

    def __init__(
        self, device: int | str, *, width: int | None = 640, height: int | None = 480, fps: float | None = 30.0
    ) -> None:
        self.device = device
        self.name = f"webcam {device}"
        self._request = (width, height, fps)
        self._capture: cv2.VideoCapture | None = None
        self._index = 0
        self.nominal_fps: float | None = fps
        self.open()

    def open(self) -> None:
        """(Re)open the device; raises SourceError when it is missing or busy."""
        self.close()
        capture = cv2.VideoCapture(self.device)
        if not capture.isOpened():
            capture.release()
            raise SourceError(
                f"cannot open camera {self.device!r}: no such device or it is busy "
                "(check the cable, close other apps using it, or pass --source webcam:N / a video file)"
            )
        width, height, fps = self._request
        if width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            capture.set(cv2.CAP_PROP_FPS, fps)
        reported = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.nominal_fps = reported if reported > 0 else fps
        self._capture = capture

    def read(self) -> Frame | None:
        if self._capture is None:
            self.open()
        assert self._capture is not None
        ok, bgr = self._capture.read()
        t = time.monotonic()
        if not ok or bgr is None:
            raise SourceError(f"camera {self.device!r} stopped delivering frames (unplugged or taken by another app?)")
        frame = Frame(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t=t, index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
