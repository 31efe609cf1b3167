"""Make the project's default avatar: a small, friendly VRM 1.0 humanoid, built by code.

The file is a glTF 2.0 binary (``.vrm``) with the ``VRMC_vrm`` 1.0 extension, written with numpy,
json and struct only:

* a skeleton of all 55 Unity ``HumanBodyBones`` (VRM 1.0 names; thumbs map Proximal/Intermediate/
  Distal -> Metacarpal/Proximal/Distal), rest pose = ``vtuber.retarget.skeleton.REST_OFFSETS``
  (T-pose, identity rest rotations, glTF/VRM 1.0 frame: +X the avatar's left, +Y up, +Z forward);
* a skinned body mesh (head, hair, neck, torso, arms, hands with five three-segment fingers, legs,
  shoes) and a skinned face mesh whose morph targets drive the expressions: eyes that blink (each
  side) and look, a mouth that forms aa/ih/ou/ee/oh, brows and mouth for happy/angry/sad/relaxed/
  surprised, plus lookUp/Down/Left/Right;
* lookAt of type ``bone`` (the irises are skinned to LeftEye/RightEye);
* meta with licence fields (the avatar itself is CC0-like: anyone may use, modify and redistribute).

Usage::

    python avatars/make_default_avatar.py OUT.vrm

``build_default_avatar() -> bytes`` is what the page server uses (generated once per process and
cached; it takes well under a second).
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

try:  # the package is importable when installed or when run from the repository root
    from vtuber.retarget.skeleton import BONES, PARENTS, REST_OFFSETS, finger_tip_offset
except ImportError:  # pragma: no cover - running the script directly from avatars/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from vtuber.retarget.skeleton import BONES, PARENTS, REST_OFFSETS, finger_tip_offset

# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

_THUMB_VRM1 = {"Proximal": "Metacarpal", "Intermediate": "Proximal", "Distal": "Distal"}


def vrm1_bone_name(unity_name: str) -> str:
    """Unity HumanBodyBones name -> VRM 1.0 humanoid bone name (``LeftThumbProximal`` ->
    ``leftThumbMetacarpal``, ``LeftUpperArm`` -> ``leftUpperArm``)."""
    name = unity_name
    if "Thumb" in name:
        for unity, vrm in _THUMB_VRM1.items():
            if name.endswith(unity):
                name = name[: -len(unity)] + vrm
                break
    return name[0].lower() + name[1:]


EXPRESSIONS = (
    "happy", "angry", "sad", "relaxed", "surprised",
    "aa", "ih", "ou", "ee", "oh",
    "blink", "blinkLeft", "blinkRight",
    "lookUp", "lookDown", "lookLeft", "lookRight",
    "neutral",
)  # fmt: skip
"""Every VRM 1.0 preset expression; the default avatar has all of them."""

# Morph targets of the face mesh, in order. ``blink`` binds blinkLeft + blinkRight.
TARGETS = (
    "aa", "ih", "ou", "ee", "oh", "blinkLeft", "blinkRight",
    "happy", "angry", "sad", "relaxed", "surprised",
    "lookUp", "lookDown", "lookLeft", "lookRight",
)  # fmt: skip
_T = {name: i for i, name in enumerate(TARGETS)}

# ---------------------------------------------------------------------------------------------
# Look: colours (linear RGB, glTF baseColorFactor) and face layout (metres, internal frame)
# ---------------------------------------------------------------------------------------------

MATERIALS: dict[str, dict] = {
    "skin": {"color": (1.0, 0.74, 0.6), "unlit": False},
    "hair": {"color": (0.16, 0.09, 0.30), "unlit": False},
    "shirt": {"color": (0.95, 0.38, 0.33), "unlit": False},
    "collar": {"color": (0.97, 0.95, 0.9), "unlit": False},
    "pants": {"color": (0.07, 0.09, 0.2), "unlit": False},
    "shoes": {"color": (0.9, 0.88, 0.86), "unlit": False},
    "eye_white": {"color": (1.0, 1.0, 1.0), "unlit": True},
    "iris": {"color": (1.0, 1.0, 1.0), "unlit": True},  # times the vertex colours
    "pupil": {"color": (0.01, 0.01, 0.06), "unlit": True},
    "highlight": {"color": (1.0, 1.0, 1.0), "unlit": True},
    "lash": {"color": (0.04, 0.02, 0.05), "unlit": True},
    "brow": {"color": (0.09, 0.05, 0.16), "unlit": True},
    "mouth": {"color": (0.38, 0.04, 0.07), "unlit": True},
    "blush": {"color": (1.0, 0.5, 0.5), "unlit": True},
}

HEAD_CENTRE = np.array([0.0, 1.535, 0.006])
HEAD_RADII = np.array([0.108, 0.12, 0.112])
EYE_Y = 1.52
EYE_X = 0.032
EYE_A, EYE_B = 0.0165, 0.021  # eye-white half width / half height
IRIS_A, IRIS_B = 0.0115, 0.0155
MOUTH_Y = 1.462


# ---------------------------------------------------------------------------------------------
# Skeleton
# ---------------------------------------------------------------------------------------------


def rest_world() -> dict[str, np.ndarray]:
    """World-space rest (T-pose) position of every bone head."""
    out: dict[str, np.ndarray] = {}
    for bone in BONES:
        parent = PARENTS[bone]
        off = np.asarray(REST_OFFSETS[bone], dtype=np.float64)
        out[bone] = off.copy() if parent is None else out[parent] + off
    return out


W = rest_world()
JOINT_INDEX = {bone: i for i, bone in enumerate(BONES)}


# ---------------------------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------------------------


class Part:
    """A piece of one material: vertices, triangles, skin weights, optional colours/morphs."""

    def __init__(self, material: str, verts, tris, skin, colors=None, morphs=None):
        self.material = material
        self.verts = np.asarray(verts, dtype=np.float64)
        self.tris = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
        n = len(self.verts)
        self.joints = np.zeros((n, 4), dtype=np.int64)
        self.weights = np.zeros((n, 4), dtype=np.float64)
        if isinstance(skin, str):
            self.joints[:, 0] = JOINT_INDEX[skin]
            self.weights[:, 0] = 1.0
        else:  # a callable: (verts) -> list of (bone, weight array)
            influences = skin(self.verts)
            for k, (bone, w) in enumerate(influences[:4]):
                self.joints[:, k] = JOINT_INDEX[bone]
                self.weights[:, k] = w
            total = self.weights.sum(axis=1, keepdims=True)
            self.weights /= np.where(total > 0, total, 1.0)
        self.colors = None if colors is None else np.asarray(colors, dtype=np.float64)
        self.morphs = morphs or {}  # target name -> (n, 3) deltas


def _ring_tris(n_rings: int, n_seg: int, offset: int = 0) -> list[tuple[int, int, int]]:
    tris = []
    for r in range(n_rings - 1):
        for s in range(n_seg):
            a = offset + r * n_seg + s
            b = offset + r * n_seg + (s + 1) % n_seg
            c = offset + (r + 1) * n_seg + s
            d = offset + (r + 1) * n_seg + (s + 1) % n_seg
            tris += [(a, c, b), (b, c, d)]
    return tris


def ellipsoid(centre, radii, n_seg=32, n_ring=16):
    """A closed, seamless UV ellipsoid (poles as single vertices)."""
    centre = np.asarray(centre, dtype=np.float64)
    radii = np.asarray(radii, dtype=np.float64)
    verts = [centre + radii * np.array([0.0, -1.0, 0.0])]
    for i in range(1, n_ring):
        phi = -math.pi / 2 + math.pi * i / n_ring
        for s in range(n_seg):
            th = 2 * math.pi * s / n_seg
            d = np.array(
                [math.cos(phi) * math.sin(th), math.sin(phi), math.cos(phi) * math.cos(th)]
            )
            verts.append(centre + radii * d)
    verts.append(centre + radii * np.array([0.0, 1.0, 0.0]))
    top = len(verts) - 1
    tris = [(0, 1 + (s + 1) % n_seg, 1 + s) for s in range(n_seg)]
    tris += _ring_tris(n_ring - 1, n_seg, 1)
    last = 1 + (n_ring - 2) * n_seg
    tris += [(top, last + s, last + (s + 1) % n_seg) for s in range(n_seg)]
    return np.array(verts), np.array(tris)


def loft(points, radii, up=(0.0, 1.0, 0.0), n_seg=20, cap_rings=4):
    """A tube through ``points`` (K, 3) with elliptical sections ``radii`` (K, 2) (along the
    ``up``-derived side axis, along ``up``), closed with rounded caps."""
    points = np.asarray(points, dtype=np.float64)
    radii = np.asarray(radii, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    rings: list[np.ndarray] = []

    def frame(i):
        t = points[min(i + 1, len(points) - 1)] - points[max(i - 1, 0)]
        t /= np.linalg.norm(t)
        u = up - t * np.dot(up, t)
        if np.linalg.norm(u) < 1e-6:
            u = np.array([0.0, 0.0, 1.0]) - t * t[2]
        u /= np.linalg.norm(u)
        side = np.cross(u, t)
        return t, side, u

    def ring(c, side, u, r1, r2):
        th = 2 * math.pi * np.arange(n_seg) / n_seg
        return c + np.outer(np.cos(th) * r1, side) + np.outer(np.sin(th) * r2, u)

    for end in (0,):
        t, side, u = frame(0)
        for k in range(cap_rings, 0, -1):
            phi = math.pi / 2 * k / (cap_rings + 1)
            c = points[0] - t * min(radii[0]) * math.sin(phi)
            rings.append(ring(c, side, u, radii[0][0] * math.cos(phi), radii[0][1] * math.cos(phi)))
    for i in range(len(points)):
        t, side, u = frame(i)
        rings.append(ring(points[i], side, u, radii[i][0], radii[i][1]))
    t, side, u = frame(len(points) - 1)
    for k in range(1, cap_rings + 1):
        phi = math.pi / 2 * k / (cap_rings + 1)
        c = points[-1] + t * min(radii[-1]) * math.sin(phi)
        rings.append(ring(c, side, u, radii[-1][0] * math.cos(phi), radii[-1][1] * math.cos(phi)))
    t0 = frame(0)[0]
    t1 = frame(len(points) - 1)[0]
    verts = np.concatenate(
        rings + [(points[0] - t0 * min(radii[0]))[None], (points[-1] + t1 * min(radii[-1]))[None]]
    )
    n_r = len(rings)
    tris = _ring_tris(n_r, n_seg)
    a, b = n_r * n_seg, n_r * n_seg + 1
    tris += [(a, s, (s + 1) % n_seg) for s in range(n_seg)]
    last = (n_r - 1) * n_seg
    tris += [(b, last + (s + 1) % n_seg, last + s) for s in range(n_seg)]
    return verts, np.array(tris)


def orient_closed(verts, tris):
    """Flip the winding of a closed mesh whose signed volume is negative."""
    v = verts[tris]
    vol = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum()
    return tris if vol > 0 else tris[:, ::-1]


def orient_to(verts, tris, direction_fn):
    """Flip an open mesh so its face normals agree (on average) with ``direction_fn(centroids)``."""
    v = verts[tris]
    n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    d = direction_fn(v.mean(axis=1))
    return tris if np.einsum("ij,ij->i", n, d).sum() > 0 else tris[:, ::-1]


def vertex_normals(verts, tris):
    n = np.zeros_like(verts)
    v = verts[tris]
    fn = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    for k in range(3):
        np.add.at(n, tris[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return n / np.where(length > 0, length, 1.0)


def mirror_part(p: Part) -> Part:
    """The right-side copy of a left-side part (x negated, Left<->Right bones, winding flipped)."""
    q = Part.__new__(Part)
    q.material = p.material
    q.verts = p.verts * np.array([-1.0, 1.0, 1.0])
    q.tris = p.tris[:, ::-1].copy()
    inv = {i: b for b, i in JOINT_INDEX.items()}
    swap = np.vectorize(
        lambda i: JOINT_INDEX[inv[i].replace("Left", "Right")] if inv[i].startswith("Left") else i
    )
    q.joints = swap(p.joints)
    q.weights = p.weights.copy()
    q.colors = p.colors
    q.morphs = {}
    return q


# ---------------------------------------------------------------------------------------------
# Skin weights
# ---------------------------------------------------------------------------------------------


def chain_weights(bones: list[str], coord: int, stops: list[float], blend: float):
    """Skin along one axis: ``bones[i]`` owns [stops[i], stops[i+1]), blended linearly within
    ``blend`` of each stop. Returns a skin callable for ``Part``."""

    def skin(verts):
        x = verts[:, coord] if coord >= 0 else -verts[:, -coord - 1]
        weights = np.zeros((len(verts), len(bones)))
        for i in range(len(bones)):
            lo = stops[i] if i > 0 else -np.inf
            hi = stops[i + 1] if i + 1 < len(bones) else np.inf
            rise = np.clip((x - (lo - blend)) / (2 * blend), 0, 1) if i > 0 else 1.0
            fall = np.clip(((hi + blend) - x) / (2 * blend), 0, 1) if i + 1 < len(bones) else 1.0
            weights[:, i] = np.minimum(rise, fall)
        order = np.argsort(-weights.mean(axis=0))[:4]
        return [(bones[i], weights[:, i]) for i in order]

    return skin


# ---------------------------------------------------------------------------------------------
# Body
# ---------------------------------------------------------------------------------------------


def _head_surface_z(x, y, lift=0.0):
    """z of the head ellipsoid's front surface at (x, y), plus ``lift`` metres."""
    u = (np.asarray(x) - HEAD_CENTRE[0]) / HEAD_RADII[0]
    v = (np.asarray(y) - HEAD_CENTRE[1]) / HEAD_RADII[1]
    return HEAD_CENTRE[2] + HEAD_RADII[2] * np.sqrt(np.clip(1 - u * u - v * v, 0.0, 1.0)) + lift


