"""Forward kinematics over the humanoid skeleton, and synthetic MediaPipe landmarks from a pose.

``forward_kinematics`` turns local bone rotations (relative to the T-pose rest, internal frame,
as in ``Rig.bones``) into world joint positions and world rotations on
``vtuber.retarget.skeleton``'s rest offsets. ``synthetic_landmarks`` then measures that posed
skeleton the way MediaPipe Holistic reports a person: 33 pose points (world metres around the
hip midpoint in MediaPipe's axes, plus normalised image points through a pinhole camera) and 21
points per hand. Tests use the pair for round trips (pose -> landmarks -> solver -> pose); the
solvers share the small batched quaternion helpers at the end.

Everything is pure numpy; rotations are unit quaternions ``(x, y, z, w)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber import conventions, geometry
from vtuber.records import HandLandmarks, Landmarks, PoseLandmarks, Side
from vtuber.retarget import skeleton

F64 = NDArray[np.float64]

# MediaPipe hand landmark index of each finger bone's joint (the tip is the 4th point).
HAND_JOINTS: Mapping[str, tuple[int, int, int, int]] = {
    "Thumb": (1, 2, 3, 4),
    "Index": (5, 6, 7, 8),
    "Middle": (9, 10, 11, 12),
    "Ring": (13, 14, 15, 16),
    "Little": (17, 18, 19, 20),
}


@dataclass(frozen=True, slots=True)
class PosedSkeleton:
    """World joint positions (metres, internal frame) and world rotations of a posed skeleton.

    Attributes:
        positions: bone name -> its joint (head) position; plus ``"<Distal bone>Tip"`` for the
            five fingertips per hand (e.g. ``"LeftIndexDistalTip"``).
        rotations: bone name -> world rotation (the product of local rotations from Hips down).
    """

    positions: Mapping[str, F64]
    rotations: Mapping[str, F64]


def forward_kinematics(
    local: Mapping[str, ArrayLike],
    *,
    offsets: Mapping[str, ArrayLike] | None = None,
    hips_position: ArrayLike | None = None,
) -> PosedSkeleton:
    """World positions and rotations of every skeleton bone for ``local`` rotations.

    Args:
        local: bone name -> local rotation relative to the T-pose rest; missing bones stay at rest.
        offsets: rest offsets (default ``skeleton.REST_OFFSETS``).
        hips_position: world position of the Hips joint (default its rest offset).
    """
    offs = skeleton.REST_OFFSETS if offsets is None else offsets
    pos: dict[str, F64] = {}
    mats: dict[str, F64] = {}
    for bone in skeleton.BONES:
        parent = skeleton.PARENTS[bone]
        q = local.get(bone)
        m = geometry.to_matrix(q) if q is not None else np.eye(3)
        if parent is None:
            pos[bone] = np.asarray(offs[bone] if hips_position is None else hips_position, dtype=np.float64)
            mats[bone] = m
        else:
            pos[bone] = pos[parent] + mats[parent] @ np.asarray(offs[bone], dtype=np.float64)
            mats[bone] = mats[parent] @ m
    for bone in skeleton.FINGER_BONES:
        if bone.endswith("Distal"):
            pos[bone + "Tip"] = pos[bone] + mats[bone] @ skeleton.finger_tip_offset(bone)
    rots = {bone: geometry.from_matrix(m) for bone, m in mats.items()}
    return PosedSkeleton(positions=pos, rotations=rots)


@dataclass(frozen=True, slots=True)
class SyntheticCamera:
    """A pinhole camera in the internal frame looking along -Z at an avatar facing +Z.

    Attributes:
        position: camera centre (metres, internal frame).
        focal_px: focal length in pixels.
        image_size: (width, height) in pixels.
    """

    position: tuple[float, float, float] = (0.0, 1.2, 2.5)
    focal_px: float = 900.0
    image_size: tuple[int, int] = (640, 480)

    def to_camera(self, points: ArrayLike) -> F64:
        """Internal-frame points -> OpenCV camera-frame points (x right, y down, z forward)."""
        rel = np.asarray(points, dtype=np.float64) - np.asarray(self.position)
        return rel @ conventions.OPENCV_TO_INTERNAL  # inverse of opencv -> internal (orthogonal)

    def project(self, points: ArrayLike, depth_origin: ArrayLike) -> F64:
        """MediaPipe-style normalised (x, y, z) of internal-frame points; z is the depth relative
        to ``depth_origin`` on the scale of x (weak perspective at the origin's depth)."""
        cam = self.to_camera(points)
        ref = self.to_camera(np.asarray(depth_origin, dtype=np.float64)[None])[0]
        w, h = self.image_size
        x = (self.focal_px * cam[:, 0] / cam[:, 2] + w / 2.0) / w
        y = (self.focal_px * cam[:, 1] / cam[:, 2] + h / 2.0) / h
        z = (cam[:, 2] - ref[2]) * self.focal_px / ref[2] / w
        return np.stack([x, y, z], axis=1)


def _in_frame(posed: PosedSkeleton, bone: str, offset: tuple[float, float, float]) -> F64:
    return posed.positions[bone] + geometry.rotate(posed.rotations[bone], offset)


def pose_points(posed: PosedSkeleton) -> F64:
    """(33, 3) internal-frame positions of MediaPipe's BlazePose landmarks on a posed skeleton.

    Arm, hip and leg points sit on the corresponding joints (11 = the LEFT shoulder = the
    LeftUpperArm joint); face and foot points are rough offsets (solvers do not use them).
    """
    p = posed.positions
    out = np.zeros((33, 3))
    out[0] = _in_frame(posed, "Head", (0.0, 0.06, 0.1))
    for i, side, sx in ((1, "Left", 1.0), (4, "Right", -1.0)):  # eye inner, eye, eye outer
        for j, dx in enumerate((0.012, 0.032, 0.05)):
            out[i + j] = _in_frame(posed, "Head", (sx * dx, 0.07, 0.08))
    out[7] = _in_frame(posed, "Head", (0.075, 0.05, 0.0))
    out[8] = _in_frame(posed, "Head", (-0.075, 0.05, 0.0))
    out[9] = _in_frame(posed, "Head", (0.025, 0.01, 0.09))
    out[10] = _in_frame(posed, "Head", (-0.025, 0.01, 0.09))
    for base, side in ((11, "Left"), (12, "Right")):
        out[base] = p[f"{side}UpperArm"]
        out[base + 2] = p[f"{side}LowerArm"]
        out[base + 4] = p[f"{side}Hand"]
        out[base + 6] = p[f"{side}LittleProximal"]
        out[base + 8] = p[f"{side}IndexProximal"]
        out[base + 10] = p[f"{side}ThumbIntermediate"]
        out[base + 12] = p[f"{side}UpperLeg"]
        out[base + 14] = p[f"{side}LowerLeg"]
        out[base + 16] = p[f"{side}Foot"]
        out[base + 18] = _in_frame(posed, f"{side}Foot", (0.0, -0.06, -0.05))
        out[base + 20] = _in_frame(posed, f"{side}Toes", (0.0, 0.0, 0.05))
    return out


def hand_points(posed: PosedSkeleton, side: Side) -> F64:
    """(21, 3) internal-frame positions of MediaPipe's hand landmarks on one posed hand."""
    s = "Left" if side == "left" else "Right"
    out = np.zeros((21, 3))
    out[0] = posed.positions[f"{s}Hand"]
    for finger, idx in HAND_JOINTS.items():
        for i, phalanx in zip(idx[:3], skeleton.PHALANGES):
            out[i] = posed.positions[f"{s}{finger}{phalanx}"]
        out[idx[3]] = posed.positions[f"{s}{finger}DistalTip"]
    return out


def internal_to_mediapipe_world(points: ArrayLike) -> F64:
    """Inverse of ``conventions.mediapipe_world_to_internal`` (an orthogonal axis change)."""
    return np.asarray(points, dtype=np.float64) @ conventions.OPENCV_TO_INTERNAL


def synthetic_landmarks(
    local: Mapping[str, ArrayLike],
    *,
    camera: SyntheticCamera = SyntheticCamera(),
    t: float = 0.0,
    index: int = 0,
    hand_world: bool = False,
    hands: tuple[Side, ...] = ("left", "right"),
    visibility: float = 1.0,
) -> Landmarks:
    """MediaPipe Holistic-style landmarks of the skeleton posed by ``local`` rotations.

    Args:
        local: bone name -> local rotation (as ``forward_kinematics``).
        camera: the camera the image points are projected through.
        t, index: stamped on the record.
        hand_world: also fill ``HandLandmarks.world`` (metres around the hand's centre, MediaPipe
            axes), as the Hands solution / HandLandmarker do; Holistic leaves it None.
        hands: which hands are "tracked".
        visibility: every pose point's visibility.
    """
    posed = forward_kinematics(local)
    body = pose_points(posed)
    hip_mid = 0.5 * (body[23] + body[24])
    pose = PoseLandmarks(
        points=camera.project(body, hip_mid).astype(np.float32),
        world=internal_to_mediapipe_world(body - hip_mid).astype(np.float32),
        visibility=np.full(33, visibility, dtype=np.float32),
    )
    found: dict[str, HandLandmarks] = {}
    for side in hands:
        pts = hand_points(posed, side)
        world = internal_to_mediapipe_world(pts - pts.mean(axis=0)).astype(np.float32) if hand_world else None
        found[side] = HandLandmarks(side, camera.project(pts, pts[0]).astype(np.float32), world)
    return Landmarks(t=t, index=index, image_size=camera.image_size, pose=pose,
                     left_hand=found.get("left"), right_hand=found.get("right"))


# ---------------------------------------------------------------------------------------------
# Batched quaternion helpers (rows are (x, y, z, w)), shared by the solvers
# ---------------------------------------------------------------------------------------------


_LEVI_CIVITA = np.zeros((3, 3, 3))
_LEVI_CIVITA[0, 1, 2] = _LEVI_CIVITA[1, 2, 0] = _LEVI_CIVITA[2, 0, 1] = 1.0
_LEVI_CIVITA[0, 2, 1] = _LEVI_CIVITA[2, 1, 0] = _LEVI_CIVITA[1, 0, 2] = -1.0
_EYE = np.eye(3)


def quat_to_matrix_batch(q: F64) -> F64:
    """(N, 4) unit quaternions -> (N, 3, 3) rotation matrices:
    ``(w^2 - v.v) I + 2 v v^T + 2 w [v]x``."""
    v = q[:, :3]
    w = q[:, 3]
    skew = np.einsum("ijk,nk->nij", _LEVI_CIVITA, v)  # this is -[v]x
    scale = (w * w - np.einsum("ni,ni->n", v, v))[:, None, None]
    return scale * _EYE + 2.0 * v[:, :, None] * v[:, None, :] - 2.0 * w[:, None, None] * skew


def cross_batch(a: F64, b: F64) -> F64:
    """Row-wise cross products of (N, 3) arrays (``np.cross`` costs ~4x more on small arrays)."""
    return np.einsum("ijk,nj,nk->ni", _LEVI_CIVITA, a, b)


# Single-vector helpers on plain floats (numpy's generic versions cost several microseconds).


def unit3(v: F64) -> F64 | None:
    """``v`` normalised, or None when it has no length (or is not finite)."""
    n = math.sqrt(float(v @ v))
    return v / n if n > 1e-9 and math.isfinite(n) else None


def cross3(a: F64, b: F64) -> F64:
    """Cross product of two 3-vectors."""
    a0, a1, a2 = float(a[0]), float(a[1]), float(a[2])
    b0, b1, b2 = float(b[0]), float(b[1]), float(b[2])
    return np.array([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])


def axis_angle_matrix(axis: F64, angle: float) -> F64:
    """Rotation matrix of ``angle`` radians about unit ``axis`` (Rodrigues)."""
    x, y, z = float(axis[0]), float(axis[1]), float(axis[2])
    c, s = math.cos(angle), math.sin(angle)
    t = 1.0 - c
    return np.array(
        [
            [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
            [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
            [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
        ]
    )


def swing_matrix(a: F64, b: F64) -> F64:
    """Shortest rotation (matrix) turning unit ``a`` onto unit ``b``."""
    c = float(a @ b)
    if c < -0.999999:
        return geometry.to_matrix(geometry.rotation_between(a, b))
    v = cross3(a, b)
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return _EYE + k + (k @ k) / (1.0 + c)


def swing_batch(r: F64, d: F64) -> F64:
    """(N, 4) shortest rotations turning unit directions ``r`` (N, 3) onto unit ``d`` (N, 3)."""
    q = np.empty((len(r), 4))
    q[:, :3] = cross_batch(r, d)
    q[:, 3] = 1.0 + np.einsum("ij,ij->i", r, d)
    bad = q[:, 3] < 1e-9  # opposite directions: a half turn about any perpendicular axis
    if bad.any():
        for i in np.flatnonzero(bad):
            q[i] = geometry.rotation_between(r[i], d[i])
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def multiply_batch(a: F64, b: F64) -> F64:
    """Row-wise Hamilton products ``a * b`` of (N, 4) quaternions."""
    ax, ay, az, aw = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
    bx, by, bz, bw = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=1,
    )


def axis_angle_batch(axis: F64, angle: F64) -> F64:
    """(N, 4) rotations of ``angle`` (N,) radians about unit ``axis`` (N, 3)."""
    half = 0.5 * np.asarray(angle, dtype=np.float64)
    return np.concatenate([axis * np.sin(half)[:, None], np.cos(half)[:, None]], axis=1)
