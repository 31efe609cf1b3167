"""BVH text: the hierarchy header and one motion line per frame. Pure functions, no I/O.

Hierarchy: the humanoid ``vtuber.retarget.skeleton`` bones (Unity ``HumanBodyBones`` names, or a
subset), root ``Hips`` with ``OFFSET 0 0 0`` and six channels
``Xposition Yposition Zposition Zrotation Xrotation Yrotation``; every other joint three rotation
channels in the same order (``Zrotation Xrotation Yrotation`` by default); an ``End Site`` closes
every leaf. Offsets and positions are centimetres; rotations degrees.

Axes (``vtuber.conventions``, frame ``bvh``): right-handed, +Y up, the character faces +Z, +X is
the character's left; what Blender's importer expects with its defaults (``axis_forward='-Z'``,
``axis_up='Y'``). The rest pose (all rotations zero) is the VRM/Unity T-pose.

Rotation channels listed left to right compose on column vectors as
``R = R_first * R_second * R_third`` (intrinsic order: ``ZXY`` means ``R = Rz * Rx * Ry``), each
about the parent-aligned rest axes. A joint's rotation is its local rotation relative to the
T-pose (``Rig.bones``), converted by ``vtuber.conventions.internal_to_bvh_quaternion``.

See docs/bvh.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber import conventions, geometry
from vtuber.retarget import skeleton

F64 = NDArray[np.float64]

ROOT = "Hips"
DEFAULT_ROTATION_ORDER = "ZXY"
ROTATION_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
_AXIS = {"X": 0, "Y": 1, "Z": 2}

# End Site offsets (metres, internal frame) for leaves that have no descendant in the full
# skeleton; a leaf only because the subset dropped its children ends at its first child instead.
_LEAF_END_SITES: Mapping[str, tuple[float, float, float]] = {
    "Head": (0.0, 0.16, 0.0),  # top of the head
    "Jaw": (0.0, -0.03, 0.07),  # chin
    "LeftEye": (0.0, 0.0, 0.02),
    "RightEye": (0.0, 0.0, 0.02),
    "LeftToes": (0.0, 0.0, 0.05),
    "RightToes": (0.0, 0.0, 0.05),
}

VALUE_FORMAT = "{:.6f}"
"""Motion values: 1e-6 degree / 1e-6 cm resolution."""


# ---------------------------------------------------------------------------------------------
# Euler angles
# ---------------------------------------------------------------------------------------------


def _check_order(order: str) -> tuple[int, int, int, float]:
    order = order.upper()
    if order not in ROTATION_ORDERS:
        raise ValueError(f"rotation order {order!r} is not one of {ROTATION_ORDERS}")
    i, j, k = (_AXIS[c] for c in order)
    even = order in ("XYZ", "YZX", "ZXY")
    return i, j, k, 1.0 if even else -1.0


def _axis_matrix(axis: int, angle: float) -> F64:
    c, s = math.cos(angle), math.sin(angle)
    if axis == 0:
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    if axis == 1:
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def euler_to_matrix(angles_deg: ArrayLike, order: str = DEFAULT_ROTATION_ORDER) -> F64:
    """``R = R_order[0](a) @ R_order[1](b) @ R_order[2](c)``; ``angles_deg`` are (a, b, c) in
    the order's own sequence (``ZXY``: z, x, y), degrees."""
    i, j, k, _ = _check_order(order)
    a, b, c = (math.radians(float(v)) for v in np.asarray(angles_deg, dtype=np.float64))
    return _axis_matrix(i, a) @ _axis_matrix(j, b) @ _axis_matrix(k, c)


def matrix_to_euler(m: ArrayLike, order: str = DEFAULT_ROTATION_ORDER) -> F64:
    """Inverse of ``euler_to_matrix``: (a, b, c) degrees in the order's sequence, the middle
    angle in [-90, 90]. At gimbal lock (middle angle +-90) the last angle is set to 0."""
    r = np.asarray(m, dtype=np.float64)
    i, j, k, s = _check_order(order)
    sb = float(np.clip(s * r[i, k], -1.0, 1.0))
    b = math.asin(sb)
    if abs(sb) < 1.0 - 1e-12:
        a = math.atan2(-s * r[j, k], r[k, k])
        c = math.atan2(-s * r[i, j], r[i, i])
    else:  # gimbal lock: R = Ri(a) Rj(b); recover a from Ri(a) = R Rj(b)^T
        c = 0.0
        ra = r @ _axis_matrix(j, b).T
        a = math.atan2(s * ra[k, j], ra[j, j])
    return np.degrees(np.array([a, b, c]))