def body_parts() -> list[Part]:
    parts: list[Part] = []

    # Head, nose, ears (rigid on Head)
    v, t = ellipsoid(HEAD_CENTRE, HEAD_RADII, 48, 32)
    parts.append(Part("skin", v, orient_closed(v, t), "Head"))
    nose_y = 1.49
    v, t = ellipsoid((0, nose_y, _head_surface_z(0, nose_y) - 0.004), (0.007, 0.008, 0.008), 12, 8)
    parts.append(Part("skin", v, orient_closed(v, t), "Head"))
    for sx in (1, -1):
        v, t = ellipsoid((sx * 0.106, 1.515, 0.0), (0.012, 0.022, 0.014), 12, 8)
        parts.append(Part("skin", v, orient_closed(v, t), "Head"))

    # Hair: a cap over the head with a jagged fringe, side locks and a back fall (rigid on Head)
    hc, hr = HEAD_CENTRE + np.array([0, 0.006, -0.004]), HEAD_RADII * np.array([1.08, 1.07, 1.08])
    v, t = ellipsoid(hc, hr, 64, 40)
    d = (v - hc) / hr
    cen = d[t].mean(axis=1)
    ang = np.arctan2(cen[:, 0], cen[:, 2])
    fringe = 0.42 - 0.16 * np.abs(np.sin(ang * 7.0))  # zigzag fringe line
    face_hole = (cen[:, 2] > 0.15) & (cen[:, 1] < fringe)
    side_hole = (np.abs(cen[:, 0]) > 0.45) & (cen[:, 1] < -0.05) & (cen[:, 2] > -0.1)
    under = cen[:, 1] < -0.55
    t = t[~(face_hole | side_hole | under)]
    t = orient_to(v, t, lambda c: c - hc)
    parts.append(Part("hair", v, t, "Head"))
    for sx in (1, -1):
        pts = [
            (sx * 0.104, 1.59, 0.04),
            (sx * 0.112, 1.52, 0.05),
            (sx * 0.107, 1.45, 0.045),
            (sx * 0.098, 1.39, 0.04),
        ]
        rad = [(0.012, 0.009), (0.012, 0.008), (0.01, 0.007), (0.004, 0.004)]
        v, t = loft(pts, rad, up=(0, 0, 1), n_seg=12, cap_rings=2)
        parts.append(Part("hair", v, orient_closed(v, t), "Head"))
    pts = [(0, 1.57, -0.07), (0, 1.46, -0.095), (0, 1.36, -0.09), (0, 1.28, -0.07)]
    rad = [(0.09, 0.05), (0.095, 0.04), (0.085, 0.03), (0.06, 0.015)]
    v, t = loft(pts, rad, up=(0, 0, 1), n_seg=24, cap_rings=3)
    parts.append(Part("hair", v, orient_closed(v, t), "Head"))

    # Neck
    y_n = [1.30, 1.36, 1.42, 1.47]
    v, t = loft(
        [(0, y, -0.005) for y in y_n], [(0.032, 0.032)] * 4, up=(0, 0, 1), n_seg=16, cap_rings=2
    )
    parts.append(
        Part(
            "skin",
            v,
            orient_closed(v, t),
            chain_weights(["UpperChest", "Neck", "Head"], 1, [0, W["Neck"][1], W["Head"][1]], 0.03),
        )
    )

    # Torso (shirt) and pelvis (pants), skinned along y through Hips..UpperChest
    torso_bones = ["Hips", "Spine", "Chest", "UpperChest"]
    torso_stops = [0.0] + [float(W[b][1]) for b in torso_bones[1:]]
    torso_skin = chain_weights(torso_bones, 1, torso_stops, 0.04)
    ys = [0.94, 1.0, 1.07, 1.14, 1.21, 1.27, 1.32, 1.36, 1.385]
    rs = [
        (0.12, 0.082),
        (0.104, 0.072),
        (0.092, 0.066),
        (0.096, 0.07),
        (0.106, 0.078),
        (0.108, 0.078),
        (0.104, 0.07),
        (0.085, 0.06),
        (0.05, 0.04),
    ]
    v, t = loft([(0, y, 0) for y in ys], rs, up=(0, 0, 1), n_seg=28, cap_rings=1)
    parts.append(Part("shirt", v, orient_closed(v, t), torso_skin))
    v, t = loft(
        [(0, 1.33, 0.0), (0, 1.37, 0.0)],
        [(0.05, 0.046), (0.042, 0.04)],
        up=(0, 0, 1),
        n_seg=20,
        cap_rings=1,
    )
    parts.append(Part("collar", v, orient_closed(v, t), "UpperChest"))
    ys = [0.8, 0.86, 0.92, 0.98]
    rs = [(0.1, 0.07), (0.128, 0.086), (0.13, 0.088), (0.122, 0.084)]
    v, t = loft([(0, y, 0) for y in ys], rs, up=(0, 0, 1), n_seg=28, cap_rings=2)
    parts.append(Part("pants", v, orient_closed(v, t), torso_skin))

    # Left limbs (mirrored for the right)
    left: list[Part] = []
    sh, ua, la, hand = W["LeftShoulder"], W["LeftUpperArm"], W["LeftLowerArm"], W["LeftHand"]
    y0 = ua[1]
    xs = [0.05, 0.1, 0.2, la[0], 0.47, hand[0] - 0.015]
    rs = [
        (0.036, 0.04),
        (0.038, 0.038),
        (0.033, 0.033),
        (0.029, 0.029),
        (0.028, 0.028),
        (0.026, 0.027),
    ]
    arm_skin = chain_weights(
        ["UpperChest", "LeftShoulder", "LeftUpperArm", "LeftLowerArm"],
        0,
        [0, float(sh[0]) + 0.02, float(ua[0]), float(la[0])],
        0.03,
    )
    v, t = loft([(x, y0, 0) for x in xs], rs, up=(0, 1, 0), n_seg=18, cap_rings=2)
    left.append(Part("shirt", v, orient_closed(v, t), arm_skin))
    v, t = loft(
        [(hand[0] - 0.03, y0, 0), (hand[0] + 0.005, y0, 0)],
        [(0.02, 0.022), (0.019, 0.021)],
        up=(0, 1, 0),
        n_seg=14,
        cap_rings=1,
    )
    left.append(
        Part(
            "skin",
            v,
            orient_closed(v, t),
            chain_weights(["LeftLowerArm", "LeftHand"], 0, [0, float(hand[0])], 0.01),
        )
    )
    # palm
    v, t = ellipsoid(hand + np.array([0.045, -0.002, 0.0]), (0.05, 0.014, 0.038), 18, 10)
    left.append(Part("skin", v, orient_closed(v, t), "LeftHand"))
    # fingers: one capsule per phalanx, rigid on its bone
    radius = {"Thumb": 0.0095, "Index": 0.0078, "Middle": 0.008, "Ring": 0.0076, "Little": 0.0068}
    for finger in ("Thumb", "Index", "Middle", "Ring", "Little"):
        chain = [f"Left{finger}{p}" for p in ("Proximal", "Intermediate", "Distal")]
        for i, bone in enumerate(chain):
            a = W[bone]
            b = W[chain[i + 1]] if i < 2 else a + finger_tip_offset(bone)
            r = radius[finger] * (1.0 - 0.1 * i)
            v, t = loft(
                [a, b], [(r, r * 0.9), (r * 0.95, r * 0.85)], up=(0, 1, 0), n_seg=10, cap_rings=2
            )
            left.append(Part("skin", v, orient_closed(v, t), bone))
    # legs
    ul, ll, foot = W["LeftUpperLeg"], W["LeftLowerLeg"], W["LeftFoot"]
    ys = [0.9, ul[1] - 0.07, 0.66, ll[1], 0.36, 0.2, foot[1] + 0.02]
    rs = [
        (0.058, 0.062),
        (0.062, 0.066),
        (0.055, 0.058),
        (0.047, 0.049),
        (0.045, 0.046),
        (0.036, 0.037),
        (0.033, 0.034),
    ]
    # (Along -y: Hips above the hip joint, UpperLeg to the knee, LowerLeg to the ankle, Foot below.)
    leg_skin = chain_weights(
        ["Hips", "LeftUpperLeg", "LeftLowerLeg", "LeftFoot"],
        -2,
        [0, -(float(ul[1]) + 0.03), -float(ll[1]), -(float(foot[1]) + 0.01)],
        0.035,
    )
    v, t = loft([(ul[0], y, 0.0) for y in ys], rs, up=(0, 0, 1), n_seg=18, cap_rings=2)
    left.append(Part("pants", v, orient_closed(v, t), leg_skin))
    # shoe
    v, t = ellipsoid(foot + np.array([0.0, -0.025, 0.045]), (0.045, 0.04, 0.105), 20, 12)
    v[:, 1] = np.maximum(v[:, 1], 0.0)  # flat sole at the floor
    toes_z = W["LeftToes"][2]
    shoe_skin = chain_weights(["LeftFoot", "LeftToes"], 2, [0, float(toes_z) - 0.01], 0.02)
    left.append(Part("shoes", v, orient_closed(v, t), shoe_skin))

    parts += left + [mirror_part(p) for p in left]
    return parts


