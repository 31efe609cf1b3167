"""Make recordings cut short by a crash valid again (``vtuber repair``).

* ``repair_bvh``: keeps every complete motion line (newline-terminated, the number of values the
  hierarchy's CHANNELS declare, all numbers; a last line without its newline counts when it is
  whole and ``Frames:`` counts it), drops a partial last line and rewrites ``Frames:``.
* ``repair_csv``: drops a partial last row of a blendshape sidecar CSV.
* ``repair_session``: drops a partial last line of a session (JSON Lines).

All are idempotent and leave an intact file byte-for-byte unchanged. A damaged line that is not
the last one means the file was not cut by a crash: ``RecordingError``, nothing changed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vtuber.record import RecordingError

_FRAMES_RE = re.compile(rb"^([ \t]*Frames:[ \t]*)(\d*)([ \t]*)\r?$", re.IGNORECASE)


@dataclass(frozen=True)
class RepairReport:
    """What a repair did.

    Attributes:
        path: the file.
        frames: complete frames (BVH motion lines, CSV rows or session frames) now in the file.
        dropped_bytes: bytes of the partial last line removed (0 when there was none).
        frames_field_was: the ``Frames:`` count before (BVH only).
        changed: whether the file was modified.
    """

    path: Path
    frames: int
    dropped_bytes: int = 0
    frames_field_was: int | None = None
    changed: bool = False


def _split_complete(data: bytes, start: int) -> tuple[list[tuple[int, bytes]], int]:
    """Newline-terminated lines from ``start``: [(offset, line without newline)], and the offset
    just past the last newline."""
    lines = []
    pos = start
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        lines.append((pos, data[pos:nl]))
        pos = nl + 1
    return lines, pos


def _is_number(tok: bytes) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def repair_bvh(path: str | os.PathLike[str]) -> RepairReport:
    """Recount the complete motion lines of a BVH, drop a partial last line, rewrite ``Frames:``.

    The count is written in place when it fits the existing field (streaming files reserve
    10 digits), else the file is rewritten through a temporary file and an atomic rename.
    """
    p = Path(path)
    data = p.read_bytes()
    m = re.search(rb"^[ \t]*MOTION[ \t]*\r?$", data, re.MULTILINE)
    if not data.lstrip().upper().startswith(b"HIERARCHY") or m is None:
        raise RecordingError(
            f"{p}: not a BVH file or its header is incomplete (no HIERARCHY/MOTION)"
        )
    channels = sum(int(c) for c in re.findall(rb"CHANNELS[ \t]+(\d+)", data[: m.start()]))
    lines, end = _split_complete(data, m.end() + 1)
    if len(lines) < 2:
        raise RecordingError(f"{p}: the MOTION header (Frames:, Frame Time:) is incomplete")
    frames_off, frames_line = lines[0]
    fm = _FRAMES_RE.match(frames_line)
    if fm is None or not lines[1][1].strip().lower().startswith(b"frame time:"):
        raise RecordingError(f"{p}: expected 'Frames:' and 'Frame Time:' after MOTION")
    was = int(fm.group(2)) if fm.group(2) else None

    good_end = lines[1][0] + len(lines[1][1]) + 1
    partial_tail = data[end:]
    count = 0
    motion = lines[2:]
    for n, (off, line) in enumerate(motion):
        toks = line.split()
        if len(toks) == channels and all(_is_number(t) for t in toks):
            count += 1
            good_end = off + len(line) + 1
            continue
        if all(not rest.strip() for _, rest in motion[n + 1 :]) and not partial_tail.strip():
            break  # a damaged or blank last line: drop it with what follows
        raise RecordingError(
            f"{p}: motion line {count} has {len(toks)} values, expected {channels}"
        )
    if good_end == end and _is_counted_last_line(partial_tail, channels, was, count):
        count += 1
        good_end = len(data)

    tail = data[good_end:]
    dropped = len(tail)
    new_field = str(count).encode("ascii")
    field_bytes = fm.group(2) + fm.group(3)
    changed = dropped > 0 or was != count
    if not changed:
        return RepairReport(p, count, 0, was, False)
    prefix_end = frames_off + len(fm.group(1))
    if len(new_field) <= len(field_bytes):
        with open(p, "r+b") as f:
            f.truncate(good_end)
            f.seek(prefix_end)
            f.write(new_field.ljust(len(field_bytes)))
            f.flush()
            os.fsync(f.fileno())
    else:
        out = data[:prefix_end] + new_field + data[frames_off + len(frames_line) : good_end]
        _atomic_write(p, out)
    return RepairReport(p, count, dropped, was, True)


def _is_counted_last_line(tail: bytes, channels: int, declared: int | None, complete: int) -> bool:
    """True when the bytes after the last newline are a whole final frame of a file that simply
    lacks its trailing newline: the full channel count of numbers *and* counted by ``Frames:``.
    A line cut by a crash can also have every value (cut inside the last number), but not the
    header's agreement: the streaming writer counts only lines it has finished and synced."""
    toks = tail.split()
    return len(toks) == channels and all(_is_number(t) for t in toks) and declared == complete + 1


