"""Make recordings cut short by a crash valid again (``vtuber repair``).

* ``repair_bvh``: keeps every complete motion line (newline-terminated, the number of values the
  hierarchy's CHANNELS declare, all numbers; a last line without its newline counts when it is
  whole and ``Frames:`` counts it), drops a partial last line and rewrites ``Frames:``.
* ``repair_csv``: drops a partial last row of a blendshape sidecar CSV.
* ``repair_session``: drops a partial last line of a session (JSON Lines).

All are idempotent and leave an intact file byte-for-byte unchanged. A damaged line that is not
the last one means the file was not cut by a crash: ``RecordingError``, nothing changed. They
read a line at a time (an hour of session is about a gigabyte): memory does not grow with the
recording.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vtuber.record import RecordingError

_FRAMES_RE = re.compile(rb"^([ \t]*Frames:[ \t]*)(\d*)([ \t]*)\r?$", re.IGNORECASE)
_MOTION_RE = re.compile(rb"[ \t]*MOTION[ \t]*\r?$")
_CHANNELS_RE = re.compile(rb"CHANNELS[ \t]+(\d+)")


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


_COPY_CHUNK_BYTES = 1 << 20  # rewrite copies in 1 MiB pieces: memory stays flat on hour-long files
_MAX_LINE_BYTES = 1 << 20  # 50x a full session frame (~20 KB); longer is a crash's run of NUL bytes
# or garbage, skipped over instead of read whole
_OVERLONG = b"\0overlong line"  # stands for such a line: not a number, CSV row or JSON


def _lines(f: BinaryIO, start: int) -> Iterator[tuple[int, int, bytes, bool]]:
    """The lines of ``f`` from byte ``start`` (past the end: none), one at a time (a recording
    can be gigabytes): ``(offset, offset past it and its newline, line without its newline,
    whether a newline ended it)``; only the last can lack its newline. A line longer than
    ``_MAX_LINE_BYTES`` is skipped over without being held and comes as ``_OVERLONG``."""
    f.seek(start)
    offset = start
    while raw := f.readline(_MAX_LINE_BYTES):
        size = len(raw)
        if size == _MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raw = b""  # let the piece go before reading the next
            while (more := f.readline(_MAX_LINE_BYTES)) and not more.endswith(b"\n"):
                size += len(more)  # the rest of the overlong line, dropped piece by piece
            size += len(more)
            raw = _OVERLONG + (b"\n" if more.endswith(b"\n") else b"")
        complete = raw.endswith(b"\n")
        yield offset, offset + size, raw[:-1] if complete else raw, complete
        offset += size


def _is_number(tok: bytes) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _bvh_header(f: BinaryIO, p: Path) -> tuple[int, int]:
    """Total CHANNELS of the hierarchy and the offset just past the ``MOTION`` line."""
    channels = 0
    seen_content = False
    for _, end, line, complete in _lines(f, 0):
        if not seen_content and line.strip():
            seen_content = True
            if not line.lstrip().upper().startswith(b"HIERARCHY"):
                break
        if _MOTION_RE.match(line):
            return channels, end if complete else end + 1  # a cut MOTION line: nothing follows
        channels += sum(int(c) for c in _CHANNELS_RE.findall(line))
    raise RecordingError(f"{p}: not a BVH file or its header is incomplete (no HIERARCHY/MOTION)")


def repair_bvh(path: str | os.PathLike[str]) -> RepairReport:
    """Recount the complete motion lines of a BVH, drop a partial last line, rewrite ``Frames:``.

    The count is written in place when it fits the existing field (streaming files reserve
    10 digits), else the file is rewritten through a temporary file and an atomic rename. The
    file is read a line at a time, so memory does not grow with the recording's length.
    """
    p = Path(path)
    with open(p, "rb") as f:
        channels, motion_start = _bvh_header(f, p)
        lines = _lines(f, motion_start)
        header = list(itertools.islice(lines, 2))
        if len(header) < 2 or not header[1][3]:
            raise RecordingError(f"{p}: the MOTION header (Frames:, Frame Time:) is incomplete")
        (frames_off, _, frames_line, _), (_, time_end, time_line, _) = header
        fm = _FRAMES_RE.match(frames_line)
        if fm is None or not time_line.strip().lower().startswith(b"frame time:"):
            raise RecordingError(f"{p}: expected 'Frames:' and 'Frame Time:' after MOTION")
        was = int(fm.group(2)) if fm.group(2) else None

        good_end = end = time_end  # past the last good / last complete line
        count = 0
        # the first damaged or blank line: (frames before it, its value count)
        bad: tuple[int, int] | None = None
        data_after_bad = False
        tail = b""  # the bytes after the last newline
        for _, line_end, line, complete in lines:
            if not complete:
                tail = line
                data_after_bad = bad is not None and bool(line.strip())
                break
            end = line_end
            if bad is not None:
                if line.strip():
                    data_after_bad = True
                    break
                continue
            toks = line.split()
            if len(toks) == channels and all(_is_number(t) for t in toks):
                count += 1
                good_end = end
            else:
                bad = (count, len(toks))  # dropped with what follows, if only blank lines follow
        if bad is not None and data_after_bad:
            raise RecordingError(
                f"{p}: motion line {bad[0]} has {bad[1]} values, expected {channels}"
            )
        size = f.seek(0, os.SEEK_END)
    if good_end == end and _is_counted_last_line(tail, channels, was, count):
        count += 1
        good_end = size

    dropped = size - good_end
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
        # the rest of the Frames: line from its trailing spaces' end on: keeps a CRLF's \r
        _atomic_rewrite(p, [(0, prefix_end), new_field, (frames_off + fm.end(3), good_end)])
    return RepairReport(p, count, dropped, was, True)


def _is_counted_last_line(tail: bytes, channels: int, declared: int | None, complete: int) -> bool:
    """True when the bytes after the last newline are a whole final frame of a file that simply
    lacks its trailing newline: the full channel count of numbers *and* counted by ``Frames:``.
    A line cut by a crash can also have every value (cut inside the last number), but not the
    header's agreement: the streaming writer counts only lines it has finished and synced."""
    toks = tail.split()
    return len(toks) == channels and all(_is_number(t) for t in toks) and declared == complete + 1