# ---------------------------------------------------------------------------------------------
# Face: decals projected on the head surface, with morph targets
# ---------------------------------------------------------------------------------------------


def _disc_grid(n_u=24, n_v=6):
    """A unit disc as (polar) grid: returns (N, 2) points and triangles (centre vertex 0)."""
    pts = [(0.0, 0.0)]
    for j in range(1, n_v + 1):
        r = j / n_v
        for i in range(n_u):
            th = 2 * math.pi * i / n_u
            pts.append((r * math.cos(th), r * math.sin(th)))
    tris = [(0, 1 + i, 1 + (i + 1) % n_u) for i in range(n_u)]
    tris += _ring_tris(n_v, n_u, 1)
    return np.array(pts), np.array(tris)


def _strip(n_u=24, n_v=2):
    """A (u, v) grid on [0,1]x[0,1]: (N, 2) params and triangles."""
    pts = [(i / n_u, j / n_v) for j in range(n_v + 1) for i in range(n_u + 1)]
    tris = []
    for j in range(n_v):
        for i in range(n_u):
            a, b = j * (n_u + 1) + i, j * (n_u + 1) + i + 1
            c, d = a + n_u + 1, b + n_u + 1
            tris += [(a, b, c), (b, d, c)]
    return np.array(pts, dtype=np.float64), np.array(tris)


