"""Quaternion and rotation arithmetic, frame-agnostic.

Quaternions are numpy arrays ``(x, y, z, w)`` (scalar-last, Hamilton product, active rotations:
``rotate(q, v)`` turns vector ``v`` by ``q``). Rotation matrices act on column vectors.
Angles are radians unless a name says ``_deg``. Nothing here changes a frame or a handedness:
that is ``vtuber.conventions``' job.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]

IDENTITY: F64 = np.array([0.0, 0.0, 0.0, 1.0])
IDENTITY.setflags(write=False)


def quat(x: float, y: float, z: float, w: float) -> F64:
    """A normalised quaternion from components."""
    return normalize(np.array([x, y, z, w], dtype=np.float64))


def normalize(q: ArrayLike) -> F64:
    """``q`` scaled to unit length; raises ValueError for a zero quaternion."""
    a = np.asarray(q, dtype=np.float64)
    if a.shape == (4,):  # the usual case, on floats (a tenth of np.linalg.norm's cost)
        x, y, z, w = a.tolist()
        n = math.sqrt(x * x + y * y + z * z + w * w)
    else:
        n = float(np.linalg.norm(a))
    if n < 1e-12 or not math.isfinite(n):
        raise ValueError(f"cannot normalise quaternion {a!r}")
    return a / n


def _floats(q: ArrayLike) -> list[float]:
    """``q`` as a list of Python floats (numpy scalars cost ~10x more per operation)."""
    if type(q) is np.ndarray and q.dtype == np.float64:  # the usual case: no conversion call
        return q.tolist()  # type: ignore[no-any-return]
    if type(q) is tuple and all(type(v) is float for v in q):  # already floats (the solvers' tuples)
        return list(q)
    return np.asarray(q, dtype=np.float64).tolist()  # type: ignore[no-any-return]


def normalize_floats(q: ArrayLike) -> tuple[float, float, float, float]:
    """``normalize(q)`` for a quaternion (4 numbers), as Python floats (the same numbers)."""
    x, y, z, w = _floats(q)
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if n < 1e-12 or not math.isfinite(n):
        raise ValueError(f"cannot normalise quaternion {np.asarray(q, dtype=np.float64)!r}")
    return x / n, y / n, z / n, w / n


def multiply(a: ArrayLike, b: ArrayLike) -> F64:
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``)."""
    ax, ay, az, aw = _floats(a)
    bx, by, bz, bw = _floats(b)
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def conjugate(q: ArrayLike) -> F64:
    """The inverse of a unit quaternion."""
    x, y, z, w = _floats(q)
    return np.array([-x, -y, -z, w])


def rotate(q: ArrayLike, v: ArrayLike) -> F64:
    """Vector(s) ``v`` (shape (3,) or (N, 3)) rotated by ``q``."""
    return np.asarray(v, dtype=np.float64) @ to_matrix(q).T


