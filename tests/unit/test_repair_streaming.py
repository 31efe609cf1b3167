"""``vtuber repair`` on recordings too large to hold twice in memory: an hour of session is about a
gigabyte, and the repair runs after a crash on the streamer's machine. Each repair reads a line at
a time; its peak Python allocation stays at a few megabytes for a 16 MB file (reading it whole,
as before, took at least the file's size)."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from vtuber.record import RecordingError
from vtuber.record.repair import RepairReport, repair_bvh, repair_csv, repair_session

BIG_BYTES = 16 * 1024 * 1024
PEAK_LIMIT_BYTES = 4 * 1024 * 1024  # a 1 MiB copy buffer and one line, with room to spare


def peak_bytes(run: Callable[[], RepairReport]) -> tuple[RepairReport, int]:
    tracemalloc.start()
    try:
        report = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return report, peak


def test_a_large_session_is_repaired_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "long.session.jsonl"
    frame = json.dumps({"t": 0.0, "landmarks": "A" * 8000}).encode() + b"\n"  # ~8 KB, a tracked face's size
    frames = BIG_BYTES // len(frame)
    with open(path, "wb") as f:
        f.write(b'{"schema": 1}\n')
        f.writelines(frame for _ in range(frames))
        f.write(frame[:100])  # the crash cut the last line
    report, peak = peak_bytes(lambda: repair_session(path))
    assert (report.frames, report.dropped_bytes, report.changed) == (frames, 100, True)
    assert path.stat().st_size == 14 + frames * len(frame)
    assert peak < PEAK_LIMIT_BYTES, f"peak {peak / 2**20:.1f} MiB for a {BIG_BYTES / 2**20:.0f} MiB file"


def test_a_large_bvh_whose_count_outgrew_its_field_is_rewritten_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "long.bvh"
    line = b" ".join([b"0.000000"] * 60) + b"\n"  # 20 joints x 3 channels
    frames = BIG_BYTES // len(line)
    joints = b"".join(b"  JOINT j%d\n  {\n    CHANNELS 3 Zrotation Xrotation Yrotation\n  }\n" % i for i in range(19))
    header = b"HIERARCHY\nROOT Hips\n{\n  CHANNELS 3 Zrotation Xrotation Yrotation\n" + joints + b"}\nMOTION\nFrames: 1\nFrame Time: 0.033333\n"
    with open(path, "wb") as f:
        f.write(header)
        f.writelines(line for _ in range(frames))
        f.write(line[:7])
    report, peak = peak_bytes(lambda: repair_bvh(path))
    assert (report.frames, report.frames_field_was, report.dropped_bytes) == (frames, 1, 7)
    data = path.read_bytes()
    assert f"Frames: {frames}\n".encode() in data and data.endswith(line)
    assert len(data) == len(header) + len(str(frames)) - 1 + frames * len(line)
    assert peak < PEAK_LIMIT_BYTES, f"peak {peak / 2**20:.1f} MiB for a {BIG_BYTES / 2**20:.0f} MiB file"


def test_blank_lines_inside_a_csv_are_not_counted_as_rows(tmp_path: Path) -> None:
    path = tmp_path / "shapes.csv"
    path.write_bytes(b"frame,jawOpen\n\n0,0.5\n1,0.25\n")
    assert repair_csv(path).frames == 2  # (the old whole-file reader counted the blank line as a row)


def test_a_crash_tail_of_nul_bytes_without_a_newline_is_dropped_without_being_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "nul.session.jsonl"
    lines = b'{"schema": 1}\n' + b'{"t": 0.0}\n' * 1000
    with open(path, "wb") as f:
        f.write(lines)
        f.write(b"\0" * (20 * 1024 * 1024))  # a power cut's zero-filled blocks, longer than any line
    report, peak = peak_bytes(lambda: repair_session(path))
    assert (report.frames, report.dropped_bytes) == (1000, 20 * 1024 * 1024)
    assert path.read_bytes() == lines
    assert peak < PEAK_LIMIT_BYTES, f"peak {peak / 2**20:.1f} MiB: the NUL run was held whole"


def test_a_blank_line_before_a_damaged_last_line_goes_with_it_so_a_second_repair_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shapes.csv"
    path.write_bytes(b"frame,jawOpen\n0,0.5\n\nbad\n")
    report = repair_csv(path)
    assert (report.frames, report.dropped_bytes) == (1, 5)
    assert path.read_bytes() == b"frame,jawOpen\n0,0.5\n"
    assert not repair_csv(path).changed  # (the old reader left the blank line: a second repair cut again)


def test_a_crlf_bvh_keeps_its_line_ending_when_the_frame_count_outgrows_its_field(tmp_path: Path) -> None:
    path = tmp_path / "crlf.bvh"
    header = b"HIERARCHY\r\nROOT Hips\r\n{\r\n  CHANNELS 3 Zrotation Xrotation Yrotation\r\n}\r\nMOTION\r\n"
    path.write_bytes(header + b"Frames: 1\r\nFrame Time: 0.1\r\n" + b"0 0 0\r\n" * 12)
    assert repair_bvh(path).frames == 12
    assert path.read_bytes() == header + b"Frames: 12\r\nFrame Time: 0.1\r\n" + b"0 0 0\r\n" * 12


def test_a_header_cut_by_the_crash_is_refused_and_the_file_left_as_it_was(tmp_path: Path) -> None:
    for name, data, repair_fn, what in (
        ("s.session.jsonl", b'{"schema": 1, "fi', repair_session, "session header line is missing"),
        ("s.csv", b"frame,jawOp", repair_csv, "CSV header line is incomplete"),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(RecordingError, match=what):
            repair_fn(path)
        assert path.read_bytes() == data