class Decal:
    """A 2D shape (x, y) projected onto the front of the head, with per-target shapes."""

    def __init__(self, material: str, xy: np.ndarray, tris: np.ndarray, lift: float, bone: str):
        self.material, self.xy, self.tris, self.lift, self.bone = material, xy, tris, lift, bone
        self.targets: dict[str, np.ndarray] = {}
        self.colors = None

    def project(self, xy: np.ndarray) -> np.ndarray:
        z = _head_surface_z(xy[:, 0], xy[:, 1], self.lift)
        return np.column_stack([xy[:, 0], xy[:, 1], z])

    def part(self) -> Part:
        base = self.project(self.xy)
        tris = orient_to(base, self.tris, lambda c: np.tile([0.0, 0.0, 1.0], (len(c), 1)))
        morphs = {name: self.project(xy) - base for name, xy in self.targets.items()}
        return Part(self.material, base, tris, self.bone, colors=self.colors, morphs=morphs)


def _eye_closed_y(cx: float, x: np.ndarray, up: bool) -> np.ndarray:
    """The line a closed eye collapses to: a gentle arc (down-curved, or up-curved for ^^)."""
    u = np.clip((x - cx) / EYE_A, -1.0, 1.0)
    arc = np.sqrt(1 - u * u) * EYE_B * 0.28
    return EYE_Y - 0.005 + (arc if up else -arc * 0.6)