def _atomic_rewrite(p: Path, pieces: Iterable[tuple[int, int] | bytes]) -> None:
    """Replace ``p`` by the concatenation of ``pieces`` (byte ranges ``(start, end)`` of ``p``
    itself, or literal bytes), written to a temporary file, synced and renamed over ``p``."""
    tmp = p.with_name(p.name + ".repair-tmp")
    try:
        with open(p, "rb") as src, open(tmp, "wb") as out:
            for piece in pieces:
                if isinstance(piece, bytes):
                    out.write(piece)
                    continue
                start, stop = piece
                src.seek(start)
                while start < stop:
                    chunk = src.read(min(_COPY_CHUNK_BYTES, stop - start))
                    if not chunk:
                        raise RecordingError(
                            f"{p}: the file shrank while it was being repaired; nothing changed, run repair again"
                        )
                    out.write(chunk)
                    start += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)


def _drop_partial_last_line(
    p: Path, valid: Callable[[bytes], bool], no_header: str
) -> tuple[int, int]:
    """Truncate after the last complete line that ``valid`` accepts: a partial last line (no
    newline), trailing blank lines and one final complete line that ``valid`` rejects go (with
    blank lines before it). Read a line at a time. Returns (non-blank lines kept, bytes dropped).
    No complete valid line at all: ``RecordingError`` ``no_header``, nothing changed."""
    kept = 0
    end = 0
    bad_line: int | None = None  # physical line number of a rejected line, allowed only last
    with open(p, "rb") as f:
        for number, (_, line_end, line, complete) in enumerate(_lines(f, 0), start=1):
            if not complete:
                break  # cut by the crash: dropped whatever it holds
            if not line.strip():
                continue
            if bad_line is not None:
                raise RecordingError(f"{p}: line {bad_line} is damaged and is not the last line")
            if valid(line):
                kept += 1
                end = line_end
            else:
                bad_line = number
        size = f.seek(0, os.SEEK_END)
    if kept == 0:
        raise RecordingError(f"{p}: {no_header}")
    dropped = size - end
    if dropped:
        with open(p, "r+b") as f:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
    return kept, dropped


def repair_csv(path: str | os.PathLike[str]) -> RepairReport:
    """Drop a partial last row of a blendshape CSV (rows must have the header's column count)."""
    p = Path(path)
    with open(p, "rb") as f:
        first = f.readline(_MAX_LINE_BYTES).rstrip(b"\n")
    if not first.startswith(b"frame,"):
        raise RecordingError(f"{p}: not a blendshape CSV (no 'frame,...' header)")
    ncols = first.count(b",") + 1
    kept, dropped = _drop_partial_last_line(
        p,
        lambda line: line.count(b",") + 1 == ncols,
        "the CSV header line is incomplete (cut by a crash); delete the file",
    )
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

    kept, dropped = _drop_partial_last_line(p, valid, "the session header line is missing")
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
