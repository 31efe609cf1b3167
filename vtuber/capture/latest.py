"""A capture thread that keeps only the newest frame: frames are dropped, never queued.

Live sources (cameras) deliver on their own clock; recorded sources (files, folders, the demo)
are paced here against the wall clock by their stream time ``t`` so they behave like a camera.
Either way the engine asks for the newest frame when it is ready for one, so latency from
capture to send stays bounded by one frame interval plus the engine's own work.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from vtuber.capture.base import FrameSource
from vtuber.errors import SourceError
from vtuber.records import Frame

logger = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)  # backoff for a lost camera; then every 4 s until it returns


@dataclass(frozen=True, slots=True)
class GrabbedFrame:
    """A frame plus the monotonic time it became available to the engine (for latency)."""

    frame: Frame
    available_at: float


class LatestFrameGrabber:
    """Runs ``source.read()`` in a daemon thread and keeps the newest frame in one slot.

    Attributes:
        state: ``"starting"``, ``"running"``, ``"retrying"`` (a live source failed and is being
            reopened with backoff), ``"ended"`` (end of stream) or ``"failed"``.
        dropped: frames overwritten before the engine took them.
        error: the last ``SourceError`` message (or the unexpected exception that ended the
            thread), for the CLI.
    """

    def __init__(self, source: FrameSource, *, paced: bool = True) -> None:
        self.source = source
        self.paced = paced and not source.live
        self.state = "starting"
        self.dropped = 0
        self.error: str | None = None
        self._slot: GrabbedFrame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture:{source.name}", daemon=True)

    # Public API

    def start(self) -> LatestFrameGrabber:
        self._thread.start()
        return self

    def get(self, timeout_s: float = 1.0) -> GrabbedFrame | None:
        """The newest frame not yet taken; waits up to ``timeout_s``. None on timeout or end."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._slot is None:
                if self.state in ("ended", "failed"):
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            grabbed, self._slot = self._slot, None
            return grabbed

    @property
    def finished(self) -> bool:
        """True once the stream has ended (or failed) and the last frame was taken."""
        with self._cond:
            return self._slot is None and self.state in ("ended", "failed")

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self.source.close()

    # Private helpers

    def _run(self) -> None:
        """The thread: read and publish until the end, a stop or a failure. Any exception ends
        in the ``"failed"`` state (the engine sees it and stops) instead of killing the thread
        silently and leaving the engine waiting forever."""
        try:
            self._read_loop()
        except Exception as exc:  # a source bug must end the run, not hang it
            logger.exception("reading %s failed", self.source.name)
            self._finish("failed", f"reading {self.source.name} failed: {exc}")

    def _read_loop(self) -> None:
        start_wall: float | None = None
        first_t = 0.0
        attempt = 0  # reopen attempts since the live source last delivered a frame
        self.state = "running"
        while not self._stop.is_set():
            try:
                frame = self.source.read()
            except SourceError as exc:
                if not self.source.live:
                    self._finish("failed", str(exc))
                    return
                reopened = self._reopen(exc, attempt)
                if reopened is None:  # stopped while retrying
                    self._finish("failed", str(exc))
                    return
                attempt = reopened
                continue
            if attempt:
                # back only once a frame arrived: a camera that opens but never delivers keeps
                # its grown backoff instead of being reopened every RETRY_DELAYS_S[0] forever
                self.state = "running"
                self.error = None
                logger.info("%s is back after %d attempt(s)", self.source.name, attempt)
                attempt = 0
            if frame is None:
                self._finish("ended", None)
                return
            if self.paced:
                if start_wall is None:
                    start_wall, first_t = time.monotonic(), frame.t
                delay = start_wall + (frame.t - first_t) - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
            self._publish(frame)

    def _publish(self, frame: Frame) -> None:
        with self._cond:
            if self._slot is not None:
                self.dropped += 1
            self._slot = GrabbedFrame(frame, time.monotonic())
            self._cond.notify_all()

    def _finish(self, state: str, error: str | None) -> None:
        with self._cond:
            self.state = state
            self.error = error
            self._cond.notify_all()

    def _reopen(self, exc: SourceError, attempt: int) -> int | None:
        """Wait with backoff and reopen a lost live source until ``open()`` succeeds.

        ``attempt`` is the number of attempts already made since the source last delivered a
        frame, so a source that opens but then fails to read keeps growing its backoff. Returns
        the new attempt count (the caller declares the source back only after a frame was
        read), or None when stopped.
        """
        if self.state != "retrying":
            logger.warning("%s; retrying with backoff", exc)
        else:
            logger.debug("still failing after %d attempt(s): %s", attempt, exc)
        self.state = "retrying"
        self.error = str(exc)
        reopen = getattr(self.source, "open", None)
        while not self._stop.is_set():
            delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
            if self._stop.wait(delay):
                return None
            attempt += 1
            try:
                if reopen is not None:
                    reopen()
                return attempt
            except SourceError as again:
                self.error = str(again)
                logger.debug("reopen attempt %d failed: %s", attempt, again)
        return None


class PrefetchReader:
    """Reads a recorded source one or two frames ahead in a thread, for unpaced runs: decoding
    the next frame overlaps with tracking this one, and no frame is ever dropped."""

    DEPTH = 2  # frames decoded ahead: enough to hide decoding, too few to matter for memory

    def __init__(self, source: FrameSource) -> None:
        import queue

        self.source = source
        self.error: str | None = None
        self._queue: queue.Queue[GrabbedFrame | None] = queue.Queue(maxsize=self.DEPTH)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"prefetch:{source.name}", daemon=True)

    def start(self) -> PrefetchReader:
        self._thread.start()
        return self

    def get(self, timeout_s: float | None = None) -> GrabbedFrame | None:
        """The next frame in order; None at the end of the stream (or after a source error).
        With ``timeout_s``, raises ``TimeoutError`` when no frame came in that time (so a caller
        can check for a stop request while a slow source decodes)."""
        import queue

        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            raise TimeoutError from None

    def stop(self) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty; nothing to drain yet
                pass
            self._thread.join(timeout=0.05)
        self.source.close()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                self._put(None if frame is None else GrabbedFrame(frame, time.monotonic()))
                if frame is None:
                    return
        except SourceError as exc:
            self.error = str(exc)
            self._put(None)
        except Exception as exc:  # a decoder bug must end the run, not hang it
            logger.exception("reading %s failed", self.source.name)
            self.error = f"reading {self.source.name} failed: {exc}"
            self._put(None)

    def _put(self, item: GrabbedFrame | None) -> None:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