def face_parts() -> list[Part]:
    decals: list[Decal] = []
    disc, disc_t = _disc_grid(28, 6)
    strip, strip_t = _strip(28, 2)
    for sx in (1.0, -1.0):
        side = "Left" if sx > 0 else "Right"
        blink = f"blink{side}"
        cx = sx * EYE_X
        eye_bone = f"{side}Eye"

        def eye_shapes(d: Decal, is_iris: bool, cx=cx, blink=blink, sx=sx):
            xy = d.xy
            rel = xy - np.array([cx, EYE_Y])
            closed = np.column_stack(
                [
                    xy[:, 0] + (0 if not is_iris else -rel[:, 0] * 0.3),
                    _eye_closed_y(cx, xy[:, 0], False) + rel[:, 1] * 0.05,
                ]
            )
            d.targets[blink] = closed
            happy = np.column_stack(
                [xy[:, 0], _eye_closed_y(cx, xy[:, 0], True) + rel[:, 1] * 0.05]
            )
            d.targets["happy"] = happy
            d.targets["relaxed"] = np.column_stack([xy[:, 0], EYE_Y - 0.006 + rel[:, 1] * 0.5])
            d.targets["angry"] = np.column_stack([xy[:, 0], EYE_Y - 0.002 + rel[:, 1] * 0.8])
            d.targets["sad"] = np.column_stack([xy[:, 0], EYE_Y - 0.002 + rel[:, 1] * 0.88])
            grow = 0.85 if is_iris else 1.15
            d.targets["surprised"] = np.array([cx, EYE_Y + 0.002]) + rel * grow
            if is_iris:
                for name, dxy in (
                    ("lookUp", (0, 0.005)),
                    ("lookDown", (0, -0.005)),
                    ("lookLeft", (0.006, 0)),
                    ("lookRight", (-0.006, 0)),
                ):
                    d.targets[name] = xy + np.array(dxy)

        white = Decal("eye_white", disc * [EYE_A, EYE_B] + [cx, EYE_Y], disc_t, 0.0012, "Head")
        eye_shapes(white, False)
        iris = Decal(
            "iris", disc * [IRIS_A, IRIS_B] + [cx, EYE_Y - 0.002], disc_t, 0.0024, eye_bone
        )
        shade = (iris.xy[:, 1] - (EYE_Y - 0.002)) / IRIS_B  # -1 bottom .. 1 top
        bright = np.clip(0.55 - 0.45 * shade, 0.1, 1.0)[:, None]
        iris.colors = np.clip(
            np.array([0.04, 0.2, 0.55]) + bright * np.array([0.1, 0.35, 0.45]), 0, 1
        )
        eye_shapes(iris, True)
        pupil = Decal(
            "pupil", disc * [0.0055, 0.0075] + [cx, EYE_Y - 0.002], disc_t, 0.0032, eye_bone
        )
        eye_shapes(pupil, True)
        hl = Decal(
            "highlight",
            disc * [0.0034, 0.0040] + [cx - 0.0045, EYE_Y + 0.004],
            disc_t,
            0.004,
            eye_bone,
        )
        eye_shapes(hl, True)
        # upper lash: an arc along the top of the eye, thicker at the outer corner
        th = np.radians(8 + 164 * strip[:, 0])
        outer = (np.cos(th) * sx > 0).astype(float)
        thick = 0.0022 + 0.0018 * outer * np.abs(np.cos(th))
        rr = 1.0 + (strip[:, 1] - 0.3) * thick / EYE_B
        lash_xy = np.column_stack(
            [cx + EYE_A * 1.02 * rr * np.cos(th), EYE_Y + EYE_B * rr * np.sin(th)]
        )
        lash = Decal("lash", lash_xy, strip_t, 0.0045, "Head")
        rel = lash_xy - np.array([cx, EYE_Y])
        lash.targets[blink] = np.column_stack(
            [
                lash_xy[:, 0],
                _eye_closed_y(cx, lash_xy[:, 0], False) + (rel[:, 1] - EYE_B * np.sin(th)) * 1.2,
            ]
        )
        lash.targets["happy"] = np.column_stack(
            [
                lash_xy[:, 0],
                _eye_closed_y(cx, lash_xy[:, 0], True) + (rel[:, 1] - EYE_B * np.sin(th)) * 1.2,
            ]
        )
        lash.targets["relaxed"] = np.column_stack([lash_xy[:, 0], EYE_Y - 0.006 + rel[:, 1] * 0.5])
        lash.targets["angry"] = np.column_stack([lash_xy[:, 0], EYE_Y - 0.002 + rel[:, 1] * 0.8])
        lash.targets["sad"] = np.column_stack([lash_xy[:, 0], EYE_Y - 0.002 + rel[:, 1] * 0.88])
        lash.targets["surprised"] = np.array([cx, EYE_Y + 0.002]) + rel * 1.15
        # brow: a short arc above the eye
        bx = cx + sx * (strip[:, 0] - 0.45) * 0.032
        inner = np.clip(1 - (np.abs(bx) - 0.016) / 0.032, 0, 1)  # 1 at the inner end
        by = (
            1.556
            + 0.004 * np.sin(np.pi * strip[:, 0])
            + (strip[:, 1] - 0.5) * (0.0032 + 0.0012 * inner)
        )
        brow_xy = np.column_stack([bx, by])
        brow = Decal("brow", brow_xy, strip_t, 0.003, "Head")
        for name, dy in (
            ("angry", -0.008 * inner + 0.002 * (1 - inner)),
            ("sad", 0.006 * inner - 0.002 * (1 - inner)),
            ("surprised", 0.008 + 0 * inner),
            ("happy", 0.003 + 0 * inner),
            ("relaxed", -0.002 + 0 * inner),
            (blink, -0.002 + 0 * inner),
        ):
            brow.targets[name] = brow_xy + np.column_stack([np.zeros_like(dy), dy])
        # blush
        blush = Decal("blush", disc * [0.011, 0.0055] + [sx * 0.058, 1.49], disc_t, 0.0008, "Head")
        decals += [white, iris, pupil, hl, lash, brow, blush]

    # mouth: a lens between an upper and a lower lip curve; vowels and emotions reshape it
    grid, grid_t = _strip(32, 6)

    def mouth(w, top, bottom, smile, y=0.0):
        u = grid[:, 0] * 2 - 1
        s = np.sqrt(np.clip(1 - u * u, 0, 1))
        base = MOUTH_Y + y + smile * u * u
        ys = base - bottom * s + grid[:, 1] * (top + bottom) * s
        return np.column_stack([u * w / 2, ys])

    m = Decal("mouth", mouth(0.024, 0.0012, 0.0016, 0.0035), grid_t, 0.0015, "Head")
    for name, args in {
        "aa": (0.028, 0.006, 0.022, 0.002, 0.002),
        "ih": (0.034, 0.003, 0.008, 0.003),
        "ou": (0.013, 0.006, 0.009, 0.0),
        "ee": (0.032, 0.004, 0.011, 0.004),
        "oh": (0.02, 0.008, 0.016, 0.0, 0.001),
        "happy": (0.032, 0.002, 0.012, 0.008),
        "angry": (0.022, 0.0015, 0.0025, -0.005),
        "sad": (0.02, 0.0015, 0.0015, -0.006),
        "relaxed": (0.026, 0.0012, 0.002, 0.006),
        "surprised": (0.016, 0.008, 0.012, 0.0, 0.001),
    }.items():
        m.targets[name] = mouth(*args)
    decals.append(m)
    return [d.part() for d in decals]


