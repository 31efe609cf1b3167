"""BVH text: hierarchy, Euler conversion and a round trip through independent readers."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vtuber import geometry
from vtuber.encode import bvh
from vtuber.retarget import skeleton


def _random_rotations(rng: np.random.Generator, bones) -> dict[str, np.ndarray]:
    qs = Rotation.random(len(bones), random_state=rng).as_quat()  # scipy is xyzw too
    return {b: qs[i] for i, b in enumerate(bones)}


def _angle_deg(a, b) -> float:
    return math.degrees(geometry.angle_between(a, b))


# ---------------------------------------------------------------------------------------------
# Euler angles against scipy (an independent implementation)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", bvh.ROTATION_ORDERS)
def test_euler_matches_scipy_intrinsic(order):
    rots = Rotation.random(300, random_state=1)
    for q in rots.as_quat():
        angles = bvh.quaternion_to_euler(q, order)
        assert -90.0 <= angles[1] <= 90.0
        # scipy: upper-case axes are intrinsic, R = R_first * R_second * R_third
        back = Rotation.from_euler(order.upper(), angles, degrees=True)
        assert (back * Rotation.from_quat(q).inv()).magnitude() < 1e-9
        assert _angle_deg(bvh.euler_to_quaternion(angles, order), q) < 1e-4  # acos-limited


@pytest.mark.parametrize("order", bvh.ROTATION_ORDERS)
@pytest.mark.parametrize("middle", [90.0, -90.0, 89.9999999])
def test_euler_gimbal_lock(order, middle):
    q = Rotation.from_euler(order, [25.0, middle, -40.0], degrees=True).as_quat()
    angles = bvh.quaternion_to_euler(q, order)
    back = Rotation.from_euler(order, angles, degrees=True)
    assert (back * Rotation.from_quat(q).inv()).magnitude() < 1e-6


def test_zxy_is_rz_rx_ry():
    a = bvh.euler_to_matrix([10.0, 20.0, 30.0], "ZXY")
    rz = geometry.to_matrix(geometry.from_axis_angle((0, 0, 1), math.radians(10)))
    rx = geometry.to_matrix(geometry.from_axis_angle((1, 0, 0), math.radians(20)))
    ry = geometry.to_matrix(geometry.from_axis_angle((0, 1, 0), math.radians(30)))
    np.testing.assert_allclose(a, rz @ rx @ ry, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Hierarchy
# ---------------------------------------------------------------------------------------------


def test_header_structure():
    text = bvh.bvh_header(frame_time=1 / 30, frames=7)
    lines = text.splitlines()
    assert lines[0] == "HIERARCHY"
    assert lines[1] == "ROOT Hips"
    assert lines[3].split() == ["OFFSET", "0.000000", "0.000000", "0.000000"]
    assert lines[4].split() == [
        "CHANNELS",
        "6",
        "Xposition",
        "Yposition",
        "Zposition",
        "Zrotation",
        "Xrotation",
        "Yrotation",
    ]
    joints = re.findall(r"^\s*(?:ROOT|JOINT) (\w+)$", text, re.MULTILINE)
    assert sorted(joints) == sorted(skeleton.BONES)
    assert text.count("CHANNELS 3 Zrotation Xrotation Yrotation") == len(skeleton.BONES) - 1
    leaves = [b for b in skeleton.BONES if not skeleton.children(b)]
    assert text.count("End Site") == len(leaves)
    assert text.count("{") == text.count("}")
    assert lines[-3:] == ["MOTION", "Frames: 7", "Frame Time: 0.03333333333333333"]


def test_offsets_are_centimetres_from_parent():
    layout = bvh.bvh_layout()
    np.testing.assert_allclose(layout.offsets_cm["Spine"], [0, 7, 0])
    np.testing.assert_allclose(layout.offsets_cm["LeftUpperArm"], [8, 0, 0])
    np.testing.assert_allclose(layout.offsets_cm["RightUpperArm"], [-8, 0, 0])
    np.testing.assert_allclose(layout.offsets_cm["Hips"], [0, 0, 0])
    # depth-first: every joint comes after its parent and a subtree is contiguous
    order = {j: n for n, j in enumerate(layout.joints)}
    for j, p in layout.parents.items():
        if p is not None:
            assert order[p] < order[j]


def test_subset_hangs_from_nearest_ancestor():
    bones = [
        b
        for b in skeleton.BONES
        if b not in ("UpperChest", "Chest") and b not in skeleton.FINGER_BONES
    ]
    layout = bvh.bvh_layout(bones)
    assert layout.parents["Neck"] == "Spine"
    np.testing.assert_allclose(layout.offsets_cm["Neck"], [0, 34, 0])
    assert layout.parents["LeftShoulder"] == "Spine"
    assert "LeftHand" in layout.end_sites_cm  # leaf now: ends at the middle finger root
    np.testing.assert_allclose(
        layout.end_sites_cm["LeftHand"], 100 * skeleton.REST_OFFSETS["LeftThumbProximal"]
    )


def test_custom_offsets():
    layout = bvh.bvh_layout(offsets={"Spine": (0.0, 0.1, 0.01)})
    np.testing.assert_allclose(layout.offsets_cm["Spine"], [0, 10, 1])


def test_frames_and_frame_time_lines():
    assert bvh.bvh_frames_line(12, 10) == "Frames: 12        \n"
    assert bvh.bvh_frames_line(0) == "Frames: 0\n"
    with pytest.raises(ValueError):
        bvh.bvh_frames_line(10**10, 10)
    for fps in (30.0, 29.97002997002997, 60.0, 24.0, 25.0, 12.5, 119.88):
        line = bvh.bvh_frame_time_line(bvh.frame_time_from_fps(fps))
        assert float(line.split()[2]) == 1.0 / fps
    assert bvh.bvh_frame_time_line(1e-5) == "Frame Time: 0.00001\n"
    with pytest.raises(ValueError):
        bvh.frame_time_from_fps(0.0)


# ---------------------------------------------------------------------------------------------
# Motion
# ---------------------------------------------------------------------------------------------


def test_missing_bones_are_identity_and_root_default():
    layout = bvh.bvh_layout()
    values = bvh.bvh_motion_values({}, None, layout)
    np.testing.assert_allclose(values[:3], [0.0, 95.0, 0.0])
    assert np.all(values[3:] == 0.0)
    line = bvh.bvh_motion_line(
        {"Head": geometry.from_axis_angle((0, 1, 0), math.radians(30))}, (0.1, 1.0, -0.2), layout
    )
    vals = [float(v) for v in line.split()]
    assert line.endswith("\n") and len(vals) == layout.channel_count
    assert vals[:3] == [10.0, 100.0, -20.0]
    h = 3 + 3 * layout.joints.index("Head")
    assert vals[h : h + 3] == pytest.approx([0.0, 0.0, 30.0])  # Z X Y: a yaw is the Y channel


def test_parse_motion_line_round_trip():
    rng = np.random.default_rng(3)
    layout = bvh.bvh_layout()
    rots = _random_rotations(rng, layout.joints)
    root, back = bvh.parse_motion_line(bvh.bvh_motion_line(rots, (0.01, 0.9, 0.3), layout), layout)
    np.testing.assert_allclose(root, [0.01, 0.9, 0.3], atol=1e-8)
    for j in layout.joints:
        assert _angle_deg(back[j], rots[j]) < 1e-4


def test_unwrap_avoids_360_jumps():
    layout = bvh.bvh_layout(["Hips"])
    prev = None
    rows = []
    for k in range(0, 800, 10):  # Hips yaw through several full turns
        q = geometry.from_axis_angle((0, 1, 0), math.radians(k))
        prev = bvh.bvh_motion_values({"Hips": q}, None, layout, prev)
        rows.append(prev.copy())
    rows = np.array(rows)
    assert np.max(np.abs(np.diff(rows[:, 3:], axis=0))) < 10.0 + 1e-6
    assert rows[-1, 5] == pytest.approx(790.0)


def test_blendshape_csv_helpers():
    names = ["eyeBlinkLeft", "jawOpen"]
    assert bvh.blendshape_csv_header(names) == "frame,time,eyeBlinkLeft,jawOpen\n"
    row = bvh.blendshape_csv_row(3, {"jawOpen": 0.5}, names, 0.04)
    assert row == "3,0.120000,0.000000,0.500000\n"
    with pytest.raises(ValueError):
        bvh.blendshape_csv_header(["a,b"])


# ---------------------------------------------------------------------------------------------
# Round trip through bvhio (an independent BVH reader from PyPI)
# ---------------------------------------------------------------------------------------------


def _write_clip(path, fps, frames):
    layout = bvh.bvh_layout()
    text = bvh.bvh_header(layout, frame_time=bvh.frame_time_from_fps(fps), frames=len(frames))
    prev = None
    for rots, root in frames:
        prev = bvh.bvh_motion_values(rots, root, layout, prev)
        text += bvh.format_motion_values(prev)
    path.write_text(text)
    return layout


def test_round_trip_through_bvhio(tmp_path):
    bvhio = pytest.importorskip(
        "bvhio", reason="bvhio (independent BVH reader) not installed: pip install bvhio"
    )
    rng = np.random.default_rng(7)
    fps = 29.97002997002997
    frames = [(_random_rotations(rng, skeleton.BONES), rng.uniform(-1, 1, 3)) for _ in range(12)]
    path = tmp_path / "clip.bvh"
    _write_clip(path, fps, frames)

    container = bvhio.readAsBvh(str(path))
    assert container.FrameCount == len(frames)
    assert container.FrameTime == 1.0 / fps  # exact
    joints = {j.Name: j for j, _, _ in container.Root.layout()}
    assert set(joints) == set(skeleton.BONES)
    for b in skeleton.BONES:
        assert len(joints[b].Keyframes) == len(frames)
    worst = 0.0
    for f, (rots, root) in enumerate(frames):
        p = joints["Hips"].Keyframes[f].Position
        np.testing.assert_allclose([p.x, p.y, p.z], root * 100.0, atol=1e-4)
        for b in skeleton.BONES:
            g = joints[b].Keyframes[f].Rotation  # glm quat, w first
            worst = max(worst, _angle_deg([g.x, g.y, g.z, g.w], rots[b]))
            # the reader keeps our OFFSETs (cm) as the rest skeleton
            if b != "Hips":
                o = joints[b].Offset
                np.testing.assert_allclose(
                    [o.x, o.y, o.z], 100 * skeleton.REST_OFFSETS[b], atol=1e-4
                )
    assert worst < 0.01


def test_round_trip_own_parser_against_scipy(tmp_path):
    """A separate careful parse (tokens in hierarchy order) and scipy's intrinsic Euler."""
    rng = np.random.default_rng(11)
    frames = [(_random_rotations(rng, skeleton.BONES), rng.uniform(-1, 1, 3)) for _ in range(5)]
    path = tmp_path / "clip.bvh"
    _write_clip(path, 24.0, frames)
    text = path.read_text()
    head, motion = text.split("MOTION\n")
    joints = re.findall(r"^\s*(?:ROOT|JOINT) (\w+)$", head, re.MULTILINE)
    orders = [
        "".join(c[0] for c in m.split() if c.endswith("rotation"))
        for m in re.findall(r"CHANNELS \d+ (.*)$", head, re.MULTILINE)
    ]
    mlines = motion.splitlines()
    assert mlines[0] == f"Frames: {len(frames)}"
    assert float(mlines[1].split(":")[1]) == 1.0 / 24.0
    for f, (rots, root) in enumerate(frames):
        vals = np.array([float(v) for v in mlines[2 + f].split()])
        np.testing.assert_allclose(vals[:3], root * 100, atol=1e-5)
        for n, (j, order) in enumerate(zip(joints, orders)):
            r = Rotation.from_euler(order, vals[3 + 3 * n : 6 + 3 * n], degrees=True)
            err = math.degrees((r * Rotation.from_quat(rots[j]).inv()).magnitude())
            assert err < 0.01, (j, err)
