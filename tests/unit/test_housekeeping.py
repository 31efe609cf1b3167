"""FrameGc: garbage collection moved to the end of a frame, then handed back to CPython."""

from __future__ import annotations

import gc

from vtuber.housekeeping import FrameGc


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_start_takes_over_and_stop_gives_back() -> None:
    assert gc.isenabled()
    policy = FrameGc()
    policy.start()
    try:
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0  # start-up objects are out of every collection
    finally:
        policy.stop()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_cycles_are_collected_at_the_frame_end_not_while_it_runs() -> None:
    policy = FrameGc()
    policy.start()
    try:
        threshold = gc.get_threshold()[0]
        alive = []
        for _ in range(threshold * 3):  # far past the young generation's threshold
            alive.append(_Cycle())
        alive.clear()  # now garbage, but only a collection can free the cycles
        assert gc.get_count()[0] > threshold  # nothing ran meanwhile: automatic collection is off
        before = sum(isinstance(o, _Cycle) for o in gc.get_objects())
        assert before >= threshold * 3
        generation = policy.after_frame()
        assert generation >= 0
        assert sum(isinstance(o, _Cycle) for o in gc.get_objects()) == 0
        assert policy.after_frame() == -1  # nothing due right after a collection
    finally:
        policy.stop()


def test_stop_keeps_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        policy = FrameGc()
        policy.start()
        policy.stop()
        assert not gc.isenabled()
    finally:
        gc.enable()