# ---------------------------------------------------------------------------------------------
# glTF / VRM writer
# ---------------------------------------------------------------------------------------------


class _Bin:
    def __init__(self):
        self.data = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(
        self,
        array: np.ndarray,
        component: int,
        kind: str,
        target: int | None = None,
        minmax: bool = False,
    ) -> int:
        raw = array.tobytes()
        while len(self.data) % 4:
            self.data.append(0)
        view = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self.data += raw
        self.views.append(view)
        acc = {
            "bufferView": len(self.views) - 1,
            "componentType": component,
            "count": int(array.shape[0]),
            "type": kind,
        }
        if minmax:
            acc["min"] = [float(v) for v in array.min(axis=0)]
            acc["max"] = [float(v) for v in array.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def zeros(self, count: int) -> int:
        self.accessors.append(
            {
                "componentType": 5126,
                "count": count,
                "type": "VEC3",
                "min": [0.0, 0.0, 0.0],
                "max": [0.0, 0.0, 0.0],
            }
        )
        return len(self.accessors) - 1


FLOAT, USHORT, UINT = 5126, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


def _mesh(binbuf: _Bin, parts: list[Part], materials: list[str], with_targets: bool) -> dict:
    by_mat: dict[str, list[Part]] = {}
    for p in parts:
        by_mat.setdefault(p.material, []).append(p)
    prims = []
    for mat, group in by_mat.items():
        verts, tris, joints, weights, colors, morphs = [], [], [], [], [], {n: [] for n in TARGETS}
        off = 0
        has_colors = any(p.colors is not None for p in group)
        for p in group:
            verts.append(p.verts)
            tris.append(p.tris + off)
            joints.append(p.joints)
            weights.append(p.weights)
            if has_colors:
                colors.append(p.colors if p.colors is not None else np.ones((len(p.verts), 3)))
            for n in TARGETS:
                morphs[n].append(p.morphs.get(n, np.zeros((len(p.verts), 3))))
            off += len(p.verts)
        v = np.concatenate(verts)
        t = np.concatenate(tris)
        attrs = {
            "POSITION": binbuf.add(v.astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, minmax=True),
            "NORMAL": binbuf.add(
                vertex_normals(v, t).astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER
            ),
            "JOINTS_0": binbuf.add(
                np.concatenate(joints).astype(np.uint16), USHORT, "VEC4", ARRAY_BUFFER
            ),
            "WEIGHTS_0": binbuf.add(
                np.concatenate(weights).astype(np.float32), FLOAT, "VEC4", ARRAY_BUFFER
            ),
        }
        if has_colors:
            attrs["COLOR_0"] = binbuf.add(
                np.concatenate(colors).astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER
            )
        prim = {
            "attributes": attrs,
            "indices": binbuf.add(
                t.reshape(-1).astype(np.uint32), UINT, "SCALAR", ELEMENT_ARRAY_BUFFER
            ),
            "material": materials.index(mat),
            "mode": 4,
        }
        if with_targets:
            prim["targets"] = []
            for n in TARGETS:
                d = np.concatenate(morphs[n])
                if np.any(d):
                    prim["targets"].append(
                        {
                            "POSITION": binbuf.add(
                                d.astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, minmax=True
                            )
                        }
                    )
                else:
                    prim["targets"].append({"POSITION": binbuf.zeros(len(d))})
        prims.append(prim)
    mesh: dict = {"primitives": prims}
    if with_targets:
        mesh["weights"] = [0.0] * len(TARGETS)
        mesh["extras"] = {"targetNames": list(TARGETS)}
    return mesh


def build_default_avatar() -> bytes:
    """The default avatar as VRM 1.0 bytes (``.vrm``, glTF binary). Cached per process."""
    return _build_cached()


@lru_cache(maxsize=1)
def _build_cached() -> bytes:
    binbuf = _Bin()
    materials = list(MATERIALS)
    gltf_materials = []
    for name, m in MATERIALS.items():
        mat = {
            "name": name,
            "pbrMetallicRoughness": {
                "baseColorFactor": [*m["color"], 1.0],
                "metallicFactor": 0.0,
                "roughnessFactor": 0.85 if name != "hair" else 0.6,
            },
        }
        if m["unlit"]:
            mat["extensions"] = {"KHR_materials_unlit": {}}
        if name in (
            "hair",
            "eye_white",
            "iris",
            "pupil",
            "highlight",
            "lash",
            "brow",
            "mouth",
            "blush",
        ):
            mat["doubleSided"] = True
        gltf_materials.append(mat)

    # nodes: 0 = root, 1..55 = bones (BONES order), then the two mesh nodes
    nodes: list[dict] = [{"name": "Root", "children": []}]
    bone_node = {b: 1 + i for i, b in enumerate(BONES)}
    for b in BONES:
        nodes.append(
            {"name": b, "translation": [float(v) for v in REST_OFFSETS[b]], "children": []}
        )
    for b in BONES:
        parent = PARENTS[b]
        (nodes[0] if parent is None else nodes[bone_node[parent]])["children"].append(bone_node[b])
    for n in nodes:
        if not n["children"]:
            del n["children"]

    ibm = np.zeros((len(BONES), 4, 4), dtype=np.float32)
    for i, b in enumerate(BONES):
        m = np.eye(4)
        m[:3, 3] = -W[b]
        ibm[i] = m.T  # column-major
    skin = {
        "joints": [bone_node[b] for b in BONES],
        "skeleton": bone_node["Hips"],
        "inverseBindMatrices": binbuf.add(ibm.reshape(len(BONES), 16), FLOAT, "MAT4"),
    }

    meshes = [
        _mesh(binbuf, body_parts(), materials, False),
        _mesh(binbuf, face_parts(), materials, True),
    ]
    meshes[0]["name"], meshes[1]["name"] = "Body", "Face"
    body_node, face_node = len(nodes), len(nodes) + 1
    nodes.append({"name": "Body", "mesh": 0, "skin": 0})
    nodes.append({"name": "Face", "mesh": 1, "skin": 0})
    nodes[0]["children"] += [body_node, face_node]

    def binds(*names: str) -> dict:
        return {
            "morphTargetBinds": [{"node": face_node, "index": _T[n], "weight": 1.0} for n in names]
        }

    presets: dict[str, dict] = {}
    for name in EXPRESSIONS:
        if name == "blink":
            e = binds("blinkLeft", "blinkRight")
        elif name == "neutral":
            e = {}
        else:
            e = binds(name)
        e.update(
            {
                "isBinary": False,
                "overrideBlink": "none",
                "overrideLookAt": "none",
                "overrideMouth": "none",
            }
        )
        presets[name] = e

    vrm = {
        "specVersion": "1.0",
        "meta": {
            "name": "vtuber default avatar",
            "version": "1.0",
            "authors": ["vtuber project"],
            "copyrightInformation": "Generated by avatars/make_default_avatar.py; dedicated to the public domain (CC0 1.0).",
            "licenseUrl": "https://vrm.dev/licenses/1.0/",
            "avatarPermission": "everyone",
            "allowExcessivelyViolentUsage": False,
            "allowExcessivelySexualUsage": False,
            "commercialUsage": "corporation",
            "allowPoliticalOrReligiousUsage": False,
            "allowAntisocialOrHateUsage": False,
            "creditNotation": "unnecessary",
            "allowRedistribution": True,
            "modification": "allowModificationRedistribution",
            "otherLicenseUrl": "https://creativecommons.org/publicdomain/zero/1.0/",
        },
        "humanoid": {"humanBones": {vrm1_bone_name(b): {"node": bone_node[b]} for b in BONES}},
        "firstPerson": {
            "meshAnnotations": [
                {"node": body_node, "type": "auto"},
                {"node": face_node, "type": "thirdPersonOnly"},
            ]
        },
        "lookAt": {
            "type": "bone",
            "offsetFromHeadBone": [
                0.0,
                float(W["LeftEye"][1] - W["Head"][1]),
                float(W["LeftEye"][2] - W["Head"][2]),
            ],
            "rangeMapHorizontalInner": {"inputMaxValue": 90.0, "outputScale": 20.0},
            "rangeMapHorizontalOuter": {"inputMaxValue": 90.0, "outputScale": 20.0},
            "rangeMapVerticalDown": {"inputMaxValue": 90.0, "outputScale": 15.0},
            "rangeMapVerticalUp": {"inputMaxValue": 90.0, "outputScale": 15.0},
        },
        "expressions": {"preset": presets},
    }

    gltf = {
        "asset": {"version": "2.0", "generator": "vtuber avatars/make_default_avatar.py"},
        "extensionsUsed": ["KHR_materials_unlit", "VRMC_vrm"],
        "scene": 0,
        "scenes": [{"name": "Scene", "nodes": [0]}],
        "nodes": nodes,
        "meshes": meshes,
        "skins": [skin],
        "materials": gltf_materials,
        "accessors": binbuf.accessors,
        "bufferViews": binbuf.views,
        "buffers": [{"byteLength": 0}],
        "extensions": {"VRMC_vrm": vrm},
    }
    while len(binbuf.data) % 4:
        binbuf.data.append(0)
    gltf["buffers"][0]["byteLength"] = len(binbuf.data)
    js = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 4)
    body = bytes(binbuf.data)
    total = 12 + 8 + len(js) + 8 + len(body)
    return (
        struct.pack("<4sII", b"glTF", 2, total)
        + struct.pack("<I4s", len(js), b"JSON")
        + js
        + struct.pack("<I4s", len(body), b"BIN\0")
        + body
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the .vrm file")
    args = parser.parse_args(argv)
    data = build_default_avatar()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data) / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
