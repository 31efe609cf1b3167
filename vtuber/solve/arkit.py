"""ARKit-52 blendshapes: the face in its own frame, geometric estimates, and per-shape curves.

Three pieces:

* ``align_face``: the 478 landmarks back-projected with the PnP head pose (or, without one,
  fitted by a weighted similarity on the 33 rigid landmarks) and expressed in the canonical frame: centimetres of an average adult face, x to the
  subject's left, y up, z out of the face, with the head rotation, position and face size removed.
  Every geometric measure (lids, brows, lips, iris) is taken there, so it is independent of head
  rotation as far as MediaPipe's depth estimate is consistent, and of the distance to the camera.
* ``face_features``: the raw measurements (centimetres or ratios) the solvers use, and
  ``NEUTRAL_FEATURES``: their values on the canonical face itself, the default "neutral" until a
  neutral calibration measures the user's (``vtuber.solve.calibration``).
* ``ShapeCurve`` / ``TASKS_CURVES``: gain, offset and exponent per channel applied to MediaPipe's
  learned blendshapes, so weak channels (eyeWide, cheekPuff, noseSneer, eyeSquint...) reach 1.0.

``geometric_shapes`` gives the ARKit names landmarks can support. Not supported from landmarks:
``tongueOut`` (no tongue landmarks) and ``cheekPuff`` only coarsely (face-contour width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import numpy as np
from numpy.typing import NDArray

from vtuber.conventions import OPENCV_TO_INTERNAL, internal_head_to_opencv_pose, mediapipe_to_opencv_camera_scaled
from vtuber.records import HeadPose
from vtuber.solve.brows import add_brows
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.eyes import EYE_ROWS
from vtuber.solve.face_model import canonical_face
from vtuber.solve.mouth import add_mouth_shapes
from vtuber.solve.weights import unit_weight

F64 = NDArray[np.float64]

ARKIT_52: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawRight", "jawLeft", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)  # fmt: skip
"""The 52 ARKit blendshape names in Apple's order (anchors.md section 5)."""


# ---------------------------------------------------------------------------------------------
# The face in the canonical frame
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _rigid() -> tuple[NDArray[np.int32], F64, F64]:
    model = canonical_face()
    w = model.rigid_weights / model.rigid_weights.sum()
    target = model.vertices_cm[model.rigid_ids]
    return model.rigid_ids, w, target - w @ target


@lru_cache(maxsize=1)
def _model_points() -> F64:
    """(478, 3) canonical positions of all landmarks: the mesh plus each iris at the middle of its
    eye's lid margins (the iris sits about in the plane of the lid margins)."""
    v = canonical_face().vertices_cm
    right = v[[159, 145]].mean(axis=0)
    left = v[[386, 374]].mean(axis=0)
    out = np.vstack([v, np.repeat(right[None], 5, axis=0), np.repeat(left[None], 5, axis=0)])
    out.setflags(write=False)
    return out


def align_face(
    points: NDArray[np.floating],
    image_size: tuple[int, int],
    head: HeadPose | None = None,
    camera: CameraIntrinsics | None = None,
) -> F64:
    """(N, 3) MediaPipe points -> (N, 3) the same points in the canonical face frame (cm).

    With the PnP ``head`` pose (camera-relative, as ``solve_head`` returns it) and its ``camera``:
    each landmark's camera ray (undistorted when the camera has lens distortion) is intersected with the plane, fixed in the head, at its canonical
    vertex's depth (true perspective; MediaPipe's own z is not used), in the head's frame. Without
    them: a weighted similarity fit (Umeyama) of the pixel-scaled landmarks, MediaPipe z included,
    onto the canonical face's 33 rigid points (weak perspective, less exact).
    """
    n = min(len(points), 478)
    if head is not None and camera is not None:
        r, t = internal_head_to_opencv_pose(head.rotation, head.position)
        return _align_posed(np.asarray(points)[:n], _model_points()[:n, 2], image_size, r, t, camera)
    p = mediapipe_to_opencv_camera_scaled(points, image_size) @ OPENCV_TO_INTERNAL  # internal axes
    ids, wts, target = _rigid()
    src = p[ids]
    mu = wts @ src
    a = src - mu
    cov = (a * wts[:, None]).T @ target  # sum w a_i b_i^T
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    dm = np.array([1.0, 1.0, d])
    rot = (u * dm) @ vt  # observed -> canonical, for row vectors
    var = float(wts @ np.sum(a * a, axis=1))
    scale = float((s * dm).sum()) / max(var, 1e-12)
    return (p - mu) @ rot * scale + (wts @ canonical_face().vertices_cm[ids])


