"""Head pose: the canonical face model fitted to the tracked landmarks.

Input: MediaPipe face landmarks (normalised image coordinates, plus MediaPipe's relative depth
``z``), the camera intrinsics and the previous frame's pose (or None). Output: ``HeadPose`` in the
internal frame (rotation relative to looking straight into the camera, position in metres), or
None when no trustworthy pose exists.

Only the 33 rigid landmarks MediaPipe itself uses for Procrustes alignment enter the fit, with
MediaPipe's own weights, so blinks, brows and the jaw do not move the head.

Two fits, chosen by the input:

* **Depth-aware (MediaPipe's z present)**: MediaPipe's geometry pipeline with our intrinsics.
  Each landmark is back-projected along its camera ray to the depth ``Z0 * (1 + z * w / fx)``
  (``z`` is in x-normalised units, so ``z * w`` pixels; at depth ``Z0`` a pixel is ``Z0 / fx``),
  and the canonical face is fitted to that 3D cloud by a weighted similarity (Umeyama/Procrustes,
  closed form); ``Z0`` cancels out of the fit (see ``_fit_with_depth``). Measured on renders with
  known pose (``vtuber bench face``), PnP on the 2D points alone reads the Tasks landmarks with
  a 3-6 degree pitch bias and compressed angles, because MediaPipe's 2D points drift toward its
  shape prior; its z keeps the 3D shape, and the 3D fit is unbiased.
* **2D only (z all zero, e.g. projected test points or trackers without depth)**: PnP, refined
  from the previous frame's pose when there is one (cheap Levenberg-Marquardt steps) and solved
  from scratch (SQPnP, a global solver) otherwise or when that refinement fails. It is also the
  fallback when the depth-aware fit is rejected.

A pose that puts the face behind the camera, turns it away from the camera, or reprojects badly
is rejected (the smoother then holds the last good pose) rather than flipping the head.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from vtuber import geometry
from vtuber.conventions import (
    canonical_face_pose_to_internal_floats,
    internal_head_to_opencv_pose,
)
from vtuber.records import FaceLandmarks, HeadPose
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.face_model import canonical_face

MAX_REPROJECTION_ERROR_FRACTION = 0.08  # RMS residual above 8% of the face width is not a face fit
MAX_HEAD_ANGLE_RAD = math.radians(100.0)  # beyond this the face points away: a flipped solution
MIN_DEPTH_SPREAD_FRACTION = 0.05  # rigid points' depth range below 5 % of the face width: no depth
# channel (a real face's nose tip to cheek contour is ~half its width deep)
FACING_FULL_WEIGHT_COS = 0.5  # rigid points facing the camera within 60 degrees keep full weight


def solve_head(
    face: FaceLandmarks,
    image_size: tuple[int, int],
    camera: CameraIntrinsics,
    previous: HeadPose | None = None,
) -> HeadPose | None:
    """Fit the canonical face to ``face``; None when the fit is not trustworthy, when a rigid
    landmark's image x or y is not finite (NaN/inf) or when OpenCV's PnP fails.

    Args:
        face: MediaPipe-layout landmarks (468 or 478 points) of one face; its ``head_points``
            when it has them (the hybrid back end's Tasks points), else its ``points``.
        image_size: (width, height) the landmarks are normalised to.
        camera: intrinsics for that image size.
        previous: last frame's pose, used as a starting guess.
    """
    if face.layout != "mediapipe":
        raise ValueError("solve_head expects MediaPipe-layout landmarks (468 or 478 points)")
    ids, object_points, _ = _rigid_model()
    width, height = image_size
    source = face.points if face.head_points is None or len(face.head_points) != len(face.points) else face.head_points
    # pixels (MediaPipe's z is x-normalised); float32 * float64 array: the cast inside the multiply
    points = source.take(ids, axis=0) * _pixel_scale(width, height, source.shape[1])  # take: fancy indexing's rows, faster
    image_points = points[:, :2]  # conventions.mediapipe_to_pixels
    cam = camera.scaled_to(width, height)
    spread = (np.maximum.reduce(points) - np.minimum.reduce(points)).tolist()  # NaN/inf if any point is
    if not (math.isfinite(spread[0]) and math.isfinite(spread[1])):
        return None  # a rigid point's x or y is NaN/inf: no pose (a bad z only skips the depth fit)
    face_width_px = max(spread[0], 1.0)
    pose = None
    if len(spread) > 2 and math.isfinite(spread[2]) and spread[2] >= MIN_DEPTH_SPREAD_FRACTION * face_width_px:
        fit = _fit_with_depth(object_points, points, cam)
        pose = None if fit is None else _accept_matrix(fit[0], fit[1], object_points, image_points, cam, face_width_px)
        if pose is not None:
            return pose
    image_points = np.ascontiguousarray(image_points)  # OpenCV's PnP takes contiguous points
    if previous is not None:  # cheap: a few LM steps from last frame's pose
        pose = _accept(_refine_from(previous, object_points, image_points, cam), object_points, image_points, cam, face_width_px)
    if pose is None:  # first frame, or the refinement went wrong: solve globally
        pose = _accept(_solve_sqpnp(object_points, image_points, cam), object_points, image_points, cam, face_width_px)
    return pose


def _accept(
    candidate: tuple[NDArray[np.float64], NDArray[np.float64]] | None,
    object_points: NDArray[np.float64],
    image_points: NDArray[np.float64],
    cam: CameraIntrinsics,
    face_width_px: float,
) -> HeadPose | None:
    """The candidate as a HeadPose, or None if it reprojects badly or is physically absurd."""
    if candidate is None:
        return None
    rvec, tvec = candidate
    rotation_matrix, _ = cv2.Rodrigues(rvec)
    return _accept_matrix(rotation_matrix, tvec, object_points, image_points, cam, face_width_px)


def _accept_matrix(
    rotation_matrix: NDArray[np.float64],
    tvec: NDArray[np.float64],
    object_points: NDArray[np.float64],
    image_points: NDArray[np.float64],
    cam: CameraIntrinsics,
    face_width_px: float,
) -> HeadPose | None:
    """``_accept`` for a candidate given as a rotation matrix (model -> OpenCV camera) and tvec."""
    rotation, position = canonical_face_pose_to_internal_floats(rotation_matrix.tolist(), np.asarray(tvec).tolist())
    if position[2] >= 0.0:  # the face cannot be behind the camera
        return None
    if _rotation_angle(rotation) > MAX_HEAD_ANGLE_RAD:
        return None
    error = _rms_reprojection(object_points, image_points, None, tvec, cam, rotation_matrix)
    if error > MAX_REPROJECTION_ERROR_FRACTION * face_width_px:
        return None
    return HeadPose(rotation=np.array(rotation), position=np.array(position), reprojection_error_px=error)


def _rotation_angle(q: NDArray[np.float64] | tuple[float, float, float, float]) -> float:
    """Rotation angle in [0, pi] of quaternion ``q`` (``geometry.to_axis_angle``'s angle)."""
    w = abs(geometry.normalize_floats(q)[3])
    return 2.0 * math.atan2(math.sqrt(max(0.0, 1.0 - w * w)), w)


def _fit_with_depth(
    object_points: NDArray[np.float64],
    points_px: NDArray[np.float64],
    cam: CameraIntrinsics,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """MediaPipe's screen-to-metric conversion with our intrinsics, then a weighted similarity
    fit of the canonical face (``object_points``, the rigid points of ``_rigid_model``, with
    MediaPipe's weights) to the back-projected cloud of the rigid points ``points_px`` (N, 3:
    image x, y and MediaPipe's depth, all in pixels): (rotation matrix model -> OpenCV camera,
    tvec in cm) like solvePnP's. Refitted once more with the points the first fit turns away
    from the camera down-weighted (``_facing_weights``).

    Each landmark is back-projected to ``(x, y, 1) * (1 + rel) * Z0`` (normalised ray ``x, y``,
    relative depth ``rel``, mean depth ``Z0``). ``Z0`` is unknown, but it scales the whole cloud
    uniformly, and a uniform scaling of the target leaves the fitted rotation unchanged and
    scales the fitted size and translation alike: so the cloud is fitted at ``Z0 = 1`` and the
    translation divided by the fitted size, which puts the face at the depth where the
    canonical face's size matches it (MediaPipe's own metric assumption). No weak-perspective
    start or iteration is needed: one fit is exact for its weights.
    """
    w, centred = _first_pass_weights()
    cloud = _depth_cloud(points_px, w, cam)
    fit = _model_pose(object_points, cloud, w, centred)
    if fit is None:
        return None
    # second pass: drop the points the first fit turns away from the camera
    w = w * _facing_weights(fit[0], np.array(fit[1]), object_points)
    w /= w.sum()
    fit = _model_pose(object_points, cloud, w)
    return None if fit is None else (fit[0], np.array(fit[1]))


def _model_pose(
    src: NDArray[np.float64],
    dst: NDArray[np.float64],
    w: NDArray[np.float64],
    centred: tuple[NDArray[np.float64], NDArray[np.float64], float] | None = None,
) -> tuple[NDArray[np.float64], list[float]] | None:
    """``_weighted_similarity``'s rotation and translation over its size (the cloud's size is
    MediaPipe's guess: the model keeps its own), or None when the size is not positive and
    finite. The 3-vector arithmetic on floats: the same numbers as numpy's, without its calls."""
    size, rotation, t = _weighted_similarity(src, dst, w, centred)
    if not (size > 0.0 and math.isfinite(size)):
        return None
    return rotation, [t[0] / size, t[1] / size, t[2] / size]


def _depth_cloud(points_px: NDArray[np.float64], w: NDArray[np.float64], cam: CameraIntrinsics) -> NDArray[np.float64]:
    """``_fit_with_depth``'s cloud at mean depth 1: per point, its undistorted normalised ray
    ``(x, y, 1)`` times its relative depth ``1 + z / fx - mean(z / fx)`` (weights ``w``)."""
    if any(cam.distortion):
        rel = points_px[:, 2] / cam.fx  # depth offsets in units of the face's mean depth
        cloud = np.empty((len(rel), 3))
        cloud[:, :2] = cam.normalised(points_px[:, :2])
    else:  # the pinhole inverse of all three columns in two broadcast operations
        offset, scale = _pinhole(cam.cx, cam.cy, cam.fx, cam.fy)
        cloud = points_px - offset  # (x - cx, y - cy, z)
        cloud /= scale  # (normalised x, normalised y, z / fx)
        rel = cloud[:, 2].copy()  # contiguous: the weighted mean below sums in the order it always did
    rel -= w @ rel
    rel += 1.0
    cloud[:, :2] *= rel[:, None]
    cloud[:, 2] = rel
    return cloud


@lru_cache(maxsize=8)
def _pinhole(cx: float, cy: float, fx: float, fy: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(cx, cy, 0)`` and ``(fx, fy, fx)``: what ``_depth_cloud`` subtracts from and divides
    pixel points (x, y, MediaPipe depth) by (read-only)."""
    offset, scale = np.array((cx, cy, 0.0)), np.array((fx, fy, fx))
    offset.setflags(write=False)
    scale.setflags(write=False)
    return offset, scale


@lru_cache(maxsize=8)
def _pixel_scale(width: int, height: int, columns: int) -> NDArray[np.float64]:
    """``(width, height, width)`` (its first ``columns``): MediaPipe's normalised points (z on
    x's scale) times it are pixels (read-only)."""
    scale = np.array((width, height, width)[:columns], dtype=np.float64)
    scale.setflags(write=False)
    return scale


def _facing_weights(rotation: NDArray[np.float64], tvec: NDArray[np.float64], object_points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per rigid point, 1 where its surface faces the camera within 60 degrees, falling linearly
    to 0 (floor 1e-3) at grazing view: self-occluded points (the far cheek's contour on a turned
    head) carry no image evidence, MediaPipe only guesses them (it pulls them onto the visible
    silhouette, which reads as a smaller turn)."""
    points = object_points @ rotation.T
    points += tvec
    normals = _rigid_normals() @ rotation.T
    cos = np.einsum("ij,ij->i", normals, points)
    cos /= np.sqrt(np.einsum("ij,ij->i", points, points))
    cos /= -FACING_FULL_WEIGHT_COS  # the normal points out of the face, the ray into it: -cos
    np.maximum(cos, 1e-3, out=cos)
    return np.minimum(cos, 1.0, out=cos)


@lru_cache(maxsize=1)
def _rigid_model() -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """The rigid landmarks' indices (intp, numpy's index type) and canonical positions (cm),
    both read-only, and MediaPipe's weights."""
    model = canonical_face()
    ids = model.rigid_ids.astype(np.intp)
    object_points = model.vertices_cm[ids]
    for a in (ids, object_points):
        a.setflags(write=False)
    return ids, object_points, model.rigid_weights


@lru_cache(maxsize=1)
def _first_pass_weights() -> tuple[NDArray[np.float64], tuple[NDArray[np.float64], NDArray[np.float64], float]]:
    """The depth-aware fit's first-pass weights (MediaPipe's, summing to 1) and
    ``_centred(object_points, weights)``: constant, so computed once (arrays read-only)."""
    _, object_points, weights = _rigid_model()
    w = weights / weights.sum()
    ms, waw, var = _centred(object_points, w)
    for a in (w, ms, waw):
        a.setflags(write=False)
    return w, (ms, waw, var)


@lru_cache(maxsize=1)
def _rigid_normals() -> NDArray[np.float64]:
    """Unit vertex normals (area-weighted, pointing out of the face) of the rigid points."""
    model = canonical_face()
    v, tri = model.vertices_cm, model.triangles
    face_normals = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    normals = np.zeros_like(v)
    for k in range(3):
        np.add.at(normals, tri[:, k], face_normals)
    n = normals[model.rigid_ids]
    n = n / np.linalg.norm(n, axis=1, keepdims=True)
    n.setflags(write=False)
    return n


def _centred(
    src: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """``src``'s weighted mean, ``[w, w * (src - mean)]`` as (N, 4) columns, and ``src``'s weighted
    variance: the parts of ``_weighted_similarity`` that depend on ``src`` and ``w`` only."""
    ms = w @ src
    a = src - ms
    waw = np.empty((len(w), 4))  # columns: w, then w * (src - ms)
    waw[:, 0] = w
    np.multiply(a, w[:, None], out=waw[:, 1:])
    return ms, waw, float(np.einsum("ij,ij->", waw[:, 1:], a))


def _weighted_similarity(
    src: NDArray[np.float64],
    dst: NDArray[np.float64],
    w: NDArray[np.float64],
    centred: tuple[NDArray[np.float64], NDArray[np.float64], float] | None = None,
) -> tuple[float, NDArray[np.float64], list[float]]:
    """``dst ~ s R src + t`` in the weighted least-squares sense (Umeyama); ``w`` sums to 1.
    Returns (s, R, t), t as three floats. ``centred`` is ``_centred(src, w)`` when the caller
    already has it."""
    ms, waw, var = _centred(src, w) if centred is None else centred
    both = dst.T @ waw  # column 0: the weighted mean of dst; then the weighted covariance:
    md = both[:, 0]  # sum_i w_i (dst_i - md) a_i^T = sum_i dst_i (w_i a_i)^T, since sum_i w_i a_i = 0
    sv, u, vt = cv2.SVDecomp(both[:, 1:])  # one C call: a quarter of np.linalg.svd's cost at 3x3
    s0, s1, s2 = sv.ravel().tolist()
    rotation = u @ vt
    if _det3(rotation) < 0.0:  # a reflection: flip the weakest axis
        u[:, 2] = -u[:, 2]
        s2 = -s2
        rotation = u @ vt
    s = (s0 + s1 + s2) / var  # the left-to-right sum numpy's sum of three values does
    m0, m1, m2 = (rotation @ ms).tolist()
    d0, d1, d2 = md.tolist()
    return s, rotation, [m0 * -s + d0, m1 * -s + d1, m2 * -s + d2]  # md - s R ms


def _det3(m: NDArray[np.float64]) -> float:
    """Determinant of a 3x3 matrix (plain arithmetic: cheaper than LAPACK at this size)."""
    (a, b, c), (d, e, f), (g, h, i) = m.tolist()
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def _solve_sqpnp(
    object_points: NDArray[np.float64], image_points: NDArray[np.float64], cam: CameraIntrinsics
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """SQPnP then LM refinement: (rvec, tvec) or None when OpenCV finds no pose (or rejects the
    input: ``cv2.error``)."""
    try:
        ok, rvec, tvec = cv2.solvePnP(
            object_points, image_points, cam.matrix, cam.distortion_array, flags=cv2.SOLVEPNP_SQPNP
        )
        if not ok:
            return None
        rvec, tvec = cv2.solvePnPRefineLM(object_points, image_points, cam.matrix, cam.distortion_array, rvec, tvec)
    except cv2.error:
        return None
    return _finite_pose(rvec, tvec)


def _refine_from(
    previous: HeadPose,
    object_points: NDArray[np.float64],
    image_points: NDArray[np.float64],
    cam: CameraIntrinsics,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """A few LM steps from ``previous``: (rvec, tvec) or None when OpenCV finds no pose (or
    rejects the input: ``cv2.error``)."""
    rotation_matrix, tvec = internal_head_to_opencv_pose(previous.rotation, previous.position)
    try:
        rvec, _ = cv2.Rodrigues(rotation_matrix)
        ok, rvec, tvec = cv2.solvePnP(
            object_points,
            image_points,
            cam.matrix,
            cam.distortion_array,
            rvec=rvec.copy(),
            tvec=tvec.reshape(3, 1).copy(),
            useExtrinsicGuess=True,
            flags=cv2.SOLVEPNP_ITERATIVE,
        )
    except cv2.error:
        return None
    if not ok:
        return None
    return _finite_pose(rvec, tvec)


def _finite_pose(
    rvec: NDArray[np.float64], tvec: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """(rvec, tvec) flattened to 3-vectors, or None if either is not finite."""
    rvec, tvec = rvec.reshape(3), tvec.reshape(3)
    if not (np.isfinite(rvec).all() and np.isfinite(tvec).all()):
        return None
    return rvec, tvec


def _rms_reprojection(
    object_points: NDArray[np.float64],
    image_points: NDArray[np.float64],
    rvec: NDArray[np.float64] | None,
    tvec: NDArray[np.float64],
    cam: CameraIntrinsics,
    rotation_matrix: NDArray[np.float64] | None = None,
) -> float:
    """RMS image distance (px) of the projected model points from ``image_points``;
    ``rotation_matrix`` is ``rvec``'s matrix when the caller already has it."""
    if any(cam.distortion):
        if rvec is None:
            rvec = cv2.Rodrigues(rotation_matrix)[0]
        projected, _ = cv2.projectPoints(object_points, rvec, tvec, cam.matrix, cam.distortion_array)
        projected = projected.reshape(-1, 2)
    else:  # the pinhole projection itself (what projectPoints does without distortion)
        rotation = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64))[0] if rotation_matrix is None else rotation_matrix
        p = object_points @ rotation.T
        p += np.asarray(tvec, dtype=np.float64).reshape(3)
        projected = p[:, :2] / p[:, 2:3]
        offset, scale = _pinhole(cam.cx, cam.cy, cam.fx, cam.fy)
        projected *= scale[:2]
        projected += offset[:2]
    d = projected - image_points
    return math.sqrt(float(np.einsum("ij,ij->", d, d)) / len(d))
