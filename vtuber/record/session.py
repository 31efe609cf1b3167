"""Session recording: every frame's landmarks, rig and timestamps as JSON Lines, crash-safe.

File format (UTF-8, one JSON object per line, ``\\n``-terminated; see docs/bvh.md):

* Line 1, the header::

    {"format": "vtuber-session", "version": 1, "source": "...", "fps": 30.0,
     "image_size": [640, 480], "created_unix": 1712345678.9, ...any extra keys}

* Then one line per frame::

    {"i": 12, "t": 0.4, "wall": 1712345679.3,
     "lm": {"t": 0.4, "index": 12, "size": [640, 480],
            "face": {"points": B64, "presence": 1.0, "blendshapes": {...},
                     "head_points": B64 (hybrid back end only)} | null,
            "pose": {"points": B64, "world": B64, "visibility": B64} | null,
            "left_hand": {"points": B64, "world": B64 | null, "score": 0.9} | null,
            "right_hand": ... },
     "rig": {"t": 0.4, "index": 12,
             "head": {"rotation": [x, y, z, w], "position": [x, y, z], "error_px": 0.8} | null,
             "blendshapes": {...}, "bones": {"Head": [x, y, z, w], ...},
             "tracked": {...}, "held": [...]} | null,
     "timings": {...}}

  ``B64`` is the base64 of the array's little-endian float32 bytes, row-major: (N, 3) point
  arrays are read back with ``reshape(-1, 3)``, ``visibility`` as (N,). Float32 landmarks are
  what the tracker produced, so replay feeds the solvers bit-identical input; rig values are
  JSON floats (shortest repr, exact float64 round trip). ``t`` is the capture time
  (``Landmarks.t``), ``wall`` the Unix time of writing, ``timings`` optional per-stage times.

Each line is written with one ``write`` and flushed to the OS at once (a killed process loses no
finished frame); the file is fsynced at least every ``sync_interval_s`` (an OS crash loses at
most about a second). A reader ignores a cut last line; ``vtuber.record.repair.repair_session``
removes it.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber.record import RecordingError
from vtuber.record.durable import fsync_dir, open_for_writing
from vtuber.records import (
    FaceLandmarks,
    HandLandmarks,
    HeadPose,
    Landmarks,
    PoseLandmarks,
    Rig,
    frozen_mapping,
)

FORMAT = "vtuber-session"
VERSION = 1
_REQUIRED = ("source", "fps", "image_size")
HEADER_SLACK = 24
"""Spaces after a header whose ``image_size`` is ``[0, 0]`` (unknown when the file opens), so
the first frame's size can be written into it in place."""


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------


def encode_array(a: ArrayLike) -> str:
    """Base64 of little-endian float32 bytes."""
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def decode_array(s: str, columns: int | None = 3) -> NDArray[np.float32]:
    """Inverse of ``encode_array``: (N, columns) float32, or (N,) with ``columns=None``."""
    a = np.frombuffer(base64.b64decode(s), dtype="<f4").astype(np.float32)
    a = a.reshape(-1, columns) if columns else a
    a.setflags(write=False)
    return a


def _floats(d: Mapping[str, float]) -> dict[str, float]:
    return {str(k): float(v) for k, v in d.items()}


def _vec(v: ArrayLike) -> list[float]:
    return [float(x) for x in np.asarray(v, dtype=np.float64).ravel()]


def landmarks_to_json(lm: Landmarks) -> dict[str, Any]:
    out: dict[str, Any] = {
        "t": float(lm.t),
        "index": int(lm.index),
        "size": [int(lm.image_size[0]), int(lm.image_size[1])],
    }
    f = lm.face
    out["face"] = (
        None
        if f is None
        else {
            "points": encode_array(f.points),
            "presence": float(f.presence),
            "blendshapes": _floats(f.blendshapes),
            **({} if f.head_points is None else {"head_points": encode_array(f.head_points)}),
        }
    )
    p = lm.pose
    out["pose"] = (
        None
        if p is None
        else {
            "points": encode_array(p.points),
            "world": encode_array(p.world),
            "visibility": encode_array(p.visibility),
        }
    )
    for key in ("left_hand", "right_hand"):
        h: HandLandmarks | None = getattr(lm, key)
        out[key] = (
            None
            if h is None
            else {
                "side": h.side,
                "points": encode_array(h.points),
                "world": None if h.world is None else encode_array(h.world),
                "score": float(h.score),
            }
        )
    return out


