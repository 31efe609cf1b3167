"""Camera calibration recovers a known camera from rendered boards, and helps head pose.

Sensitivity of the board to distortion: the fit cannot resolve lens distortion below the noise
of its corners. We compare the true and recovered distortion as the pixel displacement they give
the same ray (``distortion_difference_px``, same focal length and principal point in both) and
require, over the image area the board covered, an RMS no larger than the fit's own RMS
reprojection error (the corner noise), and nowhere in the image more than 2 px (the lens
itself displaces the image corners by about 37 px).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from vtuber import conventions, geometry
from vtuber.calibrate.board import BoardDetector, BoardSpec
from vtuber.calibrate.camera import (
    CalibrationError,
    calibrate_camera,
    coverage_cells,
    distortion_difference_px,
    image_grid,
    model_difference_px,
)
from vtuber.calibrate.synthetic import EXAMPLE_CAMERA, synthetic_detections, synthetic_views
from vtuber.records import FaceLandmarks
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.face_model import canonical_face
from vtuber.solve.head import solve_head

TRUE = EXAMPLE_CAMERA
RELATIVE_TOL = 0.01  # focal lengths and principal point within 1 %
MAX_DISTORTION_DIFF_PX = 2.0


def relative_errors(found: CameraIntrinsics, true: CameraIntrinsics = TRUE) -> np.ndarray:
    return np.array([abs(a - b) / b for a, b in [(found.fx, true.fx), (found.fy, true.fy), (found.cx, true.cx), (found.cy, true.cy)]])


def covered_pixels(detections, size) -> np.ndarray:
    grid = image_grid(size, 8.0)
    cells = coverage_cells(detections, size, (16, 12))
    cx = np.clip((grid[:, 0] / size[0] * 16).astype(int), 0, 15)
    cy = np.clip((grid[:, 1] / size[1] * 12).astype(int), 0, 11)
    return grid[cells[cy, cx]]


def test_model_difference_is_zero_for_the_same_camera_and_large_without_distortion() -> None:
    assert model_difference_px(TRUE, TRUE).max() < 1e-3
    ideal = CameraIntrinsics(640, 480, TRUE.fx, TRUE.fy, TRUE.cx, TRUE.cy)
    assert 25 < distortion_difference_px(TRUE, ideal).max() < 60  # the lens moves the corners ~37 px


def test_exact_corners_recover_the_camera_exactly() -> None:
    result = calibrate_camera(synthetic_detections(TRUE, BoardSpec(), count=10, noise_px=0.0))
    assert relative_errors(result.intrinsics).max() < 1e-6
    assert np.allclose(result.intrinsics.distortion, TRUE.distortion, atol=1e-5)  # float32 corners
    assert result.rms_px < 1e-4


@pytest.mark.parametrize(
    "spec",
    [BoardSpec(), BoardSpec(kind="checkerboard", squares_x=10, squares_y=7, square_mm=24.0)],
    ids=["charuco", "checkerboard"],
)
def test_rendered_boards_recover_focal_principal_point_and_distortion(spec: BoardSpec) -> None:
    views = synthetic_views(TRUE, spec, count=20, seed=0)  # noisy, blurred renders through the lens
    detector = BoardDetector(spec)
    detections = [d for d in (detector.detect(v.image) for v in views) if d is not None]
    assert len(detections) >= 18
    result = calibrate_camera(detections)
    found = result.intrinsics
    assert relative_errors(found).max() < RELATIVE_TOL, relative_errors(found)
    assert result.coverage == 1.0
    size = (TRUE.width, TRUE.height)
    inside = distortion_difference_px(TRUE, found, covered_pixels(detections, size))
    assert math.sqrt(np.mean(inside**2)) <= result.rms_px
    assert distortion_difference_px(TRUE, found).max() < MAX_DISTORTION_DIFF_PX


def test_too_few_views_is_a_calibration_error() -> None:
    with pytest.raises(CalibrationError, match="usable views"):
        calibrate_camera(synthetic_detections(TRUE, BoardSpec(), count=3))


def test_a_bad_view_is_dropped() -> None:
    detections = synthetic_detections(TRUE, BoardSpec(), count=12, noise_px=0.2)
    bad = detections[5]
    shifted = bad.image_points.copy()
    shifted[::2] += 6.0  # a misdetection
    detections[5] = type(bad)(bad.image_size, bad.ids, bad.object_points, shifted)
    result = calibrate_camera(detections)
    assert result.views_dropped == (5,)
    assert relative_errors(result.intrinsics).max() < RELATIVE_TOL


def project_face_through(camera: CameraIntrinsics, yaw: float, pitch: float, roll: float, position) -> FaceLandmarks:
    q = geometry.from_yaw_pitch_roll(*np.radians([yaw, pitch, roll]))
    r, t = conventions.internal_head_to_opencv_pose(q, np.array(position))
    rvec, _ = cv2.Rodrigues(r)
    pixels, _ = cv2.projectPoints(canonical_face().vertices_cm, rvec, t, camera.matrix, camera.distortion_array)
    pixels = pixels.reshape(-1, 2)
    points = np.zeros((478, 3), dtype=np.float32)
    points[:468, 0] = pixels[:, 0] / camera.width
    points[:468, 1] = pixels[:, 1] / camera.height
    return FaceLandmarks(points)


def test_recovered_intrinsics_give_better_head_pose_than_the_fov_default() -> None:
    recovered = calibrate_camera(synthetic_detections(TRUE, BoardSpec(), count=20, noise_px=0.25)).intrinsics
    default = CameraIntrinsics.from_fov(TRUE.width, TRUE.height)
    rng = np.random.default_rng(3)
    errors: dict[str, list[float]] = {"default": [], "recovered": []}
    for _ in range(40):
        yaw, pitch, roll = rng.uniform([-35, -20, -20], [35, 20, 20])
        position = (rng.uniform(-0.15, 0.15), rng.uniform(-0.1, 0.1), -rng.uniform(0.45, 0.7))  # anywhere in view
        face = project_face_through(TRUE, yaw, pitch, roll, position)
        for name, camera in (("default", default), ("recovered", recovered)):
            pose = solve_head(face, (TRUE.width, TRUE.height), camera)
            assert pose is not None
            q = geometry.from_yaw_pitch_roll(*np.radians([yaw, pitch, roll]))
            errors[name].append(math.degrees(geometry.angle_between(pose.rotation, q)))
    mean = {k: float(np.mean(v)) for k, v in errors.items()}
    assert mean["recovered"] < 0.5 * mean["default"], mean
    assert mean["recovered"] < 0.5, mean
    print(f"mean head rotation error: fov default {mean['default']:.2f} deg, recovered {mean['recovered']:.2f} deg")