def _align_posed(
    points: NDArray[np.floating],
    model_depth: F64,
    image_size: tuple[int, int],
    rotation: F64,
    tvec: F64,
    camera: CameraIntrinsics,
) -> F64:
    """``align_face``'s pose path for landmark rows ``points`` (K, 3) whose canonical vertices
    lie at depths ``model_depth`` (K,) cm, with the head pose as OpenCV's (3x3 model -> camera
    rotation, tvec cm: ``conventions.internal_head_to_opencv_pose``). Each row is aligned on its
    own, so aligning a subset of the rows gives the same numbers as aligning all of them."""
    cam = camera.scaled_to(*image_size)
    rays = np.empty((len(points), 3))
    # pixels (float32 * float64 array: the cast inside the multiply), then the same (undistorted)
    # rays solve_head fits
    if any(cam.distortion):
        rays[:, :2] = cam.normalised(points[:, :2] * np.array(image_size, dtype=np.float64))
    else:  # the pinhole inverse, (x * width - cx) / fx and likewise y, as broadcast operations
        size, centre, focal = _pinhole2(image_size, cam.cx, cam.cy, cam.fx, cam.fy)
        xy = points[:, :2] * size
        xy -= centre
        xy /= focal
        rays[:, :2] = xy
    rays[:, 2] = 1.0
    # each ray meets the plane (in the head's frame) at its canonical vertex's depth
    axis_z = rotation[:, 2]
    denom = rays @ axis_z
    if not np.maximum.reduce(denom) < -1e-3:  # usual: every ray meets the face's plane from the front
        small = np.abs(denom) < 1e-3
        if small.any():
            denom[small] = np.copysign(1e-3, denom[small])
    lam = (model_depth + float(tvec @ axis_z)) / denom
    rays *= lam[:, None]
    rays -= tvec
    return rays @ rotation


@lru_cache(maxsize=8)
def _pinhole2(image_size: tuple[int, int], cx: float, cy: float, fx: float, fy: float) -> tuple[F64, F64, F64]:
    """``(width, height)``, ``(cx, cy)`` and ``(fx, fy)`` as arrays (read-only): normalised image
    points times the first, minus the second, over the third are pinhole rays' x and y."""
    out = np.array(image_size, dtype=np.float64), np.array((cx, cy)), np.array((fx, fy))
    for a in out:
        a.setflags(write=False)
    return out


# ---------------------------------------------------------------------------------------------
# Raw features (cm in the canonical frame, or ratios)
# ---------------------------------------------------------------------------------------------

# Landmarks (subject's sides). Brows: inner (near the nose), middle, outer.
BROW_INNER = {"right": (107, 55), "left": (336, 285)}
BROW_MID = {"right": (66, 105), "left": (296, 334)}
BROW_OUTER = {"right": (70, 63), "left": (300, 293)}
EYE_CORNERS = {"right": (33, 133), "left": (263, 362)}
LOWER_LID = {"right": (145, 144, 153), "left": (374, 373, 380)}
UPPER_LID = {"right": (159, 160, 158), "left": (386, 387, 385)}
CHEEK = {"right": (205, 50), "left": (425, 280)}
NOSE_WING = {"right": (129, 64), "left": (358, 294)}
UPPER_LIP_SIDE = {"right": (40, 39), "left": (270, 269)}
LOWER_LIP_SIDE = {"right": (91, 181), "left": (321, 405)}
FACE_SIDE = {"right": (234, 93), "left": (454, 323)}
MOUTH_CORNER = {"right": 61, "left": 291}
IRIS_CENTRE = {"right": 468, "left": 473}


def _feature_tables() -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    """Constant tables of ``face_features`` (built once at import): the feature names in output
    order (without / with iris), and the landmark rows gathered per frame (without / with iris).
    The gathered rows are, per side (left then right): brow inner, mid, outer pairs, cheek, nose
    wing, upper lip side, lower lip side, eye corners (outer, inner), lower lid (3), mouth corner,
    face side pair; then 0, 13, 14, 17, 61, 291, 152; then, with iris, each side's iris centre."""
    sides = ("left", "right")
    per_side = ("brow_inner", "brow_mid", "brow_outer", "brow_inner_x", "lower_lid", "cheek", "nose_wing",
                "corner_y", "corner_x", "corner_z", "upper_lip", "lower_lip", "face_side")  # fmt: skip
    tail = ("lip_gap", "mouth_width", "mouth_x", "lip_z", "upper_lip_thickness", "lower_lip_thickness", "chin_y", "chin_x", "chin_z", "lower_lip_y")
    names: list[str] = []
    iris_names: list[str] = []
    rows: list[int] = []
    for side in sides:
        s = "L" if side == "left" else "R"
        names += [f"{k}_{s}" for k in per_side]
        iris_names += [f"{k}_{s}" for k in per_side + ("iris_x", "iris_y")]
        for pair in (BROW_INNER, BROW_MID, BROW_OUTER, CHEEK, NOSE_WING, UPPER_LIP_SIDE, LOWER_LIP_SIDE, EYE_CORNERS):
            rows += pair[side]
        rows += LOWER_LID[side]
        rows.append(MOUTH_CORNER[side])
        rows += FACE_SIDE[side]
    rows += (0, 13, 14, 17, 61, 291, 152)
    iris_rows = rows + [IRIS_CENTRE["left"], IRIS_CENTRE["right"]]
    return tuple(names) + tail, tuple(iris_names) + tail, tuple(rows), tuple(iris_rows)