def landmarks_from_json(d: Mapping[str, Any]) -> Landmarks:
    f = d.get("face")
    p = d.get("pose")

    def hand(key: str, side: str) -> HandLandmarks | None:
        h = d.get(key)
        if h is None:
            return None
        return HandLandmarks(
            side=h.get("side", side),
            points=decode_array(h["points"]),
            world=None if h.get("world") is None else decode_array(h["world"]),
            score=float(h.get("score", 1.0)),
        )

    return Landmarks(
        t=float(d["t"]),
        index=int(d["index"]),
        image_size=(int(d["size"][0]), int(d["size"][1])),
        face=None
        if f is None
        else FaceLandmarks(
            points=decode_array(f["points"]),
            presence=float(f.get("presence", 1.0)),
            blendshapes=frozen_mapping(f.get("blendshapes") or {}),
            head_points=None if f.get("head_points") is None else decode_array(f["head_points"]),
        ),
        pose=None
        if p is None
        else PoseLandmarks(
            points=decode_array(p["points"]),
            world=decode_array(p["world"]),
            visibility=decode_array(p["visibility"], None),
        ),
        left_hand=hand("left_hand", "left"),
        right_hand=hand("right_hand", "right"),
    )


def rig_to_json(rig: Rig) -> dict[str, Any]:
    head = rig.head
    return {
        "t": float(rig.t),
        "index": int(rig.index),
        "head": None
        if head is None
        else {
            "rotation": _vec(head.rotation),
            "position": _vec(head.position),
            "error_px": float(head.reprojection_error_px),
        },
        "blendshapes": _floats(rig.blendshapes),
        "bones": {str(k): _vec(q) for k, q in rig.bones.items()},
        "tracked": {str(k): bool(v) for k, v in rig.tracked.items()},
        "held": sorted(str(h) for h in rig.held),
    }


def _ro(v: list[float]) -> NDArray[np.float64]:
    a = np.array(v, dtype=np.float64)
    a.setflags(write=False)
    return a


def rig_from_json(d: Mapping[str, Any]) -> Rig:
    h = d.get("head")
    return Rig(
        t=float(d["t"]),
        index=int(d["index"]),
        head=None
        if h is None
        else HeadPose(
            rotation=_ro(h["rotation"]),
            position=_ro(h["position"]),
            reprojection_error_px=float(h.get("error_px", 0.0)),
        ),
        blendshapes=frozen_mapping(d.get("blendshapes") or {}),
        bones=MappingProxyType({k: _ro(v) for k, v in (d.get("bones") or {}).items()}),
        tracked=MappingProxyType({k: bool(v) for k, v in (d.get("tracked") or {}).items()}),
        held=frozenset(d.get("held") or ()),
    )


# ---------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------