def _atomic_write(p: Path, data: bytes) -> None:
    tmp = p.with_name(p.name + ".repair-tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)


def _drop_partial_last_line(p: Path, valid: Callable[[bytes], bool]) -> tuple[int, int]:
    """Truncate after the last newline, plus a final complete line that ``valid`` rejects.
    Returns (complete lines kept, bytes dropped)."""
    data = p.read_bytes()
    lines, _ = _split_complete(data, 0)
    while lines and not lines[-1][1].strip():
        lines.pop()
    if lines and not valid(lines[-1][1]):
        lines.pop()
    for n, (_, line) in enumerate(lines):
        if line.strip() and not valid(line):
            raise RecordingError(f"{p}: line {n + 1} is damaged and is not the last line")
    end = lines[-1][0] + len(lines[-1][1]) + 1 if lines else 0
    dropped = len(data) - end
    if dropped:
        with open(p, "r+b") as f:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
    return len(lines), dropped


def repair_csv(path: str | os.PathLike[str]) -> RepairReport:
    """Drop a partial last row of a blendshape CSV (rows must have the header's column count)."""
    p = Path(path)
    data = p.read_bytes()
    first = data.split(b"\n", 1)[0]
    if not first.startswith(b"frame,"):
        raise RecordingError(f"{p}: not a blendshape CSV (no 'frame,...' header)")
    ncols = first.count(b",") + 1
    kept, dropped = _drop_partial_last_line(p, lambda line: line.count(b",") + 1 == ncols)
    return RepairReport(p, max(kept - 1, 0), dropped, None, dropped > 0)


def repair_session(path: str | os.PathLike[str]) -> RepairReport:
    """Drop a partial last line of a session file (JSON Lines)."""
    p = Path(path)

    def valid(line: bytes) -> bool:
        try:
            json.loads(line)
        except ValueError:
            return False
        return True

    kept, dropped = _drop_partial_last_line(p, valid)
    if kept == 0:
        raise RecordingError(f"{p}: the session header line is missing")
    return RepairReport(p, kept - 1, dropped, None, dropped > 0)


def repair(path: str | os.PathLike[str]) -> RepairReport:
    """Repair by content: a BVH (``HIERARCHY``), a blendshape CSV (``frame,``) or a session."""
    p = Path(path)
    with open(p, "rb") as f:
        head = f.read(64).lstrip()
    if head.upper().startswith(b"HIERARCHY"):
        return repair_bvh(p)
    if head.startswith(b"frame,"):
        return repair_csv(p)
    if head.startswith(b"{"):
        return repair_session(p)
    if not head:
        raise RecordingError(
            f"{p}: the file is empty (a recording that never wrote its header); delete it"
        )
    raise RecordingError(f"{p}: not a BVH, blendshape CSV or session file")