_NAMES, _IRIS_NAMES, _ROWS, _IRIS_ROWS = _feature_tables()
_SIDE_ROWS = 22  # gathered rows per side (see ``_feature_tables``)


def face_features(a: F64) -> dict[str, float]:
    """Raw measures on aligned points ``a`` (``align_face``; 468 or 478 rows)."""
    # One gather of the landmarks every measure uses (constant table), then float arithmetic.
    iris = len(a) >= 478
    return _features(a[list(_IRIS_ROWS if iris else _ROWS)].tolist(), iris)


@lru_cache(maxsize=2)
def _posed_rows(iris: bool) -> tuple[NDArray[np.intp], F64]:
    """``measure_posed``'s rows (``face_features``' table, then ``eyes.EYE_ROWS`` left and
    right) and their canonical vertices' depths (cm); read-only."""
    rows = np.array(list(_IRIS_ROWS if iris else _ROWS) + list(EYE_ROWS["left"]) + list(EYE_ROWS["right"]), dtype=np.intp)
    depth = _model_points()[rows, 2]
    for a in (rows, depth):
        a.setflags(write=False)
    return rows, depth


def measure_posed(
    points: NDArray[np.floating], image_size: tuple[int, int], rotation: F64, tvec: F64, camera: CameraIntrinsics
) -> tuple[dict[str, float], list[list[float]], list[list[float]]]:
    """``face_features(align_face(points, image_size, head, camera))`` and the aligned rows of
    each eye (``eyes.EYE_ROWS``, left then right), the head pose given as OpenCV's (rotation,
    tvec cm) (``conventions.internal_head_to_opencv_pose(head.rotation, head.position)``).
    Only the ~60 rows these measures read are aligned: the same numbers at an eighth of the work."""
    iris = len(points) >= 478
    rows, depth = _posed_rows(iris)
    g = _align_posed(points.take(rows, axis=0), depth, image_size, rotation, tvec, camera).tolist()  # take: points[rows], faster
    k = len(rows) - 16
    return _features(g, iris), g[k : k + 8], g[k + 8 :]


def _features(g: list[list[float]], iris: bool) -> dict[str, float]:
    """``face_features`` of the aligned rows ``g`` gathered by its table (``_feature_tables``)."""
    p0, p13, p14, p17, p61, p291, p152 = g[2 * _SIDE_ROWS : 2 * _SIDE_ROWS + 7]
    lips_mid_y = 0.5 * (p13[1] + p14[1])
    lips_mid_x = 0.5 * (p13[0] + p14[0])
    chin_y = p152[1]
    values: list[float] = []
    for k in (0, 1):  # left, right
        r = g[k * _SIDE_ROWS : (k + 1) * _SIDE_ROWS]
        (bi0, bi1, bm0, bm1, bo0, bo1, ch0, ch1, nw0, nw1, ul0, ul1, ll0, ll1, o, i,
         ld0, ld1, ld2, c, fs0, fs1) = r  # fmt: skip
        eye_y = 0.5 * (o[1] + i[1])
        values += [
            (bi0[1] + bi1[1]) / 2.0 - eye_y,
            (bm0[1] + bm1[1]) / 2.0 - eye_y,
            (bo0[1] + bo1[1]) / 2.0 - eye_y,
            abs(bi0[0]),  # brows drawn together (browDown pulls the inner brows toward the midline)
            (ld0[1] + ld1[1] + ld2[1]) / 3.0 - eye_y,
            (ch0[1] + ch1[1]) / 2.0,
            (nw0[1] + nw1[1]) / 2.0,
            c[1] - lips_mid_y,
            abs(c[0] - lips_mid_x),
            c[2],
            (ul0[1] + ul1[1]) / 2.0,
            (ll0[1] + ll1[1]) / 2.0 - chin_y,
            (abs(fs0[0]) + abs(fs1[0])) / 2.0,
        ]
        if iris:
            ic = g[2 * _SIDE_ROWS + 7 + k]
            width = math.hypot(o[0] - i[0], o[1] - i[1])
            values.append((ic[0] - 0.5 * (o[0] + i[0])) / width)
            values.append((ic[1] - 0.5 * (o[1] + i[1])) / width)
    values += [
        math.dist(p13, p14),
        math.dist(p61, p291),
        0.5 * (p61[0] + p291[0]),
        0.5 * (p0[2] + p17[2]),
        math.dist(p0, p13),
        math.dist(p14, p17),
        chin_y,
        p152[0],
        p152[2],
        p17[1],
    ]
    return dict(zip(_IRIS_NAMES if iris else _NAMES, values))