class SessionWriter:
    """Append frames to a session file as they happen.

    Args:
        path: the file to create (overwritten).
        header: at least ``source`` (str), ``fps`` (the source's frame rate) and ``image_size``
            ((width, height) in pixels; ``(0, 0)`` when not known yet: the first frame's size
            is then written into the header in place); any other JSON-serialisable keys are
            kept. ``format``, ``version`` and ``created_unix`` are added.
        sync_interval_s: fsync at least this often while frames arrive.

    Raises:
        RecordingError: the file cannot be created (missing folder, no permission).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: Mapping[str, Any],
        *,
        sync_interval_s: float = 1.0,
    ) -> None:
        missing = [k for k in _REQUIRED if k not in header]
        if missing:
            raise ValueError(f"session header lacks {missing}")
        self.path = Path(path)
        self.sync_interval_s = float(sync_interval_s)
        self.header: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            **{k: v for k, v in header.items() if k not in ("format", "version")},
        }
        self.header["fps"] = float(self.header["fps"])
        self.header["image_size"] = [int(x) for x in self.header["image_size"]]
        self.header.setdefault("created_unix", time.time())
        self._frames = 0
        self._closed = False
        self._size_pending = self.header["image_size"] == [0, 0]
        self._header_len = 0  # bytes of the header line before its newline
        self._file: IO[bytes] = open_for_writing(self.path)
        self._write_header()
        self.sync()
        fsync_dir(self.path)

    @property
    def frames(self) -> int:
        return self._frames

    def _write_header(self) -> None:
        """The header line, with room to fill in ``image_size`` later when it is unknown."""
        data = json.dumps(self.header, separators=(",", ":")).encode("utf-8")
        data += b" " * (HEADER_SLACK if self._size_pending else 0)
        self._header_len = len(data)
        self._file.write(data + b"\n")
        self._file.flush()

    def _fill_image_size(self, size: tuple[int, int]) -> None:
        """Rewrite the header in place with the first frame's (width, height) in pixels."""
        self._size_pending = False
        header = {**self.header, "image_size": [int(size[0]), int(size[1])]}
        data = json.dumps(header, separators=(",", ":")).encode("utf-8")
        if len(data) > self._header_len:  # cannot happen with HEADER_SLACK; keep [0, 0]
            return
        self.header = header
        self._file.flush()
        os.pwrite(self._file.fileno(), data.ljust(self._header_len), 0)

    def _write_line(self, obj: Mapping[str, Any]) -> None:
        self._file.write((json.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8"))
        self._file.flush()

    def write(
        self,
        landmarks: Landmarks,
        rig: Rig | None = None,
        timings: Mapping[str, float] | None = None,
    ) -> None:
        """Append one frame (``landmarks.t`` and ``landmarks.index`` identify it)."""
        if self._closed:
            raise ValueError("write to a closed SessionWriter")
        if self._size_pending:
            self._fill_image_size(landmarks.image_size)
        line: dict[str, Any] = {
            "i": int(landmarks.index),
            "t": float(landmarks.t),
            "wall": time.time(),
            "lm": landmarks_to_json(landmarks),
            "rig": None if rig is None else rig_to_json(rig),
        }
        if timings:
            line["timings"] = _floats(timings)
        self._write_line(line)
        self._frames += 1
        if time.monotonic() - self._last_sync >= self.sync_interval_s:
            self.sync()

    def sync(self) -> None:
        """Flush and fsync now."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.sync()
        finally:
            self._closed = True
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------------------------


def _read_header(f: IO[bytes], path: Path) -> dict[str, Any]:
    first = f.readline()
    try:
        header = json.loads(first)
    except ValueError as e:
        raise RecordingError(f"{path}: the first line is not a session header ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(f"{path}: not a vtuber session file")
    if int(header.get("version", 0)) > VERSION:
        raise RecordingError(
            f"{path}: session version {header['version']} is newer than this reader ({VERSION}); upgrade vtuber"
        )
    return header


def iter_session_records(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The raw frame objects (dicts) after the header, tolerating a cut last line."""
    for _line, obj in _numbered_records(Path(path)):
        yield obj


def _damaged(p: Path, line: int) -> RecordingError:
    return RecordingError(
        f"{p}: line {line} is damaged (not a complete frame); only a cut last line can be "
        "dropped (vtuber repair), so re-record or delete the lines from there on"
    )


def _numbered_records(p: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based line number, frame object) after the header; a cut last line is skipped, any
    other unreadable line raises ``RecordingError`` naming it."""
    with open(p, "rb") as f:
        _read_header(f, p)
        n = 1
        pending: int | None = None
        for raw in f:
            n += 1
            if pending is not None:  # a bad line followed by more data: real damage
                raise _damaged(p, pending)
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                pending = n
                continue
            if not isinstance(obj, dict):
                raise _damaged(p, n)
            yield n, obj


def read_session(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], Iterator[tuple[Landmarks, Rig | None]]]:
    """(header, iterator of (Landmarks, Rig or None)) of a session file. The header is read now;
    frames lazily. A cut last line (a crash mid-write) is skipped; any other damaged line raises
    ``RecordingError`` naming the file and the line number when the iterator reaches it."""
    p = Path(path)
    with open(p, "rb") as f:
        header = _read_header(f, p)

    def frames() -> Iterator[tuple[Landmarks, Rig | None]]:
        for n, obj in _numbered_records(p):
            try:
                rig = obj.get("rig")
                frame = landmarks_from_json(obj["lm"]), None if rig is None else rig_from_json(rig)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                raise _damaged(p, n) from None
            yield frame

    return header, frames()


def session_frames(path: str | os.PathLike[str]) -> Iterator[tuple[float, Landmarks, Rig | None]]:
    """(capture t, Landmarks, Rig or None) per recorded frame, in recording order: what a replay
    source re-sends at the original timing (frame k at ``start + t_k - t_0``)."""
    _, frames = read_session(path)
    for lm, rig in frames:
        yield lm.t, lm, rig
