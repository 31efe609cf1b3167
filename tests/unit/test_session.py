"""Session recording: exact round trip, cut-last-line tolerance, repair and the plot."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vtuber import geometry
from vtuber.record import RecordingError
from vtuber.record.repair import repair, repair_session
from vtuber.record.session import SessionWriter, read_session, session_frames
from vtuber.records import (
    FaceLandmarks,
    HandLandmarks,
    HeadPose,
    Landmarks,
    PoseLandmarks,
    Rig,
    frozen_mapping,
)

HEADER = {"source": "synthetic", "fps": 30.0, "image_size": (640, 480)}


def _frame(k: int, rng: np.random.Generator) -> tuple[Landmarks, Rig]:
    f32 = lambda *shape: rng.random(shape).astype(np.float32)
    t = 10.0 + k / 30.0
    lm = Landmarks(
        t=t,
        index=k,
        image_size=(640, 480),
        face=FaceLandmarks(
            points=f32(478, 3),
            presence=0.9,
            blendshapes=frozen_mapping({"jawOpen": 0.25}),
            head_points=f32(478, 3) if k % 2 else None,  # the hybrid back end's second point set
        ),
        pose=PoseLandmarks(points=f32(33, 3), world=f32(33, 3), visibility=f32(33)),
        left_hand=HandLandmarks(side="left", points=f32(21, 3), world=f32(21, 3), score=0.8)
        if k % 2
        else None,
        right_hand=HandLandmarks(side="right", points=f32(21, 3), world=None, score=0.7),
    )
    rig = Rig(
        t=t,
        index=k,
        head=HeadPose(
            rotation=geometry.from_yaw_pitch_roll(math.radians(k), 0.1, -0.05),
            position=np.array([0.01, 0.02, -0.6]) * (1 + k),
            reprojection_error_px=1.25,
        ),
        blendshapes=frozen_mapping({"eyeBlinkLeft": k / 10.0, "jawOpen": 1 / 3}),
        bones={
            "Head": geometry.from_axis_angle((0, 1, 0), 0.1 * k),
            "LeftHand": rng.normal(size=4),
        },
        tracked={"face": True, "left_hand": bool(k % 2)},
        held=frozenset({"right_hand"}),
    )
    return lm, rig


def _assert_landmarks_equal(a: Landmarks, b: Landmarks) -> None:
    assert (a.t, a.index, tuple(a.image_size)) == (b.t, b.index, tuple(b.image_size))
    for part in ("face", "pose", "left_hand", "right_hand"):
        pa, pb = getattr(a, part), getattr(b, part)
        assert (pa is None) == (pb is None)
        if pa is None:
            continue
        for attr in ("points", "world", "visibility", "head_points"):
            if hasattr(pa, attr):
                va, vb = getattr(pa, attr), getattr(pb, attr)
                assert (va is None) == (vb is None)
                if va is not None:
                    assert vb.dtype == np.float32
                    np.testing.assert_array_equal(va, vb)  # bit-exact: deterministic replay
    assert dict(a.face.blendshapes) == dict(b.face.blendshapes)
    assert a.face.presence == b.face.presence


def _assert_rigs_equal(a: Rig, b: Rig) -> None:
    assert (a.t, a.index) == (b.t, b.index)
    np.testing.assert_array_equal(a.head.rotation, b.head.rotation)
    np.testing.assert_array_equal(a.head.position, b.head.position)
    assert a.head.reprojection_error_px == b.head.reprojection_error_px
    assert dict(a.blendshapes) == dict(b.blendshapes)
    assert set(a.bones) == set(b.bones)
    for k in a.bones:
        np.testing.assert_array_equal(a.bones[k], b.bones[k])
    assert dict(a.tracked) == dict(b.tracked) and a.held == b.held


def _record(path, n=6, seed=0):
    rng = np.random.default_rng(seed)
    frames = [_frame(k, rng) for k in range(n)]
    with SessionWriter(path, HEADER) as w:
        for k, (lm, rig) in enumerate(frames):
            w.write(lm, rig if k != 2 else None, timings={"track_ms": 12.5})
        assert w.frames == n
    return frames


def test_round_trip_is_exact(tmp_path):
    path = tmp_path / "s.jsonl"
    frames = _record(path)
    header, it = read_session(path)
    assert header["format"] == "vtuber-session" and header["version"] == 1
    assert (
        header["fps"] == 30.0
        and header["image_size"] == [640, 480]
        and header["source"] == "synthetic"
    )
    back = list(it)
    assert len(back) == len(frames)
    for k, ((lm, rig), (lm2, rig2)) in enumerate(zip(frames, back)):
        _assert_landmarks_equal(lm, lm2)
        if k == 2:
            assert rig2 is None
        else:
            _assert_rigs_equal(rig, rig2)
    ts = [t for t, _, _ in session_frames(path)]
    assert ts == [lm.t for lm, _ in frames]


def test_lines_are_compact(tmp_path):
    path = tmp_path / "s.jsonl"
    _record(path, n=3)
    lines = path.read_bytes().splitlines()
    assert len(lines) == 4
    assert max(len(lines[1]), len(lines[3])) < 12_000  # 478x3 face + pose + hands as base64 float32
    assert len(lines[2]) < 19_000  # the same plus the hybrid back end's second 478x3 face
    assert json.loads(lines[1])["timings"] == {"track_ms": 12.5}


def test_cut_last_line_is_ignored_and_repaired(tmp_path):
    path = tmp_path / "s.jsonl"
    frames = _record(path, n=5)
    data = path.read_bytes()
    cut = data[: len(data) - 300]  # a crash in the middle of writing the last frame
    path.write_bytes(cut)
    _, it = read_session(path)
    assert [lm.index for lm, _ in it] == [0, 1, 2, 3]
    r = repair_session(path)
    assert r.changed and r.frames == 4
    assert path.read_bytes().endswith(b"\n")
    assert not repair(path).changed
    assert len(list(read_session(path)[1])) == 4
    assert frames  # used


def test_damage_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "s.jsonl"
    _record(path, n=4)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2][:50]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(RecordingError):
        list(read_session(path)[1])
    with pytest.raises(RecordingError):
        repair_session(path)


def test_not_a_session(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"format": "other"}\n')
    with pytest.raises(RecordingError):
        read_session(p)
    p.write_text('{"format": "vtuber-session", "version": 99}\n')
    with pytest.raises(RecordingError, match="newer"):
        read_session(p)
    with pytest.raises(ValueError):
        SessionWriter(tmp_path / "y.jsonl", {"source": "x"})


def test_plot_session(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib (optional extra) not installed")
    from vtuber.record.plot import plot_session, session_series

    path = tmp_path / "s.jsonl"
    _record(path, n=8)
    s = session_series(path)
    assert s["t"][0] == 0.0 and len(s["t"]) == 8
    assert s["yaw"][3] == pytest.approx(3.0, abs=1e-6)
    assert math.isnan(s["blink_left"][2])  # no rig that frame
    assert list(s["left_hand"]) == [0, 1, 0, 1, 0, 1, 0, 1]
    out = plot_session(path, tmp_path / "s.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_output_names(tmp_path):
    """A folder gets <session>.png inside it, a bare name gets .png, and the path returned is the
    file written; an unknown suffix or a missing folder is one RecordingError line."""
    pytest.importorskip("matplotlib", reason="matplotlib (optional extra) not installed")
    from vtuber.record.plot import plot_session

    path = tmp_path / "s.jsonl"
    _record(path, n=4)
    folder = tmp_path / "plots"
    folder.mkdir()
    assert plot_session(path, folder) == folder / "s.png" and (folder / "s.png").is_file()
    assert plot_session(path, tmp_path / "bare") == tmp_path / "bare.png" and (tmp_path / "bare.png").is_file()
    for bad, match in ((tmp_path / "x.xyz", r"\.png, \.pdf or \.svg"), (tmp_path / "nodir" / "y.png", "check the folder exists")):
        with pytest.raises(RecordingError, match=match) as info:
            plot_session(path, bad)
        assert "\n" not in str(info.value)
