"""A BVH file written as frames arrive, which a crash cannot ruin.

* The header is written, flushed and fsynced when the file opens, with a fixed-width
  ``Frames:`` field (``FRAMES_WIDTH`` digits, padded with trailing spaces).
* Every motion line is written with one ``write`` and flushed to the OS at once, so killing the
  process (SIGKILL included) loses no finished frame; at most once per ``sync_interval_s`` the
  ``Frames:`` field is rewritten in place to the count so far and the file is fsynced, so an OS
  crash or power loss loses at most the last second.
* ``close()`` writes the final count: the file is valid without repair. After a kill the count
  may lag the lines and the last line may be cut: ``vtuber.record.repair.repair_bvh`` fixes both.

Frames are placed on a constant-rate timeline when ``write`` gets capture times ``t``: a frame
lands on slot ``round((t - t0) * fps)``; skipped slots (dropped frames) are filled by slerp /
lerp between their neighbours and a second frame for a slot already written is dropped, so the
``Frame Time`` stays exact. Without ``t`` every call is the next frame.

An optional sidecar CSV holds the blendshapes (``vtuber.encode.bvh.blendshape_csv_*``) with the
same frame numbering: one row per motion line, always. With ``blendshape_names`` the header is
written when the file opens (a zero-frame or crashed recording is still a valid CSV); without
them the columns are the first frame *with* blendshapes, and the frames before it get rows of
zeros once that frame arrives (or at ``close()``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber import geometry
from vtuber.encode import bvh
from vtuber.errors import RecordingError
from vtuber.record.durable import fsync_dir, open_for_writing
from vtuber.records import Rig
from vtuber.retarget import skeleton

FRAMES_WIDTH = 10
"""Digits reserved for the frame count: up to 9,999,999,999 frames."""

MAX_GAP_S = 5.0
"""A jump in ``t`` longer than this is not filled (a paused source); the timeline restarts."""

logger = logging.getLogger(__name__)


def rig_blendshape_names() -> tuple[str, ...]:
    """Every blendshape the rig solvers output (the 52 ARKit names and the 5 vowels), sorted:
    the CSV columns of a recording, known before its first frame."""
    from vtuber.solve.arkit import ARKIT_52
    from vtuber.solve.vowels import VOWELS

    return tuple(sorted({*ARKIT_52, *VOWELS}))


class BvhFileWriter:
    """Stream a BVH (and optionally a blendshape CSV) to disk.

    Args:
        path: the ``.bvh`` to create (overwritten).
        fps: the source's real frame rate; ``Frame Time`` is ``1 / fps``.
        bones, offsets, rotation_order: passed to ``vtuber.encode.bvh.bvh_layout``; or give
            ``layout`` directly.
        blendshape_csv: path of the sidecar CSV, or None for none.
        blendshape_names: the CSV's columns, written when the file opens (default: ``sorted``
            names of the first frame that has blendshapes; e.g. ``rig_blendshape_names()``).
        rest: rotations (internal frame, relative to the T-pose) for the bones a frame does not
            carry, e.g. ``vtuber.solve.body.relaxed_rest()`` so that arms not tracked yet (or
            never, in face mode) hang down as on the live avatar; default the T-pose (identity).
        sync_interval_s: fsync (and update ``Frames:``) at least this often while frames arrive.

    Raises:
        RecordingError: a file cannot be created (missing folder, no permission).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        *,
        bones: Iterable[str] | None = None,
        offsets: Mapping[str, ArrayLike] | None = None,
        rotation_order: str = bvh.DEFAULT_ROTATION_ORDER,
        layout: bvh.BvhLayout | None = None,
        blendshape_csv: str | os.PathLike[str] | None = None,
        blendshape_names: Sequence[str] | None = None,
        sync_interval_s: float = 1.0,
        rest: Mapping[str, ArrayLike] | None = None,
    ) -> None:
        self.path = Path(path)
        self.rest: dict[str, ArrayLike] = dict(rest or {})
        self.fps = float(fps)
        self.frame_time = bvh.frame_time_from_fps(fps)
        self.layout = layout or bvh.bvh_layout(bones, offsets, rotation_order=rotation_order)
        self.sync_interval_s = float(sync_interval_s)
        self._frames = 0
        self._closed = False
        self._prev_values: NDArray[np.float64] | None = None
        # last written frame, for gap filling: (slot, rotations, root, blendshapes)
        self._last: (
            tuple[int, Mapping[str, ArrayLike], NDArray[np.float64], Mapping[str, float]] | None
        ) = None
        self._t0: float | None = None

        header = bvh.bvh_header(
            self.layout, frame_time=self.frame_time, frames=0, frames_width=FRAMES_WIDTH
        )
        data = header.encode("ascii")
        self._frames_offset = data.index(b"\n" + bvh.FRAMES_PREFIX.encode("ascii")) + 1
        self._csv: IO[bytes] | None = None
        self._csv_path = Path(blendshape_csv) if blendshape_csv is not None else None
        self._csv_names: tuple[str, ...] | None = None
        self._csv_warned = False
        self._file: IO[bytes] = open_for_writing(self.path)
        self._file.write(data)
        if self._csv_path is not None:
            try:
                self._csv = open_for_writing(self._csv_path)
            except RecordingError:
                self._file.close()
                raise
            if blendshape_names is not None:
                self._start_csv(tuple(blendshape_names))
        self.sync()
        fsync_dir(self.path)
        if self._csv_path is not None:
            fsync_dir(self._csv_path)

    # -----------------------------------------------------------------------------------------

    @property
    def frames(self) -> int:
        """Motion lines written so far."""
        return self._frames

    @property
    def closed(self) -> bool:
        return self._closed

    def write(
        self,
        rotations: Mapping[str, ArrayLike],
        root_position_m: ArrayLike | None = None,
        *,
        t: float | None = None,
        blendshapes: Mapping[str, float] | None = None,
    ) -> int:
        """Append one source frame; returns how many motion lines it produced (0 when it fell on
        a slot already written, more than 1 when it filled a gap).

        Args:
            rotations: bone -> local rotation (x, y, z, w) relative to the T-pose, internal frame.
            root_position_m: Hips position in metres, internal frame (default: rest hip height).
            t: capture time in seconds, for constant-rate resampling (None: next slot).
            blendshapes: weights for the sidecar CSV.
        """
        if self._closed:
            raise ValueError("write to a closed BvhFileWriter")
        if self.rest:
            rotations = {**self.rest, **rotations}
        root = np.asarray(
            skeleton.REST_OFFSETS[bvh.ROOT] if root_position_m is None else root_position_m,
            dtype=np.float64,
        ).reshape(3)
        shapes = dict(blendshapes or {})
        if t is None:
            slot = 0 if self._last is None else self._last[0] + 1
        else:
            if self._t0 is None or (
                self._last is not None and abs(t - self._t0 - self._last[0] / self.fps) > MAX_GAP_S
            ):
                # first frame, or a pause/clock jump: continue the timeline at the next slot
                next_slot = 0 if self._last is None else self._last[0] + 1
                self._t0 = float(t) - next_slot / self.fps
            slot = round((float(t) - self._t0) * self.fps)
        if self._last is not None and slot <= self._last[0]:
            return 0
        written = 0
        if self._last is not None and slot > self._last[0] + 1:
            s0, r0, p0, b0 = self._last
            for s in range(s0 + 1, slot):
                f = (s - s0) / (slot - s0)
                rot = _slerp_maps(r0, rotations, f)
                pos = (1.0 - f) * p0 + f * root
                bs = {
                    k: (1.0 - f) * float(b0.get(k, 0.0)) + f * float(shapes.get(k, 0.0))
                    for k in set(b0) | set(shapes)
                }
                self._emit(rot, pos, bs)
                written += 1
        self._emit(rotations, root, shapes)
        self._last = (slot, dict(rotations), root, shapes)
        written += 1
        self._maybe_sync()
        return written

    def write_rig(self, rig: Rig, root_position_m: ArrayLike | None = None) -> int:
        """``write(rig.bones, root_position_m, t=rig.t, blendshapes=rig.blendshapes)``."""
        return self.write(rig.bones, root_position_m, t=rig.t, blendshapes=rig.blendshapes)

    def _emit(
        self, rotations: Mapping[str, ArrayLike], root: ArrayLike, shapes: Mapping[str, float]
    ) -> None:
        values = bvh.bvh_motion_values(rotations, root, self.layout, self._prev_values)
        self._prev_values = values
        self._file.write(bvh.format_motion_values(values).encode("ascii"))
        self._file.flush()
        if self._csv is not None:
            self._write_csv_row(shapes)
        self._frames += 1

    def _write_csv_row(self, shapes: Mapping[str, float]) -> None:
        """The CSV row of motion line ``_frames``; while no columns are known (no names given,
        no blendshapes yet) it waits, and ``_start_csv`` writes it later as zeros."""
        assert self._csv is not None
        if self._csv_names is None:
            if not shapes:
                return
            self._start_csv(tuple(sorted(shapes)))
        names = self._csv_names
        assert names is not None
        if not self._csv_warned and not set(shapes) <= set(names):
            self._csv_warned = True
            extra = sorted(set(shapes) - set(names))
            logger.warning(
                "%s: blendshapes %s are not CSV columns; not recorded", self._csv_path, extra
            )
        row = bvh.blendshape_csv_row(self._frames, shapes, names, self.frame_time)
        self._csv.write(row.encode("utf-8"))
        self._csv.flush()

    def _start_csv(self, names: tuple[str, ...]) -> None:
        """Write the CSV header, then a row of zeros for each motion line already written (those
        that came before any blendshapes), so the CSV keeps one row per motion line."""
        assert self._csv is not None
        self._csv_names = names
        rows = [bvh.blendshape_csv_row(k, {}, names, self.frame_time) for k in range(self._frames)]
        self._csv.write((bvh.blendshape_csv_header(names) + "".join(rows)).encode("utf-8"))
        self._csv.flush()

    def _maybe_sync(self) -> None:
        if time.monotonic() - self._last_sync >= self.sync_interval_s:
            self.sync()

    def sync(self) -> None:
        """Flush, rewrite ``Frames:`` to the count so far, fsync. Safe to call any time (e.g. from
        a 1 Hz timer when frames stall)."""
        self._file.flush()
        line = bvh.bvh_frames_line(self._frames, FRAMES_WIDTH).encode("ascii")
        os.pwrite(self._file.fileno(), line, self._frames_offset)
        os.fsync(self._file.fileno())
        if self._csv is not None:
            self._csv.flush()
            os.fsync(self._csv.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        """Write the final frame count and close: the file is a valid BVH. Idempotent."""
        if self._closed:
            return
        try:
            if self._csv is not None and self._csv_names is None:
                self._start_csv(())  # no frame had blendshapes: frame and time columns only
            self.sync()
        finally:
            self._closed = True
            self._file.close()
            if self._csv is not None:
                self._csv.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _slerp_maps(
    a: Mapping[str, ArrayLike], b: Mapping[str, ArrayLike], f: float
) -> dict[str, NDArray[np.float64]]:
    out: dict[str, NDArray[np.float64]] = {}
    for k in set(a) | set(b):
        qa = a.get(k, geometry.IDENTITY)
        qb = b.get(k, geometry.IDENTITY)
        out[k] = geometry.slerp(qa, qb, f)
    return out


def write_bvh(
    path: str | os.PathLike[str],
    frames: Iterable[tuple[Mapping[str, ArrayLike], ArrayLike | None]],
    fps: float,
    **kwargs: object,
) -> int:
    """Write a whole clip: ``frames`` yields (rotations, root position in metres or None), one
    per frame at ``fps``. Returns the frame count. ``kwargs`` go to ``BvhFileWriter``."""
    with BvhFileWriter(path, fps, **kwargs) as w:  # type: ignore[arg-type]
        for rotations, root in frames:
            w.write(rotations, root)
        return w.frames
