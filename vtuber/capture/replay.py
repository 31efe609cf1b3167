"""Replaying a recorded session: its frames' timing as a source and its landmarks as a tracker.

The engine runs unchanged: ``SessionSource`` yields placeholder frames (a 1x1 image) with the
recorded ``t`` and ``index`` (so pacing reproduces the original timing), and ``ReplayTracker``
answers each with the recorded ``Landmarks``; solvers and smoothing then run again on exactly
the recorded input, so a replay is deterministic.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vtuber.errors import RecordingError, SourceError
from vtuber.records import Frame, Landmarks


class SessionReplay:
    """A recorded session file, opened once and consumed in order.

    Attributes:
        source: a ``FrameSource`` yielding the recorded timing.
        tracker: a ``Tracker`` returning the recorded landmarks of each frame.
    """

    def __init__(self, path: str | Path) -> None:
        from vtuber.record.session import read_session

        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"session file not found: {self.path}")
        try:
            self.header, frames = read_session(self.path)
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot read session {self.path}: {exc}") from exc
        self._frames: Iterator[tuple[Landmarks, object]] = iter(frames)
        self._pending: dict[int, Landmarks] = {}
        self._lock = threading.Lock()  # the capture thread adds, the engine thread takes
        self.source = _SessionSource(self)
        self.tracker = _ReplayTracker(self)

    def _next(self) -> Landmarks | None:
        """The next recorded frame's landmarks, None at the end; ``SourceError`` (one line
        naming the file and line) when the session is damaged or cannot be read."""
        try:
            for landmarks, _rig in self._frames:
                return landmarks
        except RecordingError as exc:
            raise SourceError(f"cannot replay {exc}") from None
        except OSError as exc:
            raise SourceError(f"cannot read session {self.path}: {exc}") from None
        return None


_PLACEHOLDER = np.zeros((1, 1, 3), np.uint8)
_PLACEHOLDER.setflags(write=False)


class _SessionSource:
    live = False

    def __init__(self, replay: SessionReplay) -> None:
        self._replay = replay
        self.name = f"session {replay.path.name}"
        self.nominal_fps: float | None = session_fps(replay.header)

    def read(self) -> Frame | None:
        landmarks = self._replay._next()
        if landmarks is None:
            return None
        with self._replay._lock:
            self._replay._pending[landmarks.index] = landmarks
        return Frame(image=_PLACEHOLDER, t=landmarks.t, index=landmarks.index)

    def close(self) -> None:
        self._replay._pending.clear()


def session_fps(header: Mapping[str, Any]) -> float | None:
    """A session header's frame rate in frames per second, or None when missing or not a
    finite positive number (a recorder then uses its default rate)."""
    try:
        fps = float(header.get("fps"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return fps if math.isfinite(fps) and fps > 0 else None


class _ReplayTracker:
    name = "session replay"

    def __init__(self, replay: SessionReplay) -> None:
        self._replay = replay

    def track(self, frame: Frame) -> Landmarks:
        with self._replay._lock:
            pending = self._replay._pending
            landmarks = pending.pop(frame.index)
            for stale in [i for i in pending if i < frame.index]:  # frames the pacer dropped
                del pending[stale]
        return landmarks

    def close(self) -> None:
        pass