def quaternion_to_euler(q: ArrayLike, order: str = DEFAULT_ROTATION_ORDER) -> F64:
    """Unit quaternion (x, y, z, w) -> Euler angles in degrees for ``order`` (see
    ``matrix_to_euler``)."""
    return matrix_to_euler(geometry.to_matrix(q), order)


def euler_to_quaternion(angles_deg: ArrayLike, order: str = DEFAULT_ROTATION_ORDER) -> F64:
    """Inverse of ``quaternion_to_euler``: (x, y, z, w)."""
    return geometry.from_matrix(euler_to_matrix(angles_deg, order))


def _closest_equivalent(angles: F64, previous: F64) -> F64:
    """The Euler triple equal to ``angles`` as a rotation that is nearest ``previous`` (both
    Tait-Bryan solutions, each angle shifted by whole turns): unwraps angles frame to frame so
    interpolating importers do not spin through 360 degrees."""
    a, b, c = angles
    best, best_d = angles, math.inf
    for cand in (np.array([a, b, c]), np.array([a + 180.0, 180.0 - b, c + 180.0])):
        cand = cand + 360.0 * np.round((previous - cand) / 360.0)
        d = float(np.sum(np.abs(cand - previous)))
        if d < best_d:
            best, best_d = cand, d
    return best


# ---------------------------------------------------------------------------------------------
# Hierarchy
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BvhLayout:
    """The joints of one BVH file, depth-first (the order of the motion values).

    Attributes:
        joints: joint names, depth-first from ``Hips``.
        parents: joint -> parent joint (None for the root), within ``joints``.
        offsets_cm: joint -> OFFSET from its parent in BVH centimetres (root: zeros).
        end_sites_cm: leaf joint -> End Site OFFSET in centimetres.
        rotation_order: the rotation channel order of every joint, e.g. ``"ZXY"``.
    """

    joints: tuple[str, ...]
    parents: Mapping[str, str | None]
    offsets_cm: Mapping[str, F64]
    end_sites_cm: Mapping[str, F64]
    rotation_order: str = DEFAULT_ROTATION_ORDER

    @property
    def channel_count(self) -> int:
        return 6 + 3 * (len(self.joints) - 1)

    def children(self, joint: str) -> tuple[str, ...]:
        return tuple(j for j in self.joints if self.parents[j] == joint)


def bvh_layout(
    bones: Iterable[str] | None = None,
    offsets: Mapping[str, ArrayLike] | None = None,
    *,
    rotation_order: str = DEFAULT_ROTATION_ORDER,
) -> BvhLayout:
    """Build the hierarchy for a subset of ``skeleton.BONES`` (default: all 55).

    Args:
        bones: HumanBodyBones names to include; ``Hips`` is always included. A bone whose parent
            is left out hangs from its nearest included ancestor, its offset the sum of the
            offsets along the way (rest rotations are the identity, so the sum is exact); the
            left-out bones' rotations are not exported.
        offsets: bone -> rest offset from its skeleton parent in metres, internal frame
            (``skeleton.REST_OFFSETS`` by default; a profile's real model offsets otherwise).
        rotation_order: channel order for all joints, one of ``ROTATION_ORDERS``.
    """
    _check_order(rotation_order)
    wanted = set(skeleton.BONES if bones is None else bones) | {ROOT}
    unknown = wanted - set(skeleton.BONES)
    if unknown:
        raise ValueError(f"not HumanBodyBones names: {sorted(unknown)}")
    rest = {b: np.asarray(skeleton.REST_OFFSETS[b], dtype=np.float64) for b in skeleton.BONES}
    if offsets:
        for b, v in offsets.items():
            if b not in rest:
                raise ValueError(f"offset for unknown bone {b!r}")
            rest[b] = np.asarray(v, dtype=np.float64).reshape(3)

    parents: dict[str, str | None] = {}
    offsets_m: dict[str, F64] = {}
    for b in skeleton.BONES:  # parents before children
        if b not in wanted:
            continue
        if b == ROOT:
            parents[b], offsets_m[b] = None, np.zeros(3)
            continue
        off = rest[b].copy()
        p = skeleton.PARENTS[b]
        while p is not None and p not in wanted:
            off += rest[p]
            p = skeleton.PARENTS[p]
        parents[b], offsets_m[b] = p, off

    def depth_first(j: str) -> list[str]:
        out = [j]
        for c in (b for b in parents if parents[b] == j):
            out.extend(depth_first(c))
        return out

    joints = tuple(depth_first(ROOT))
    end_sites: dict[str, F64] = {}
    for j in joints:
        if any(parents[c] == j for c in joints):
            continue
        if j in skeleton.FINGER_BONES and j.endswith("Distal"):
            tip = skeleton.finger_tip_offset(j)
        elif j in _LEAF_END_SITES:
            tip = np.array(_LEAF_END_SITES[j])
        else:  # a leaf of the subset only: end at its first (left-out) child
            first = skeleton.children(j)[0]
            tip = rest[first]
        end_sites[j] = conventions.internal_to_bvh_position(tip)
    return BvhLayout(
        joints=joints,
        parents=parents,
        offsets_cm={j: conventions.internal_to_bvh_position(offsets_m[j]) for j in joints},
        end_sites_cm=end_sites,
        rotation_order=rotation_order.upper(),
    )


