"""Garbage collection at frame boundaries, off the capture-to-send path.

CPython's cyclic collector runs whenever enough container objects have been allocated: in the
engine that is several times a second, inside whichever stage happens to allocate the object
that crosses the threshold, adding tens of microseconds (young generation) to milliseconds
(older ones) to a frame's solve or send. ``FrameGc`` runs the same collections at the end of a
frame instead, after its pose has been sent: the automatic collector is disabled for the run,
the objects that exist at start-up (modules, models, caches) are frozen out of every
collection (``gc.freeze``), and after each frame the generations that CPython's own thresholds
say are due are collected. Reference counting still frees everything acyclic at once; only
cycles wait for the frame's end. The engine reports the time spent as its ``housekeeping``
stage.
"""

from __future__ import annotations

import gc


class FrameGc:
    """Collector policy for one engine run: ``start()``, ``after_frame()`` per frame, ``stop()``.

    Thresholds are CPython's own (``gc.get_threshold()`` at start: 700 allocations for the
    young generation, then every 10th collection one generation up), so as much is collected as
    without it, only at a different moment.
    """

    def __init__(self) -> None:
        self._was_enabled = False
        self._thresholds = (0, 0, 0)
        self._active = False

    def start(self) -> None:
        """Collect once, freeze what exists, and take over from the automatic collector."""
        if self._active:
            return
        self._was_enabled = gc.isenabled()
        self._thresholds = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.disable()
        self._active = True

    def after_frame(self) -> int:
        """Run the collections that are due (oldest due generation, as CPython picks it);
        returns the generation collected, -1 for none."""
        if not self._active:
            return -1
        t0, t1, t2 = self._thresholds
        count0, count1, count2 = gc.get_count()
        if t0 <= 0 or count0 <= t0:
            return -1
        # the oldest generation over its threshold, as CPython's collect_generations picks it
        # (a generation's count is the number of collections of the one below since its own)
        generation = 2 if count2 > t2 else (1 if count1 > t1 else 0)
        gc.collect(generation)
        return generation

    def stop(self) -> None:
        """Give collection back to CPython as it was before ``start``."""
        if not self._active:
            return
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()
        self._active = False
