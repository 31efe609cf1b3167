"""Streaming BVH writer, blendshape sidecar and ``repair_bvh`` / ``repair_csv``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtuber import geometry
from vtuber.encode import bvh
from vtuber.record import RecordingError
from vtuber.record.bvh_file import FRAMES_WIDTH, BvhFileWriter, write_bvh
from vtuber.record.repair import repair, repair_bvh, repair_csv


def _motion(path):
    text = path.read_text()
    _, motion = text.split("MOTION\n")
    lines = motion.split("\n")
    return lines[0], lines[1], [ln for ln in lines[2:] if ln]


def _yaw(deg: float) -> dict[str, np.ndarray]:
    return {"Head": geometry.from_axis_angle((0, 1, 0), math.radians(deg))}


def _head_yaw(line: str, layout: bvh.BvhLayout) -> float:
    vals = [float(v) for v in line.split()]
    return vals[3 + 3 * layout.joints.index("Head") + 2]


def test_clean_close_is_valid_without_repair(tmp_path):
    path = tmp_path / "a.bvh"
    with BvhFileWriter(path, 25.0, bones=["Hips", "Spine", "Neck", "Head"]) as w:
        for k in range(30):
            w.write(_yaw(k), (0.0, 0.9, 0.0))
        assert w.frames == 30
    frames_line, time_line, lines = _motion(path)
    assert frames_line == "Frames: 30".ljust(len("Frames: ") + FRAMES_WIDTH)
    assert time_line == "Frame Time: 0.04"
    assert len(lines) == 30
    assert repair_bvh(path).changed is False
    bvhio = pytest.importorskip("bvhio")
    c = bvhio.readAsBvh(str(path))
    assert c.FrameCount == 30 and c.FrameTime == 0.04


def test_frames_field_updated_at_each_sync(tmp_path):
    path = tmp_path / "a.bvh"
    w = BvhFileWriter(path, 30.0, bones=["Hips"], sync_interval_s=0.0)
    for _ in range(3):
        w.write({})
    assert _motion(path)[0].split()[1] == "3"  # synced on every write with interval 0
    w.close()
    w.close()  # idempotent
    with pytest.raises(ValueError):
        w.write({})


def test_resampling_fills_gaps_and_drops_duplicates(tmp_path):
    path = tmp_path / "a.bvh"
    layout = bvh.bvh_layout(["Hips", "Neck", "Head"])
    with BvhFileWriter(path, 10.0, layout=layout) as w:
        assert w.write(_yaw(0), t=100.0) == 1
        assert w.write(_yaw(10), t=100.1) == 1
        assert w.write(_yaw(10), t=100.12) == 0  # same slot as 100.1
        assert w.write(_yaw(40), t=100.4) == 3  # slots 2, 3 interpolated, then 4
        assert w.write(_yaw(50), t=200.0) == 1  # a long pause is not filled
    _, _, lines = _motion(path)
    assert [round(_head_yaw(ln, layout), 6) for ln in lines] == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]


def test_sidecar_csv_has_the_same_frames(tmp_path):
    path, csv = tmp_path / "a.bvh", tmp_path / "a.csv"
    with BvhFileWriter(path, 10.0, bones=["Hips"], blendshape_csv=csv) as w:
        w.write({}, t=0.0, blendshapes={"jawOpen": 0.0, "eyeBlinkLeft": 1.0})
        w.write({}, t=0.3, blendshapes={"jawOpen": 0.3, "eyeBlinkLeft": 0.4})
    rows = csv.read_text().splitlines()
    assert rows[0] == "frame,time,eyeBlinkLeft,jawOpen"
    assert rows[1:] == [
        "0,0.000000,1.000000,0.000000",
        "1,0.100000,0.800000,0.100000",
        "2,0.200000,0.600000,0.200000",
        "3,0.300000,0.400000,0.300000",
    ]
    assert len(_motion(path)[2]) == 4


def test_write_bvh_helper(tmp_path):
    path = tmp_path / "a.bvh"
    assert write_bvh(path, [({}, None)] * 5, 60.0, bones=["Hips"]) == 5
    assert _motion(path)[0].split()[1] == "5"


def _killed_file(tmp_path, n=20, partial=True):
    """What SIGKILL can leave: a stale Frames field and possibly a cut last line."""
    path = tmp_path / "k.bvh"
    w = BvhFileWriter(path, 30.0, bones=["Hips", "Spine"], sync_interval_s=3600)
    for k in range(n):
        w.write(_yaw(k))
    w._file.flush()
    full = path.read_bytes()
    w._file.close()  # no close(): Frames stays 0, as after a kill
    if partial:
        full += b"1.000000 95.000000 0.0000"
    path.write_bytes(full)
    return path


def test_repair_after_kill(tmp_path):
    path = _killed_file(tmp_path)
    assert _motion(path)[0].split()[1] == "0"
    report = repair_bvh(path)
    assert report.changed and report.frames == 20 and report.frames_field_was == 0
    assert report.dropped_bytes == len(b"1.000000 95.000000 0.0000")
    frames_line, _, lines = _motion(path)
    assert frames_line.split()[1] == "20" and len(lines) == 20
    assert path.read_bytes().endswith(b"\n")
    again = repair_bvh(path)
    assert not again.changed and again.frames == 20
    assert repair(path).frames == 20


def test_repair_drops_a_complete_line_with_too_few_values(tmp_path):
    path = _killed_file(tmp_path, partial=False)
    path.write_bytes(path.read_bytes() + b"1.0 2.0\n")
    assert repair_bvh(path).frames == 20
    assert len(_motion(path)[2]) == 20


def test_repair_grows_a_narrow_frames_field(tmp_path):
    path = tmp_path / "n.bvh"
    layout = bvh.bvh_layout(["Hips"])
    text = bvh.bvh_header(layout, frame_time=0.1, frames=3)
    text += "".join(bvh.bvh_motion_line({}, None, layout) for _ in range(12))
    path.write_text(text)
    report = repair_bvh(path)
    assert report.frames == 12 and report.frames_field_was == 3
    assert _motion(path)[0] == "Frames: 12"
    assert len(_motion(path)[2]) == 12


def test_repair_refuses_damage_in_the_middle(tmp_path):
    path = _killed_file(tmp_path, partial=False)
    data = path.read_bytes().split(b"\n")
    data[-5] = b"garbage"
    path.write_bytes(b"\n".join(data))
    before = path.read_bytes()
    with pytest.raises(RecordingError):
        repair_bvh(path)
    assert path.read_bytes() == before
    (tmp_path / "x.bvh").write_text("not a bvh")
    with pytest.raises(RecordingError):
        repair_bvh(tmp_path / "x.bvh")


def test_repair_csv(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("frame,time,jawOpen\n0,0.0,0.1\n1,0.1,0.2\n2,0.2")
    r = repair_csv(csv)
    assert r.frames == 2 and r.changed
    assert csv.read_text() == "frame,time,jawOpen\n0,0.0,0.1\n1,0.1,0.2\n"
    assert not repair(csv).changed