MOUTH_FEATURES: frozenset[str] = frozenset(
    {"lip_gap", "mouth_width", "mouth_x", "lip_z", "upper_lip_thickness", "lower_lip_thickness", "lower_lip_y"}
    | {f"{k}_{s}" for k in ("corner_y", "corner_x", "corner_z", "upper_lip", "lower_lip") for s in ("L", "R")}
)
"""The ``face_features`` that measure the lips (what vowels and the mouth shapes read)."""


def fuse_mouth(features: dict[str, float], other: Mapping[str, float]) -> dict[str, float]:
    """``features`` with each lip measure averaged with ``other``'s (the same face measured on a
    second tracker's points). MediaPipe's two face models misread mouths in opposite directions
    (on renders of known vowels the Tasks model reads openings ~1.0-1.25x, Face Mesh reads small
    ones smaller), so their mean is the steadier measure; eyes and brows keep ``features``."""
    for name in MOUTH_FEATURES:
        if name in other:
            features[name] = 0.5 * (features[name] + other[name])
    return features


@lru_cache(maxsize=1)
def _neutral() -> Mapping[str, float]:
    v = canonical_face().vertices_cm
    a = np.vstack([v, np.zeros((10, 3))])
    f = face_features(a)
    for s in ("L", "R"):  # the canonical mesh has no iris: the iris centred between the corners
        f[f"iris_x_{s}"] = 0.0
        f[f"iris_y_{s}"] = 0.0
    return f


def neutral_features() -> dict[str, float]:
    """``face_features`` of the canonical face: the default neutral."""
    return dict(_neutral())


# ---------------------------------------------------------------------------------------------
# Geometric ARKit estimates
# ---------------------------------------------------------------------------------------------

# Feature change (cm in the canonical frame, or as noted) that maps to weight 1. From the range of
# motion on the canonical face's scale (an adult face): brows rise ~0.6 cm, corners ~0.6 cm.
RANGE_CM = {
    "lower_lid_up": 0.15,
    "cheek_up": 0.35,
    "nose_up": 0.2,
    "cheek_out": 0.35,
}


def geometric_shapes(f: Mapping[str, float], n: Mapping[str, float], open_weight: float) -> dict[str, float]:
    """ARKit weights from features ``f`` relative to the neutral ``n``: brows
    (``vtuber.solve.brows``), the mouth beyond jawOpen (``vtuber.solve.mouth``), lids, cheeks and
    nose. ``open_weight`` is the solved jawOpen, used to separate shapes an open jaw also moves."""
    r = RANGE_CM
    out: dict[str, float] = {}
    add_brows(out, f, n)
    add_mouth_shapes(out, f, n, open_weight)
    lid_up, cheek_up, nose_up = r["lower_lid_up"], r["cheek_up"], r["nose_up"]
    cheek_out = 0.0
    for squint, cheek_squint, sneer, lid, cheek, wing, side in _GEOMETRIC_SIDES:
        out[squint] = unit_weight((f[lid] - n[lid]) / lid_up)
        out[cheek_squint] = unit_weight((f[cheek] - n[cheek]) / cheek_up)
        out[sneer] = unit_weight((f[wing] - n[wing]) / nose_up)
        cheek_out += f[side] - n[side]
    out["cheekPuff"] = unit_weight(0.5 * cheek_out / r["cheek_out"])
    return out


_GEOMETRIC_SIDES = tuple(
    (f"eyeSquint{side}", f"cheekSquint{side}", f"noseSneer{side}", f"lower_lid_{s}", f"cheek_{s}", f"nose_wing_{s}", f"face_side_{s}")
    for side, s in (("Left", "L"), ("Right", "R"))
)
"""Per side (left, right): ``geometric_shapes``' output names, then its feature names (built once)."""


