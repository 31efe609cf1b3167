"""Import our BVH into Blender (Debian's ``blender``, headless) with the importer's default axes.

How the comparison is made: Blender is run with ``-b --factory-startup`` and a small script that
imports the file (``global_scale=0.01`` to turn centimetres into metres, ``update_scene_fps``;
axes left at the defaults ``axis_forward='-Z'``, ``axis_up='Y'``), then for each sampled frame
records for every pose bone

* ``G = (world pose matrix).rot @ (world rest matrix).rot^-1``: the bone's rotation away from
  its rest orientation about the world axes (independent of Blender's bone roll), and
* the bone's world head position.

Outside Blender the local rotation is ``L = G_parent^T G`` and must equal ``C R C^T``, where
``R`` is the rotation we wrote (``Rig.bones``, internal frame) and ``C`` the change from the
BVH/internal axes to Blender's (x -> x, y -> z, z -> -y; what the importer's default axis
conversion does). Head positions are checked against our own forward kinematics mapped by
``C``. Blender frame ``frame_start + i`` (default 1 + i) holds BVH motion line ``i``.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vtuber import geometry
from vtuber.record.bvh_file import BvhFileWriter
from vtuber.retarget import skeleton

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(
        shutil.which("blender") is None,
        reason="Debian's blender is not installed (apt-get install -y blender); needed for the BVH import check",
    ),
]

# BVH / internal axes -> Blender world axes (Y up, -Z forward -> Z up, -Y forward).
C = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

BLENDER_SCRIPT = r"""
import builtins, json, sys
import bpy

bvh_path, out_path, frames = sys.argv[sys.argv.index("--") + 1:]
frames = json.loads(frames)

# Blender 3.4's importer opens the file with mode 'rU', which Python 3.11 rejects.
_open = builtins.open
def _open_compat(file, mode="r", *args, **kwargs):
    if isinstance(mode, str) and "U" in mode:
        mode = mode.replace("U", "") or "r"
    return _open(file, mode, *args, **kwargs)
builtins.open = _open_compat
try:
    result = bpy.ops.import_anim.bvh(
        filepath=bvh_path, global_scale=0.01, update_scene_fps=True, update_scene_duration=True
    )
finally:
    builtins.open = _open

scene = bpy.context.scene
arm = next(o for o in scene.objects if o.type == "ARMATURE")
out = {
    "result": sorted(result),
    "fps": scene.render.fps,
    "fps_base": scene.render.fps_base,
    "frame_end": scene.frame_end,
    "keyframes": sorted({len(fc.keyframe_points) for fc in arm.animation_data.action.fcurves}),
    "action_range": list(arm.animation_data.action.frame_range),
    "frames": {},
}
for f in frames:
    scene.frame_set(f)
    bones = {}
    for pb in arm.pose.bones:
        pose = arm.matrix_world @ pb.matrix
        rest = arm.matrix_world @ pb.bone.matrix_local
        g = pose.to_3x3().normalized() @ rest.to_3x3().normalized().inverted()
        bones[pb.name] = {"G": [list(r) for r in g], "head": list(arm.matrix_world @ pb.head)}
    out["frames"][str(f)] = bones
with _open(out_path, "w") as fh:
    json.dump(out, fh)
