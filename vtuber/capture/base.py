"""The frame source contract every capture back end follows.

A source yields ``Frame`` records in order. ``t`` is stream time in seconds for recorded sources
(file, folder, demo: the engine paces them against the wall clock unless told not to) and
``time.monotonic()`` at capture for live ones (webcam: never paced, newest frame wins).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from vtuber.records import Frame


@runtime_checkable
class FrameSource(Protocol):
    """A source of frames.

    Attributes:
        name: a short human-readable description for logs (``"video d10.mp4"``).
        nominal_fps: the source's own frame rate, or None when unknown.
        live: True when frames arrive on their own clock (a camera): the engine must keep only
            the newest frame. False for recorded sources, which are paced by their ``t``.
    """

    name: str
    nominal_fps: float | None
    live: bool

    def read(self) -> Frame | None:
        """The next frame, or None at the end of the stream. Raises ``SourceError`` when the
        source cannot deliver (for a live source: after its own retries)."""
        ...

    def close(self) -> None:
        """Release the device or file. Safe to call twice."""
        ...
