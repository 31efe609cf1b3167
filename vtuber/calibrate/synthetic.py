"""Synthetic calibration captures: a board seen by a camera with known intrinsics and distortion.

Used by the tests and the calibration benchmark: render the printed board in several poses
through a distorting lens (ray-traced per pixel, 2x supersampled, blurred, with sensor noise),
run the real detector and calibration on the images, and compare with the known camera.
``synthetic_detections`` skips the rendering (projected corners plus Gaussian noise) for fast
checks of the fit alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from vtuber.calibrate.board import BoardSpec, Detection, render_board
from vtuber.calibrate.camera import undistort_to_rays
from vtuber.solve.camera import CameraIntrinsics

# A typical 640x480 USB webcam: ~55 degree horizontal view, principal point off centre, clear
# barrel distortion (about 12 px at the image corners).
EXAMPLE_CAMERA = CameraIntrinsics(640, 480, 612.0, 606.0, 327.5, 234.0, (-0.21, 0.12, 0.0012, -0.0008, -0.05))
TEXTURE_PX_PER_MM = 8.0
BACKGROUND_GREY = 96


@dataclass(frozen=True, slots=True)
class SyntheticView:
    """One rendered capture: the image (grey uint8), the true board pose (OpenCV rvec, tvec) and
    the true, noise-free corner positions (all corners, in ``BoardSpec.corner_points`` order)."""

    image: NDArray[np.uint8]
    rvec: NDArray[np.float64]
    tvec: NDArray[np.float64]
    corners_px: NDArray[np.float64]


def board_poses(
    camera: CameraIntrinsics, spec: BoardSpec, count: int, seed: int = 0, full_view: bool = True
) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """``count`` board poses as a person would show them: tilted 20-45 degrees each way, at
    0.3-0.55 m, with the board centre swept over a 3x3 grid of image positions so the corners
    of the image are covered. ``full_view``: every corner must be inside the image (needed by
    checkerboards); otherwise at least 60 % of them."""
    rng = np.random.default_rng(seed)
    w, h = camera.width, camera.height
    centre = np.array([spec.size_mm[0] / 2000.0, spec.size_mm[1] / 2000.0, 0.0])
    corners = spec.corner_points().astype(np.float64)
    targets = [(u, v) for v in (0.28, 0.5, 0.72) for u in (0.25, 0.5, 0.75)]
    poses: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []
    attempts = 0
    while len(poses) < count:
        attempts += 1
        if attempts > 200 * count:
            raise RuntimeError("cannot place the board in view: board too large for this camera")
        u, v = targets[len(poses) % len(targets)]
        target = np.array([(u + rng.normal(0, 0.06)) * w, (v + rng.normal(0, 0.06)) * h])
        tilt_x = math.radians(rng.choice([-1, 1]) * rng.uniform(20, 45))
        tilt_y = math.radians(rng.choice([-1, 1]) * rng.uniform(20, 45))
        spin = math.radians(rng.uniform(-25, 25))
        rot = _rot_z(spin) @ _rot_y(tilt_y) @ _rot_x(tilt_x)
        depth = rng.uniform(0.3, 0.55)
        ray = undistort_to_rays(camera, target[None])[0]
        tvec = depth * np.array([ray[0], ray[1], 1.0]) - rot @ centre
        rvec, _ = cv2.Rodrigues(rot)
        px, _ = cv2.projectPoints(corners, rvec, tvec, camera.matrix, camera.distortion_array)
        px = px.reshape(-1, 2)
        cam_z = (corners @ rot.T + tvec)[:, 2]
        if np.any(cam_z <= 0.05):
            continue
        inside = (px[:, 0] > 4) & (px[:, 0] < w - 5) & (px[:, 1] > 4) & (px[:, 1] < h - 5)
        if inside.mean() < (1.0 if full_view else 0.6):
            continue
        poses.append((rvec.reshape(3), tvec.reshape(3)))
    return poses


def project_corners(camera: CameraIntrinsics, spec: BoardSpec, rvec: NDArray[np.float64], tvec: NDArray[np.float64]) -> NDArray[np.float64]:
    px, _ = cv2.projectPoints(spec.corner_points().astype(np.float64), rvec, tvec, camera.matrix, camera.distortion_array)
    return px.reshape(-1, 2)


def synthetic_detections(
    camera: CameraIntrinsics, spec: BoardSpec, count: int = 15, noise_px: float = 0.2, seed: int = 0
) -> list[Detection]:
    """Detections without rendering: the true corner projections plus Gaussian noise."""
    rng = np.random.default_rng(seed + 1)
    corners = spec.corner_points()
    out = []
    for rvec, tvec in board_poses(camera, spec, count, seed):
        px = project_corners(camera, spec, rvec, tvec) + rng.normal(0.0, noise_px, size=(len(corners), 2))
        out.append(Detection((camera.width, camera.height), np.arange(len(corners), dtype=np.int32), corners, px.astype(np.float32)))
    return out


def render_view(
    camera: CameraIntrinsics,
    spec: BoardSpec,
    rvec: NDArray[np.float64],
    tvec: NDArray[np.float64],
    *,
    noise_grey: float = 2.0,
    blur_px: float = 0.6,
    rng: np.random.Generator | None = None,
) -> NDArray[np.uint8]:
    """The image ``camera`` takes of the printed board (white paper margin, grey background)."""
    rays = _pixel_rays(camera, 2)  # (H*2, W*2, 2) normalised rays of the supersampled pixels
    rot, _ = cv2.Rodrigues(np.asarray(rvec, np.float64))
    homography = np.column_stack([rot[:, 0], rot[:, 1], np.asarray(tvec, np.float64)])  # board (x, y, 1) -> ray
    inverse = np.linalg.inv(homography)
    hh, ww = rays.shape[:2]
    flat = np.concatenate([rays.reshape(-1, 2), np.ones((hh * ww, 1))], axis=1) @ inverse.T
    behind = flat[:, 2] <= 1e-9  # rays that meet the board's plane behind the camera
    board_m = flat[:, :2] / np.where(behind, 1.0, flat[:, 2])[:, None]
    texture, margin_px = _texture(spec)
    ppm = TEXTURE_PX_PER_MM * 1000.0
    map_xy = (board_m * ppm + margin_px - 0.5).astype(np.float32)
    map_xy[behind] = -1e6
    fine = cv2.remap(
        texture, map_xy[:, 0].reshape(hh, ww), map_xy[:, 1].reshape(hh, ww), cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=BACKGROUND_GREY,
    )
    image = cv2.resize(fine, (camera.width, camera.height), interpolation=cv2.INTER_AREA).astype(np.float32)
    if blur_px > 0:
        image = cv2.GaussianBlur(image, (0, 0), blur_px)
    if noise_grey > 0:
        image += (rng or np.random.default_rng(0)).normal(0.0, noise_grey, size=image.shape).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def synthetic_views(
    camera: CameraIntrinsics = EXAMPLE_CAMERA,
    spec: BoardSpec | None = None,
    count: int = 15,
    seed: int = 0,
    noise_grey: float = 2.0,
    blur_px: float = 0.6,
) -> list[SyntheticView]:
    """``count`` rendered captures of ``spec`` (default: the default ChArUco) by ``camera`` in varied poses."""
    spec = spec or BoardSpec()
    rng = np.random.default_rng(seed + 2)
    views = []
    for rvec, tvec in board_poses(camera, spec, count, seed, full_view=spec.kind == "checkerboard"):
        image = render_view(camera, spec, rvec, tvec, noise_grey=noise_grey, blur_px=blur_px, rng=rng)
        views.append(SyntheticView(image, rvec, tvec, project_corners(camera, spec, rvec, tvec)))
    return views


@lru_cache(maxsize=4)
def _pixel_rays(camera: CameraIntrinsics, supersample: int) -> NDArray[np.float64]:
    s = supersample
    xs = (np.arange(camera.width * s) + 0.5) / s - 0.5
    ys = (np.arange(camera.height * s) + 0.5) / s - 0.5
    gx, gy = np.meshgrid(xs, ys)
    rays = undistort_to_rays(camera, np.stack([gx.ravel(), gy.ravel()], axis=1))
    return rays.reshape(camera.height * s, camera.width * s, 2)


@lru_cache(maxsize=4)
def _texture(spec: BoardSpec) -> tuple[NDArray[np.uint8], float]:
    """The board on white paper (one square of margin), and the margin in texture pixels."""
    board = render_board(spec, TEXTURE_PX_PER_MM)
    margin = round(spec.square_mm * TEXTURE_PX_PER_MM)
    return cv2.copyMakeBorder(board, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=255), float(margin)


def _rot_x(a: float) -> NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a: float) -> NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