def from_axis_angle(axis: ArrayLike, angle: float) -> F64:
    """Rotation of ``angle`` radians about ``axis`` (right-hand rule in a right-handed frame)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    s = math.sin(angle / 2.0)
    return np.array([a[0] * s, a[1] * s, a[2] * s, math.cos(angle / 2.0)])


def to_axis_angle(q: ArrayLike) -> tuple[F64, float]:
    """(unit axis, angle in [0, pi]) of ``q``; the axis is +X for the identity."""
    x, y, z, w = canonical(q)
    s = math.sqrt(max(0.0, 1.0 - w * w))
    angle = 2.0 * math.atan2(s, w)
    if s < 1e-12:
        return np.array([1.0, 0.0, 0.0]), 0.0
    return np.array([x, y, z]) / s, angle


def angle_between(a: ArrayLike, b: ArrayLike) -> float:
    """Smallest rotation angle (radians) taking ``a`` to ``b``; ``q`` and ``-q`` are equal."""
    # 2 atan2(|v|, |w|) of the relative rotation conj(a) * b: exact near 0, where acos of the
    # dot product loses half the digits (1e-8 rad for equal inputs)
    r = multiply(conjugate(normalize(a)), normalize(b))
    x, y, z, w = r.tolist()
    return 2.0 * math.atan2(math.sqrt(x * x + y * y + z * z), abs(w))


def canonical(q: ArrayLike) -> F64:
    """``q`` or ``-q``, whichever has w >= 0 (the same rotation)."""
    a = normalize(q)
    return -a if a[3] < 0 else a


def align_hemisphere(q: ArrayLike, reference: ArrayLike) -> F64:
    """``q`` or ``-q``, whichever is nearer ``reference`` (done before filtering components)."""
    a = np.asarray(q, dtype=np.float64)
    return -a if float(np.dot(a, np.asarray(reference, dtype=np.float64))) < 0.0 else a


def slerp(a: ArrayLike, b: ArrayLike, fraction: float) -> F64:
    """Spherical interpolation from ``a`` (fraction 0) to ``b`` (fraction 1), shortest path."""
    qa = normalize(a)
    qb = align_hemisphere(normalize(b), qa)
    d = float(np.clip(np.dot(qa, qb), -1.0, 1.0))
    if d > 0.9995:  # nearly parallel: lerp is exact to float precision and avoids 0/0
        return normalize(qa + fraction * (qb - qa))
    theta = math.acos(d)
    s = math.sin(theta)
    return (math.sin((1.0 - fraction) * theta) / s) * qa + (math.sin(fraction * theta) / s) * qb


def from_matrix(m: ArrayLike) -> F64:
    """Quaternion of a 3x3 rotation matrix (Shepperd's method, numerically stable)."""
    return np.array(from_matrix_floats(np.asarray(m, dtype=np.float64).tolist()))


def from_matrix_floats(m: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """``from_matrix`` on Python floats: the matrix as three rows of three floats in, the
    quaternion (x, y, z, w) with w >= 0 out (the same numbers, without numpy calls)."""
    (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = m
    tr = r00 + r11 + r22
    if tr > 0.0:
        s = math.sqrt(tr + 1.0) * 2.0
        q = [(r21 - r12) / s, (r02 - r20) / s, (r10 - r01) / s, 0.25 * s]
    elif r00 > r11 and r00 > r22:
        s = math.sqrt(1.0 + r00 - r11 - r22) * 2.0
        q = [0.25 * s, (r01 + r10) / s, (r02 + r20) / s, (r21 - r12) / s]
    elif r11 > r22:
        s = math.sqrt(1.0 + r11 - r00 - r22) * 2.0
        q = [(r01 + r10) / s, 0.25 * s, (r12 + r21) / s, (r02 - r20) / s]
    else:
        s = math.sqrt(1.0 + r22 - r00 - r11) * 2.0
        q = [(r02 + r20) / s, (r12 + r21) / s, 0.25 * s, (r10 - r01) / s]
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    k = (-1.0 if q[3] < 0.0 else 1.0) / n  # canonical: w >= 0
    return q[0] * k, q[1] * k, q[2] * k, q[3] * k


def to_matrix(q: ArrayLike) -> F64:
    """3x3 rotation matrix of ``q``."""
    return np.array(_matrix_rows(*normalize(q).tolist()))


def to_matrix_floats(q: ArrayLike) -> tuple[list[float], list[float], list[float]]:
    """``to_matrix`` on Python floats: the three rows (the same numbers, without numpy calls)."""
    return _matrix_rows(*normalize_floats(q))


def _matrix_rows(x: float, y: float, z: float, w: float) -> tuple[list[float], list[float], list[float]]:
    """Rows of the rotation matrix of the unit quaternion (x, y, z, w)."""
    return (
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    )


def from_yaw_pitch_roll(yaw: float, pitch: float, roll: float) -> F64:
    """Head-style angles in a Y-up frame: ``R = Ry(yaw) * Rx(pitch) * Rz(roll)`` (radians).

    Intrinsic order yaw, then pitch about the turned X, then roll about the turned Z: the
    order a neck works in, and the one ``to_yaw_pitch_roll`` inverts.
    """
    return multiply(
        multiply(from_axis_angle((0, 1, 0), yaw), from_axis_angle((1, 0, 0), pitch)),
        from_axis_angle((0, 0, 1), roll),
    )


def to_yaw_pitch_roll(q: ArrayLike) -> tuple[float, float, float]:
    """Inverse of ``from_yaw_pitch_roll``: (yaw, pitch, roll) radians, pitch in [-pi/2, pi/2]."""
    r = to_matrix(q)
    pitch = math.asin(float(np.clip(-r[1, 2], -1.0, 1.0)))
    if abs(r[1, 2]) < 0.999999:
        yaw = math.atan2(r[0, 2], r[2, 2])
        roll = math.atan2(r[1, 0], r[1, 1])
    else:  # gimbal lock: fold roll into yaw
        yaw = math.atan2(-r[2, 0], r[0, 0])
        roll = 0.0
    return yaw, pitch, roll


def from_rotation_vector(rvec: ArrayLike) -> F64:
    """Quaternion of a Rodrigues rotation vector (axis * angle, radians), as cv2.solvePnP gives."""
    v = np.asarray(rvec, dtype=np.float64).reshape(3)
    angle = float(np.linalg.norm(v))
    if angle < 1e-12:
        return IDENTITY.copy()
    return from_axis_angle(v / angle, angle)


def to_rotation_vector(q: ArrayLike) -> F64:
    """Rodrigues rotation vector of ``q``."""
    axis, angle = to_axis_angle(q)
    return axis * angle


def rotation_between(u: ArrayLike, v: ArrayLike) -> F64:
    """The shortest rotation turning direction ``u`` onto direction ``v``."""
    a = np.asarray(u, dtype=np.float64)
    b = np.asarray(v, dtype=np.float64)
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    d = float(np.dot(a, b))
    if d < -0.999999:  # opposite: any perpendicular axis
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        return from_axis_angle(axis, math.pi)
    c = np.cross(a, b)
    return normalize(np.array([c[0], c[1], c[2], 1.0 + d]))
