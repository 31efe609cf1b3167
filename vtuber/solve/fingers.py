"""Hand orientation and the 15 finger bones of one hand from 21 MediaPipe hand landmarks.

Input: a ``HandLandmarks`` (the subject's own side). Its metric ``world`` points are used when
the tracker gave them (Hands, HandLandmarker); otherwise the normalised image points scaled to
pixels on every axis (``conventions.mediapipe_to_opencv_camera_scaled``, weak perspective, as
Holistic gives no hand world points). Both go through ``vtuber.conventions`` into the internal
frame; only directions are used, so the scale does not matter.

* Palm frame (``palm_rotation``): wrist (0) -> mean of the four finger knuckles (5, 9, 13, 17) is
  the hand's length axis, index knuckle (5) minus little knuckle (17) its thumb-side axis. The
  same recipe on the skeleton's rest hand gives the rest frame, so the world rotation of the
  Hand bone is ``observed @ rest.T``.
* Fingers (``solve_fingers``): each phalanx's direction (landmark j -> j + 1) is taken into its
  parent bone's frame and described by flexion and abduction (``vtuber.solve.limits``): curl
  toward the palm and spread toward the thumb at the knuckle (MCP), curl only at the PIP and DIP
  hinges (sideways bend is discarded, as a real finger cannot do it), the thumb's CMC and MCP
  with both. Angles are clamped to the joint limits and the bone gets the shortest swing to the
  clamped direction. Kalidokit's hand solver, by contrast, gives fingers one bend axis and no
  spread.

Landmark -> bone: thumb 1-2 ThumbProximal (CMC), 2-3 ThumbIntermediate, 3-4 ThumbDistal;
index 5-6-7-8, middle 9-12, ring 13-16, little 17-20 for Proximal, Intermediate, Distal.
The five fingers are solved in one batch per phalanx level (cheap: ~0.1 ms per hand).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber import conventions
from vtuber.records import HandLandmarks, Quaternion, Side
from vtuber.retarget import skeleton
from vtuber.solve import limits
from vtuber.solve.kinematics import HAND_JOINTS, cross3, quat_to_matrix_batch, swing_batch

F64 = NDArray[np.float64]

KNUCKLES = (5, 9, 13, 17)
NON_THUMB = ("Index", "Middle", "Ring", "Little")


def _prefix(side: Side) -> str:
    return "Left" if side == "left" else "Right"


def hand_points_internal(hand: HandLandmarks, image_size: tuple[int, int]) -> F64:
    """(21, 3) hand points in internal-frame axes (metric if ``hand.world``, else pixel-scaled)."""
    if hand.world is not None:
        return conventions.mediapipe_world_to_internal(hand.world)
    scaled = conventions.mediapipe_to_opencv_camera_scaled(hand.points, image_size)
    return conventions.opencv_camera_to_internal_position(scaled)


def palm_basis(points: ArrayLike) -> F64:
    """3x3 orthonormal basis (columns: length axis, thumb-side axis, their cross product) of a
    hand from its 21 points (only 0, 5, 9, 13, 17 are read)."""
    p = np.asarray(points, dtype=np.float64)
    f = 0.25 * (p[5] + p[9] + p[13] + p[17]) - p[0]
    f = f / math.sqrt(float(f @ f))
    s = p[5] - p[17]
    s = s - float(s @ f) * f
    s = s / math.sqrt(float(s @ s))
    return np.column_stack([f, s, cross3(f, s)])


def _rest_hand_points(side: Side) -> F64:
    pts = np.zeros((21, 3))
    prefix = _prefix(side)
    for finger, idx in HAND_JOINTS.items():
        pts[idx[0]] = skeleton.REST_OFFSETS[f"{prefix}{finger}Proximal"]
    return pts


_REST_PALM = {side: palm_basis(_rest_hand_points(side)) for side in ("left", "right")}


def palm_rotation(points: ArrayLike, side: Side) -> F64:
    """World rotation matrix of the Hand bone (relative to its T-pose rest) from 21 points given
    in internal-frame axes."""
    return palm_basis(points) @ _REST_PALM[side].T


def _table(side: Side) -> dict[str, F64]:
    """Per-level arrays for the batch (rows in FINGERS order): ``axes{level}`` (5, 3, 3) rows
    rest/bend/side, ``flex{level}`` and ``abd{level}`` (5, 2) limits in radians."""
    prefix = _prefix(side)
    out: dict[str, F64] = {}
    for level, phalanx in enumerate(skeleton.PHALANGES):
        axes = [limits.bone_axes(f"{prefix}{f}{phalanx}") for f in skeleton.FINGERS]
        lims = [limits.finger_limit(f, phalanx).radians() for f in skeleton.FINGERS]
        out[f"axes{level}"] = np.array([[a.rest, a.bend, a.side] for a in axes])
        out[f"flex{level}"] = np.array([lim[0] for lim in lims])
        out[f"abd{level}"] = np.array([lim[1] for lim in lims])
    return out


def _concat(*tables: dict[str, F64]) -> dict[str, F64]:
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


_TABLES: dict[tuple[Side, ...], dict[str, F64]] = {("left",): _table("left"), ("right",): _table("right")}
_TABLES[("left", "right")] = _concat(_TABLES[("left",)], _TABLES[("right",)])
_TABLES[("right", "left")] = _concat(_TABLES[("right",)], _TABLES[("left",)])
_JOINTS = np.array([HAND_JOINTS[f] for f in skeleton.FINGERS])  # (5, 4)
_NAMES = {side: [[f"{_prefix(side)}{f}{p}" for f in skeleton.FINGERS] for p in skeleton.PHALANGES]
          for side in ("left", "right")}


def solve_fingers(points: ArrayLike, hand_rotation: ArrayLike, side: Side) -> dict[str, Quaternion]:
    """Local rotations of the 15 finger bones of one hand.

    Args:
        points: (21, 3) hand landmarks in internal-frame axes (``hand_points_internal``).
        hand_rotation: 3x3 world rotation of the Hand bone (``palm_rotation``).
        side: the subject's side of this hand.
    """
    return solve_hands([(points, hand_rotation, side)])


def solve_hands(hands: Sequence[tuple[ArrayLike, ArrayLike, Side]]) -> dict[str, Quaternion]:
    """``solve_fingers`` for one or two hands in one batch: (points, hand_rotation, side) each."""
    if not hands:
        return {}
    sides = tuple(h[2] for h in hands)
    tab = _TABLES[sides]
    segs = []
    for points, rotation, _ in hands:
        pts = np.asarray(points, dtype=np.float64)
        local = (pts - pts[0]) @ np.asarray(rotation, dtype=np.float64)
        segs.append(local[_JOINTS[:, 1:]] - local[_JOINTS[:, :3]])  # (5 fingers, 3 levels, 3)
    seg = np.concatenate(segs) if len(segs) > 1 else segs[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        seg = seg / np.sqrt(np.einsum("nlk,nlk->nl", seg, seg))[:, :, None]
    if not np.isfinite(seg).all():  # a degenerate (zero-length) phalanx rests straight
        seg = np.nan_to_num(seg)
    parent = None
    quats = []
    for level in range(3):
        axes = tab[f"axes{level}"]
        d = seg[:, level] if parent is None else np.einsum("nji,nj->ni", parent, seg[:, level])
        proj = np.einsum("nki,ni->nk", axes, d)  # components along rest, bend, side
        lim_f, lim_a = tab[f"flex{level}"], tab[f"abd{level}"]
        flex = np.clip(np.arctan2(proj[:, 1], proj[:, 0]), lim_f[:, 0], lim_f[:, 1])
        abd = np.clip(np.arcsin(np.clip(proj[:, 2], -1.0, 1.0)), lim_a[:, 0], lim_a[:, 1])
        ca = np.cos(abd)
        coef = np.stack([ca * np.cos(flex), ca * np.sin(flex), np.sin(abd)], axis=1)
        q = swing_batch(axes[:, 0], np.einsum("nk,nki->ni", coef, axes))
        quats.append(q)
        if level < 2:
            m = quat_to_matrix_batch(q)
            parent = m if parent is None else parent @ m
    out: dict[str, Quaternion] = {}
    for h, side in enumerate(sides):
        for level, names in enumerate(_NAMES[side]):
            q = quats[level]
            for i, name in enumerate(names):
                out[name] = q[5 * h + i]
    return out


def finger_rotations(side: Side, angles_deg: Mapping[str, tuple[float, float]]) -> dict[str, Quaternion]:
    """Finger bone rotations from (flex, abd) degrees per bone suffix (e.g. ``"IndexProximal"``).

    Bones not named stay at rest. For rest poses and tests; ``limits.bone_rotation`` underneath.
    """
    prefix = _prefix(side)
    return {
        f"{prefix}{name}": limits.bone_rotation(f"{prefix}{name}", math.radians(f), math.radians(a))
        for name, (f, a) in angles_deg.items()
    }


def finger_curl(bones: Mapping[str, ArrayLike], side: Side) -> float | None:
    """Mean flexion in degrees of the 12 non-thumb finger bones present in ``bones`` (a measure
    of how closed the hand is: about 0 open and flat, 60+ a fist); None if none is present."""
    prefix = _prefix(side)
    names = [f"{prefix}{f}{p}" for f in NON_THUMB for p in skeleton.PHALANGES]
    qs = [bones[n] for n in names if n in bones]
    if not qs:
        return None
    q = np.array(qs, dtype=np.float64)
    axes = limits.bone_axes(names[0])  # the same axes for every non-thumb bone of a side
    rest = np.broadcast_to(axes.rest, (len(q), 3))
    d = np.einsum("nij,nj->ni", quat_to_matrix_batch(q), rest)
    flex = np.arctan2(d @ axes.bend, d @ axes.rest)
    return float(np.degrees(flex.mean()))
