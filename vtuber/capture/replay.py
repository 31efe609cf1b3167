"""Replaying a recorded session: its frames' timing as a source and its landmarks as a tracker.

The engine runs unchanged: ``SessionSource`` yields placeholder frames (a 1x1 image) with the
recorded ``t`` and ``index`` (so pacing reproduces the original timing), and ``ReplayTracker``
answers each with the recorded ``Landmarks``; solvers and smoothing then run again on exactly
the recorded input, so a replay is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
import threading
from pathlib import Path

import numpy as np

from vtuber.errors import SourceError
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
        for landmarks, _rig in self._frames:
            return landmarks
        return None


_PLACEHOLDER = np.zeros((1, 1, 3), np.uint8)
_PLACEHOLDER.setflags(write=False)


class _SessionSource:
    live = False

    def __init__(self, replay: SessionReplay) -> None:
        self._replay = replay
        self.name = f"session {replay.path.name}"
        self.nominal_fps: float | None = float(replay.header.get("fps") or 0) or None

    def read(self) -> Frame | None:
        landmarks = self._replay._next()
        if landmarks is None:
            return None
        with self._replay._lock:
            self._replay._pending[landmarks.index] = landmarks
        return Frame(image=_PLACEHOLDER, t=landmarks.t, index=landmarks.index)

    def close(self) -> None:
        self._replay._pending.clear()


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
