"""Board detections -> camera intrinsics, distortion and the RMS reprojection error (pure).

The fit is ``cv2.calibrateCameraExtended`` over all views (the OpenCV 5-coefficient model
k1, k2, p1, p2, k3); views that reproject far worse than the rest (motion blur, a misdetected
corner) are dropped once and the fit repeated. ``model_difference_px`` compares two camera models
in the one unit that matters to PnP: how far apart they put the same ray in the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from vtuber.calibrate.board import Detection
from vtuber.errors import CalibrationError
from vtuber.solve.camera import CameraIntrinsics

MIN_VIEWS = 5  # fewer views leave focal length and distortion entangled
MIN_POINTS_PER_VIEW = 6
OUTLIER_VIEW_FACTOR = 3.0  # a view whose RMS is > 3x the median (and > 1 px) is dropped
OUTLIER_VIEW_FLOOR_PX = 1.0
COVERAGE_GRID = (4, 3)  # image cells (across, down) used to report coverage


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """A fitted camera.

    Attributes:
        intrinsics: focal lengths, principal point and distortion at the calibrated image size.
        rms_px: RMS reprojection error over all corners of the views used, pixels.
        per_view_rms_px: RMS of each view used, in input order of the views kept.
        views_used, views_dropped: indices (into the input list) of views kept / rejected.
        points: corners that entered the final fit.
        coverage: fraction of the image's ``COVERAGE_GRID`` cells that held a corner.
        std_dev: one-sigma uncertainty of (fx, fy, cx, cy, k1, k2, p1, p2, k3) from the fit.
    """

    intrinsics: CameraIntrinsics
    rms_px: float
    per_view_rms_px: tuple[float, ...]
    views_used: tuple[int, ...]
    views_dropped: tuple[int, ...]
    points: int
    coverage: float
    std_dev: tuple[float, ...] = field(default=())


def coverage(detections: list[Detection], image_size: tuple[int, int], grid: tuple[int, int] = COVERAGE_GRID) -> float:
    """Fraction of the image's grid cells in which at least one corner was seen (0..1).

    Distortion grows towards the edges: a fit whose corners never reached the image corners
    extrapolates there. Aim for 1.0 (every cell).
    """
    return float(coverage_cells(detections, image_size, grid).mean())


def coverage_cells(
    detections: list[Detection], image_size: tuple[int, int], grid: tuple[int, int] = COVERAGE_GRID
) -> NDArray[np.bool_]:
    """(rows, cols) booleans: which cells of the image saw a corner."""
    cells = np.zeros((grid[1], grid[0]), dtype=bool)
    w, h = image_size
    for d in detections:
        p = d.image_points
        cx = np.clip((p[:, 0] / w * grid[0]).astype(int), 0, grid[0] - 1)
        cy = np.clip((p[:, 1] / h * grid[1]).astype(int), 0, grid[1] - 1)
        cells[cy, cx] = True
    return cells


def calibrate_camera(
    detections: list[Detection],
    image_size: tuple[int, int] | None = None,
    *,
    drop_outlier_views: bool = True,
) -> CalibrationResult:
    """Fit intrinsics and distortion to board detections from one camera at one resolution.

    Raises:
        CalibrationError: too few usable views, views of different sizes, or a failed fit.
    """
    views = [(i, d) for i, d in enumerate(detections) if d.count >= MIN_POINTS_PER_VIEW]
    if not views:
        raise CalibrationError("no view with enough board corners: show the whole board, flat and in focus")
    size = image_size or views[0][1].image_size
    odd = [i for i, d in views if d.image_size != size]
    if odd:
        raise CalibrationError(f"views {odd} have another image size than {size[0]}x{size[1]}: calibrate one resolution at a time")
    if len(views) < MIN_VIEWS:
        raise CalibrationError(
            f"only {len(views)} usable views (need {MIN_VIEWS}+): tilt the board in several directions and move it around the image"
        )
    fit = _fit(views, size)
    dropped: list[int] = []
    if drop_outlier_views:
        per_view = fit[2]
        limit = max(OUTLIER_VIEW_FACTOR * float(np.median(per_view)), OUTLIER_VIEW_FLOOR_PX)
        bad = {views[k][0] for k, e in enumerate(per_view) if e > limit}
        if bad and len(views) - len(bad) >= MIN_VIEWS:
            dropped = sorted(bad)
            views = [(i, d) for i, d in views if i not in bad]
            fit = _fit(views, size)
    rms, intrinsics, per_view, std = fit
    used = [d for _, d in views]
    return CalibrationResult(
        intrinsics=intrinsics,
        rms_px=rms,
        per_view_rms_px=tuple(float(e) for e in per_view),
        views_used=tuple(i for i, _ in views),
        views_dropped=tuple(dropped),
        points=int(sum(d.count for d in used)),
        coverage=coverage(used, size),
        std_dev=tuple(float(s) for s in std),
    )


def _fit(
    views: list[tuple[int, Detection]], size: tuple[int, int]
) -> tuple[float, CameraIntrinsics, NDArray[np.float64], NDArray[np.float64]]:
    object_points = [d.object_points.reshape(-1, 1, 3).astype(np.float32) for _, d in views]
    image_points = [d.image_points.reshape(-1, 1, 2).astype(np.float32) for _, d in views]
    criteria = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-10)
    try:
        rms, matrix, dist, _rvecs, _tvecs, std_intr, _std_extr, per_view = cv2.calibrateCameraExtended(
            object_points, image_points, size, None, None, criteria=criteria
        )
    except cv2.error as exc:
        raise CalibrationError(f"the calibration fit failed ({str(exc).strip().splitlines()[-1]}): capture more varied views") from exc
    dist = np.asarray(dist, dtype=np.float64).ravel()[:5]
    intrinsics = CameraIntrinsics(
        int(size[0]),
        int(size[1]),
        float(matrix[0, 0]),
        float(matrix[1, 1]),
        float(matrix[0, 2]),
        float(matrix[1, 2]),
        tuple(float(c) for c in dist),
    )
    if not np.all(np.isfinite(matrix)) or not np.all(np.isfinite(dist)) or matrix[0, 0] <= 0 or matrix[1, 1] <= 0:
        raise CalibrationError("the calibration fit diverged: capture more varied views (tilt the board 20-40 degrees)")
    return float(rms), intrinsics, np.asarray(per_view, dtype=np.float64).ravel(), np.asarray(std_intr).ravel()[:9]


def image_grid(size: tuple[int, int], step_px: float = 16.0, region: tuple[float, float, float, float] | None = None) -> NDArray[np.float64]:
    """Pixel positions on a regular grid over the image (or over ``region`` = x0, y0, x1, y1)."""
    w, h = size
    x0, y0, x1, y1 = region or (0.0, 0.0, w - 1.0, h - 1.0)
    xs = np.arange(x0, x1 + 1e-9, step_px)
    ys = np.arange(y0, y1 + 1e-9, step_px)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def model_difference_px(
    reference: CameraIntrinsics, other: CameraIntrinsics, pixels: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """How far apart the two models put the same rays: for each pixel of ``reference``'s image
    (default: a 16 px grid over the whole image), the ray it sees under ``reference`` is projected
    with ``other``; the result is the pixel distance, one value per pixel.

    This is the error PnP inherits from a wrong camera model (focal length, principal point and
    distortion together), in pixels; compare it with the corner-detection noise.
    """
    other = other.scaled_to(reference.width, reference.height)
    pts = image_grid((reference.width, reference.height)) if pixels is None else np.asarray(pixels, np.float64)
    rays = undistort_to_rays(reference, pts)
    again = project_rays(other, rays)
    return np.linalg.norm(again - pts, axis=1)


def distortion_difference_px(
    reference: CameraIntrinsics, other: CameraIntrinsics, pixels: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """Like ``model_difference_px`` but with ``reference``'s focal lengths and principal point in
    both models: only the distortion coefficients differ."""
    swapped = CameraIntrinsics(
        reference.width, reference.height, reference.fx, reference.fy, reference.cx, reference.cy, other.distortion
    )
    return model_difference_px(reference, swapped, pixels)


def undistort_to_rays(camera: CameraIntrinsics, pixels: NDArray[np.float64]) -> NDArray[np.float64]:
    """Normalised image coordinates (x/z, y/z) of the rays seen at ``pixels`` (N, 2)."""
    pts = np.asarray(pixels, np.float64).reshape(-1, 1, 2)
    criteria = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 50, 1e-12)
    rays = cv2.undistortPointsIter(pts, camera.matrix, camera.distortion_array, None, None, criteria)
    return rays.reshape(-1, 2)


def project_rays(camera: CameraIntrinsics, rays: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pixels at which ``camera`` images the normalised rays (N, 2)."""
    points = np.concatenate([rays, np.ones((len(rays), 1))], axis=1)
    projected, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), camera.matrix, camera.distortion_array)
    return projected.reshape(-1, 2)