def _fmt3(v: ArrayLike) -> str:
    return " ".join(VALUE_FORMAT.format(float(x) + 0.0) for x in np.asarray(v).reshape(3))


def bvh_hierarchy(layout: BvhLayout) -> str:
    """The ``HIERARCHY`` section, ending with a newline."""
    rot = " ".join(f"{c}rotation" for c in layout.rotation_order)
    lines = ["HIERARCHY"]

    def emit(j: str, depth: int) -> None:
        pad = "\t" * depth
        kind = "ROOT" if layout.parents[j] is None else "JOINT"
        lines.append(f"{pad}{kind} {j}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {_fmt3(layout.offsets_cm[j])}")
        if layout.parents[j] is None:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rot}")
        kids = layout.children(j)
        for c in kids:
            emit(c, depth + 1)
        if not kids:
            lines.append(f"{pad}\tEnd Site")
            lines.append(f"{pad}\t{{")
            lines.append(f"{pad}\t\tOFFSET {_fmt3(layout.end_sites_cm[j])}")
            lines.append(f"{pad}\t}}")
        lines.append(f"{pad}}}")

    emit(layout.joints[0], 0)
    return "\n".join(lines) + "\n"


FRAMES_PREFIX = "Frames: "


def bvh_frames_line(frames: int, width: int = 0) -> str:
    """``Frames: n`` padded with trailing spaces to ``len(FRAMES_PREFIX) + width`` characters
    (a fixed-width field a streaming writer can overwrite in place), plus the newline."""
    if frames < 0:
        raise ValueError("frame count must be >= 0")
    digits = str(int(frames))
    if width and len(digits) > width:
        raise ValueError(f"{frames} frames do not fit a {width}-digit Frames field")
    return FRAMES_PREFIX + digits.ljust(width) + "\n"


def frame_time_from_fps(fps: float) -> float:
    """Seconds per frame of a source running at ``fps`` (its real rate, e.g. 29.97002997)."""
    if not fps > 0 or not math.isfinite(fps):
        raise ValueError(f"frame rate must be positive, got {fps!r}")
    return 1.0 / float(fps)


def bvh_frame_time_line(frame_time: float) -> str:
    """``Frame Time: t`` with the shortest text that parses back to exactly ``frame_time``."""
    if not frame_time > 0 or not math.isfinite(frame_time):
        raise ValueError(f"frame time must be positive, got {frame_time!r}")
    text = repr(float(frame_time))
    if "e" in text or "E" in text:  # never scientific notation: some readers reject it
        text = np.format_float_positional(float(frame_time), unique=True, trim="-")
    return f"Frame Time: {text}\n"


def bvh_header(
    bones: Iterable[str] | BvhLayout | None = None,
    offsets: Mapping[str, ArrayLike] | None = None,
    *,
    frame_time: float,
    frames: int = 0,
    frames_width: int = 0,
    rotation_order: str = DEFAULT_ROTATION_ORDER,
) -> str:
    """Everything before the first motion line: HIERARCHY, ``MOTION``, ``Frames:``, ``Frame Time:``.

    Args:
        bones: a ``BvhLayout`` or the bones for ``bvh_layout`` (default: all 55).
        offsets: rest offsets in metres for ``bvh_layout`` (ignored with a layout).
        frame_time: seconds per frame (``frame_time_from_fps(source_fps)``).
        frames: the frame count to write.
        frames_width: pad the count to this many digits (streaming writers rewrite it in place).
    """
    layout = (
        bones
        if isinstance(bones, BvhLayout)
        else bvh_layout(bones, offsets, rotation_order=rotation_order)
    )
    return (
        bvh_hierarchy(layout)
        + "MOTION\n"
        + bvh_frames_line(frames, frames_width)
        + bvh_frame_time_line(frame_time)
    )