"""

FPS = 30000.0 / 1001.0  # NTSC 29.97: a frame time that is not a round number


def _clip() -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    """Frame 0 the rest pose; frame 1 a hand-made pose; then random rotations on every joint."""
    rest_root = np.array(skeleton.REST_OFFSETS["Hips"])
    frames = [({}, rest_root)]
    deg = math.radians
    frames.append(
        (
            {
                "Head": geometry.from_yaw_pitch_roll(deg(30), deg(-15), deg(10)),
                "Neck": geometry.from_axis_angle((1, 0, 0), deg(20)),
                "LeftUpperArm": geometry.from_axis_angle((0, 0, 1), deg(-60)),  # arm down
                "RightLowerLeg": geometry.from_axis_angle((1, 0, 0), deg(45)),
                "Hips": geometry.from_axis_angle((0, 1, 0), deg(90)),
            },
            rest_root + np.array([0.1, -0.05, 0.2]),
        )
    )
    rng = np.random.default_rng(5)
    for _ in range(6):
        qs = Rotation.random(len(skeleton.BONES), random_state=rng).as_quat()
        frames.append(
            (
                {b: qs[i] for i, b in enumerate(skeleton.BONES)},
                rest_root + rng.uniform(-0.3, 0.3, 3),
            )
        )
    return frames


def _fk(
    rots: dict[str, np.ndarray], root: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """World rotation (about the rest axes) and head position of every bone, internal frame."""
    world: dict[str, np.ndarray] = {}
    pos: dict[str, np.ndarray] = {}
    for b in skeleton.BONES:  # parents first
        r = geometry.to_matrix(rots.get(b, geometry.IDENTITY))
        p = skeleton.PARENTS[b]
        if p is None:
            world[b], pos[b] = r, np.asarray(root, dtype=float)
        else:
            world[b] = world[p] @ r
            pos[b] = pos[p] + world[p] @ skeleton.REST_OFFSETS[b]
    return world, pos


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle of the rotation between two rotation matrices, degrees: ||a - b||_F = sqrt(8) sin(angle / 2)
    (well conditioned for small angles, unlike acos of the trace with Blender's float32 matrices)."""
    return math.degrees(2.0 * math.asin(min(1.0, np.linalg.norm(a - b) / math.sqrt(8.0))))


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("blender")
    path = tmp / "clip.bvh"
    clip = _clip()
    with BvhFileWriter(path, FPS) as w:
        for rots, root in clip:
            w.write(rots, root)
    out = tmp / "result.json"
    sampled = list(range(1, len(clip) + 1))
    proc = subprocess.run(
        [
            "blender",
            "-b",
            "--factory-startup",
            "-noaudio",
            "--python-exit-code",
            "1",
            "--python-expr",
            BLENDER_SCRIPT,
            "--",
            str(path),
            str(out),
            json.dumps(sampled),
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return clip, json.loads(out.read_text())


def test_import_finished_at_the_source_frame_rate(imported):
    clip, res = imported
    assert res["result"] == ["FINISHED"]
    # fps_base is a float32 in Blender: 1e-7 relative is its resolution
    assert res["fps"] / res["fps_base"] == pytest.approx(FPS, rel=1e-6)
    assert res["fps"] == 30
    assert res["keyframes"] == [len(clip)]  # one key per BVH frame on every channel
    assert res["action_range"] == [1.0, float(len(clip))]  # frames 1..N
    assert res["frame_end"] >= len(clip)  # the importer never shortens the scene (default 250)


def test_bone_rotations_match_within_one_degree(imported):
    clip, res = imported
    worst = 0.0
    for i, (rots, _) in enumerate(clip):
        bones = res["frames"][str(i + 1)]
        assert set(bones) == set(skeleton.BONES)
        g = {b: np.array(v["G"]) for b, v in bones.items()}
        for b in skeleton.BONES:
            p = skeleton.PARENTS[b]
            local = g[b] if p is None else g[p].T @ g[b]
            expected = C @ geometry.to_matrix(rots.get(b, geometry.IDENTITY)) @ C.T
            worst = max(worst, _angle(local, expected))
    assert worst < 1.0


def test_joint_positions_match_forward_kinematics(imported):
    clip, res = imported
    for i, (rots, root) in enumerate(clip):
        _, pos = _fk(rots, root)
        for b, v in res["frames"][str(i + 1)].items():
            np.testing.assert_allclose(v["head"], C @ pos[b], atol=1e-3, err_msg=f"frame {i} {b}")


def test_stands_upright_and_faces_the_front_view(imported):
    _, res = imported
    rest = {b: np.array(v["head"]) for b, v in res["frames"]["1"].items()}
    # Blender is Z up: head above hips above feet
    assert rest["Head"][2] > rest["Hips"][2] + 0.3 > rest["LeftFoot"][2] + 0.3
    assert rest["Hips"][2] == pytest.approx(0.95, abs=1e-4)
    # faces -Y (toward the front view camera): toes and eyes are in front (-Y) of feet and head
    assert rest["LeftToes"][1] < rest["LeftFoot"][1] - 0.05
    assert rest["LeftEye"][1] < rest["Head"][1] - 0.05
    # the character's left is +X (the viewer's right in the front view)
    assert rest["LeftUpperArm"][0] > 0.05 and rest["RightUpperArm"][0] < -0.05