# ---------------------------------------------------------------------------------------------
# Per-shape gain / curve for MediaPipe's learned blendshapes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShapeCurve:
    """``weight = clamp((gain * (value - offset)) ** exponent, 0, 1)``.

    ``offset`` removes a channel's resting level (a neutral calibration measures it per user),
    ``gain`` lets weak channels reach 1.0, ``exponent`` < 1 lifts small values.
    """

    gain: float = 1.0
    offset: float = 0.0
    exponent: float = 1.0

    def __post_init__(self) -> None:
        if not (self.gain >= 0.0 and self.exponent > 0.0 and 0.0 <= self.offset < 1.0):
            raise ValueError(f"ShapeCurve needs gain >= 0, exponent > 0, 0 <= offset < 1, got {self}")

    def apply(self, value: float) -> float:
        x = self.gain * (value - self.offset)
        if x <= 0.0:
            return 0.0
        if x >= 1.0:
            return 1.0
        return x if self.exponent == 1.0 else float(x**self.exponent)


# Gains for MediaPipe FaceLandmarker (v2 blendshapes) channels that never approach 1.0. Measured
# on ../shared/media (d10 wide eyes and raised brows, d14 pouts, MEAD emotions, d18 smiles): the
# gain is about 1 / the channel's 99th percentile on clips where the expression is clearly made.
TASKS_CURVES: Mapping[str, ShapeCurve] = {
    "eyeWideLeft": ShapeCurve(gain=4.0, exponent=0.8),
    "eyeWideRight": ShapeCurve(gain=4.0, exponent=0.8),
    "eyeSquintLeft": ShapeCurve(gain=1.8),
    "eyeSquintRight": ShapeCurve(gain=1.8),
    "cheekPuff": ShapeCurve(gain=8.0, exponent=0.8),
    "cheekSquintLeft": ShapeCurve(gain=2.5),
    "cheekSquintRight": ShapeCurve(gain=2.5),
    "noseSneerLeft": ShapeCurve(gain=5.0, exponent=0.8),
    "noseSneerRight": ShapeCurve(gain=5.0, exponent=0.8),
    "browOuterUpLeft": ShapeCurve(gain=1.6),
    "browOuterUpRight": ShapeCurve(gain=1.6),
    "browInnerUp": ShapeCurve(gain=1.4),
    "browDownLeft": ShapeCurve(gain=1.6),
    "browDownRight": ShapeCurve(gain=1.6),
    "mouthPressLeft": ShapeCurve(gain=1.5),
    "mouthPressRight": ShapeCurve(gain=1.5),
    "mouthStretchLeft": ShapeCurve(gain=2.0),
    "mouthStretchRight": ShapeCurve(gain=2.0),
    "mouthDimpleLeft": ShapeCurve(gain=2.0),
    "mouthDimpleRight": ShapeCurve(gain=2.0),
    "mouthUpperUpLeft": ShapeCurve(gain=1.5),
    "mouthUpperUpRight": ShapeCurve(gain=1.5),
    "mouthLowerDownLeft": ShapeCurve(gain=1.5),
    "mouthLowerDownRight": ShapeCurve(gain=1.5),
    "mouthLeft": ShapeCurve(gain=2.0),
    "mouthRight": ShapeCurve(gain=2.0),
    "jawLeft": ShapeCurve(gain=3.0),
    "jawRight": ShapeCurve(gain=3.0),
    "jawForward": ShapeCurve(gain=3.0),
    "mouthShrugUpper": ShapeCurve(gain=1.5),
    "mouthShrugLower": ShapeCurve(gain=1.5),
}


def apply_curves(
    shapes: Mapping[str, float], curves: Mapping[str, ShapeCurve] = TASKS_CURVES, offsets: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Each channel through its curve (identity when it has none); ``offsets`` (a user's neutral
    level per channel, from calibration) replace the curves' own offsets."""
    out: dict[str, float] = {}
    get = curves.get
    for name, value in shapes.items():
        curve = get(name, _IDENTITY_CURVE)
        if offsets is not None:
            off = offsets.get(name, curve.offset)
            if off != curve.offset:
                curve = ShapeCurve(curve.gain / max(1e-6, 1.0 - off) if off > curve.offset else curve.gain, min(off, 0.95), curve.exponent)
        # ShapeCurve.apply written out: the method call was a third of this per-channel loop
        x = curve.gain * (float(value) - curve.offset)
        out[name] = 0.0 if x <= 0.0 else (1.0 if x >= 1.0 else (x if curve.exponent == 1.0 else float(x**curve.exponent)))
    return out


_IDENTITY_CURVE = ShapeCurve()