# ---------------------------------------------------------------------------------------------
# Motion
# ---------------------------------------------------------------------------------------------


def bvh_motion_values(
    rotations: Mapping[str, ArrayLike],
    root_position_m: ArrayLike | None = None,
    layout: BvhLayout | None = None,
    previous: ArrayLike | None = None,
) -> F64:
    """One frame's channel values in file order.

    Args:
        rotations: bone -> local rotation (x, y, z, w) relative to the T-pose, internal frame
            (``Rig.bones``). Bones of the layout missing here get the identity; extra bones are
            ignored.
        root_position_m: Hips position in metres, internal frame (default: the layout's rest hip
            height above the origin, ``skeleton.REST_OFFSETS["Hips"]``).
        layout: default ``bvh_layout()`` (all bones, ``ZXY``).
        previous: the previous frame's values; when given, each joint's Euler triple is the
            equivalent one nearest the previous (no 360-degree jumps).
    """
    layout = layout or _default_layout()
    if root_position_m is None:
        root_position_m = skeleton.REST_OFFSETS[ROOT]
    out = np.empty(layout.channel_count)
    out[:3] = conventions.internal_to_bvh_position(
        np.asarray(root_position_m, dtype=np.float64).reshape(3)
    )
    prev = None if previous is None else np.asarray(previous, dtype=np.float64)
    for n, j in enumerate(layout.joints):
        s = 3 + 3 * n
        q = rotations.get(j)
        if q is None:
            angles = np.zeros(3)
        else:
            angles = quaternion_to_euler(
                conventions.internal_to_bvh_quaternion(np.asarray(q, dtype=np.float64)),
                layout.rotation_order,
            )
        if prev is not None:
            angles = _closest_equivalent(angles, prev[s : s + 3])
        out[s : s + 3] = angles
    return out


def format_motion_values(values: ArrayLike) -> str:
    """A motion line (with its newline) from channel values."""
    return " ".join(VALUE_FORMAT.format(float(v) + 0.0) for v in np.asarray(values).ravel()) + "\n"


def bvh_motion_line(
    rotations: Mapping[str, ArrayLike],
    root_position_m: ArrayLike | None = None,
    layout: BvhLayout | None = None,
    previous: ArrayLike | None = None,
) -> str:
    """``format_motion_values(bvh_motion_values(...))``: one motion line with its newline."""
    return format_motion_values(bvh_motion_values(rotations, root_position_m, layout, previous))


_DEFAULT_LAYOUT: BvhLayout | None = None


def _default_layout() -> BvhLayout:
    global _DEFAULT_LAYOUT
    if _DEFAULT_LAYOUT is None:
        _DEFAULT_LAYOUT = bvh_layout()
    return _DEFAULT_LAYOUT


def parse_motion_line(line: str, layout: BvhLayout) -> tuple[F64, dict[str, F64]]:
    """Inverse of ``bvh_motion_line`` (for tests and re-export): (root position in metres,
    bone -> quaternion in the internal frame). Raises ValueError on a malformed line."""
    values = np.array([float(v) for v in line.split()])
    if len(values) != layout.channel_count:
        raise ValueError(f"motion line has {len(values)} values, expected {layout.channel_count}")
    root = values[:3] / conventions.CENTIMETRES_PER_METRE
    rots = {
        j: euler_to_quaternion(values[3 + 3 * n : 6 + 3 * n], layout.rotation_order)
        for n, j in enumerate(layout.joints)
    }
    return root, rots


# ---------------------------------------------------------------------------------------------
# Blendshape sidecar CSV
# ---------------------------------------------------------------------------------------------


def blendshape_csv_header(names: Sequence[str]) -> str:
    """``frame,time,<name>...`` with its newline. ``frame`` is the 0-based BVH motion line index
    (Blender's importer puts it at scene frame ``frame_start + frame``), ``time`` seconds."""
    for n in names:
        if "," in n or "\n" in n or '"' in n:
            raise ValueError(f"blendshape name {n!r} cannot be a CSV column")
    return ",".join(["frame", "time", *names]) + "\n"


def blendshape_csv_row(
    frame: int, weights: Mapping[str, float], names: Sequence[str], frame_time: float
) -> str:
    """One CSV row: the frame number, ``frame * frame_time`` and each named weight (0 when
    missing), 6 decimals."""
    cells = [str(int(frame)), VALUE_FORMAT.format(frame * frame_time)]
    cells += [VALUE_FORMAT.format(float(weights.get(n, 0.0)) + 0.0) for n in names]
    return ",".join(cells) + "\n"
