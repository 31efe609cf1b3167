"""Per-frame stage timings and the rolling statistics the terminal view and ``bench`` show.

Durations are measured by the engine with ``time.perf_counter()`` around each stage and stored
in fixed-size ring buffers (no growth over a long session). Pure bookkeeping: no I/O here.

The work after tracking is also kept as the engine thread's CPU time (``time.thread_time()``):
its cost, where the wall-clock stages also hold the time other processes had the core (on a
2-core machine, the receivers and the WebSocket process).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STAGES = ("capture", "track", "solve", "smooth", "retarget", "send", "housekeeping")
"""``capture``: from the frame being available to the engine taking it (waiting in the slot);
``send``: encoding plus handing bytes to every sender; ``housekeeping``: garbage collection at
the frame's end, after its pose was sent (``vtuber.housekeeping``), not part of its latency."""

WINDOW = 600  # frames kept for percentiles: 20 s at 30 fps, 10 s at 60 fps


@dataclass(frozen=True, slots=True)
class StageStats:
    """Percentiles of one stage over the window, milliseconds."""

    p50_ms: float
    p95_ms: float
    p99_ms: float


class Telemetry:
    """Ring buffers of per-stage durations (seconds) and end-to-end latency."""

    def __init__(self, window: int = WINDOW) -> None:
        self._window = window
        self._stages = {name: np.zeros(window) for name in STAGES}
        self._latency = np.zeros(window)
        self._after_tracking_cpu = np.zeros(window)
        self._count = 0
        self.frames = 0
        self.faces = 0

    def record(
        self, durations_s: dict[str, float], latency_s: float, face: bool, after_tracking_cpu_s: float = 0.0
    ) -> None:
        """One frame's stage durations, its capture-to-send latency and the engine thread's CPU
        time from the end of tracking to the end of sending (seconds)."""
        slot = self._count % self._window
        for name, buffer in self._stages.items():
            buffer[slot] = durations_s.get(name, 0.0)
        self._latency[slot] = latency_s
        self._after_tracking_cpu[slot] = after_tracking_cpu_s
        self._count += 1
        self.frames += 1
        self.faces += int(face)

    def _valid(self, buffer: np.ndarray) -> np.ndarray:
        return buffer[: min(self._count, self._window)]

    def stage_durations_ms(self, name: str) -> np.ndarray:
        """One stage's durations in milliseconds, oldest first, for the frames still in the
        window (a copy: frame-by-frame analysis, e.g. ``bench/slow_frames.py``)."""
        buffer = self._stages[name]
        if self._count <= self._window:
            return buffer[: self._count] * 1000.0
        start = self._count % self._window
        return np.concatenate((buffer[start:], buffer[:start])) * 1000.0

    def stage(self, name: str) -> StageStats:
        return _percentiles(self._valid(self._stages[name]))

    def latency(self) -> StageStats:
        return _percentiles(self._valid(self._latency))

    def after_tracking_cpu(self) -> StageStats:
        """The engine thread's CPU time for solve + smooth + retarget + send per frame."""
        return _percentiles(self._valid(self._after_tracking_cpu))

    def after_tracking(self) -> StageStats:
        """Solve + smooth + retarget + send per frame."""
        return _percentiles(sum(self._valid(self._stages[s]) for s in ("solve", "smooth", "retarget", "send")))


def _percentiles(data_s: np.ndarray) -> StageStats:
    """p50 / p95 / p99 in milliseconds of durations in seconds (zeros when there are none)."""
    if not len(data_s):
        return StageStats(0.0, 0.0, 0.0)
    p50, p95, p99 = np.percentile(data_s * 1000.0, [50, 95, 99])
    return StageStats(float(p50), float(p95), float(p99))
