"""The intrinsics bench's camera plumbing (no MediaPipe): the renderer's pinhole, the lens
resampling and the exact-landmark control all describe the same camera."""

from __future__ import annotations

import numpy as np
import pytest

from vtuber.bench import intrinsics as bi
from vtuber.bench.face import _engine_camera
from vtuber.calibrate.camera import project_rays, undistort_to_rays
from vtuber.solve.camera import CameraIntrinsics


def test_bench_camera_is_not_the_default() -> None:
    cam = bi.bench_camera()
    default = CameraIntrinsics.from_fov(640, 480)
    assert cam.fx == pytest.approx(879.19, abs=0.01)  # 40 deg: 320 / tan(20 deg)
    assert (cam.cx, cam.cy) == pytest.approx((345.6, 254.4))
    assert cam.fx / default.fx > 1.5


def test_renderer_pinhole_round_trips_to_the_engine_camera() -> None:
    cam = bi.bench_camera()
    back = _engine_camera(cam.width, cam.height, bi.pinhole_for_renderer(cam))  # the face bench's conversion
    assert (back.fx, back.fy, back.cx, back.cy) == pytest.approx((cam.fx, cam.fy, cam.cx, cam.cy))


def test_lens_maps_look_up_the_undistorted_ray() -> None:
    """Output pixel p must read the pinhole image where p's ray lands: mapping back through the
    lens (distorting that ray) returns p. A map built the wrong way round (distorting instead of
    undistorting) misses by the ~10 px the lens moves the corners."""
    cam = bi.bench_camera()
    map_x, map_y, (px, py) = bi.lens_maps(cam)
    assert map_x.shape == (480, 640)
    assert map_x.min() >= 0 and map_x.max() <= 640 + 2 * px - 1
    assert map_y.min() >= 0 and map_y.max() <= 480 + 2 * py - 1
    pixels = np.array([[0.0, 0.0], [639.0, 479.0], [100.0, 400.0], [345.0, 254.0]])
    ideal = np.stack([map_x[pixels[:, 1].astype(int), pixels[:, 0].astype(int)] - px, map_y[pixels[:, 1].astype(int), pixels[:, 0].astype(int)] - py], 1)
    rays = (ideal - [cam.cx, cam.cy]) / [cam.fx, cam.fy]
    assert np.abs(project_rays(cam, rays) - pixels).max() < 0.01
    assert np.linalg.norm(ideal[0] - pixels[0]) > 5.0  # the lens does move the corner


def test_exact_landmarks_go_through_the_lens() -> None:
    """The control's landmark pixels undistort to the rays of the renderer's 3D landmarks."""
    from vtuber.synth.face_render import FaceRenderer

    cam = bi.bench_camera()
    lens = bi.LensRenderer(FaceRenderer.astronaut(), cam)
    state = bi.head_state(cam, 20.0, -10.0, 5.0, (180.0, 200.0), 0.6)
    px = lens.landmarks_px(state)
    cam_cm = lens.renderer.render_with_truth(state, lens.pinhole).landmarks_camera_cm
    assert np.abs(undistort_to_rays(cam, px) - cam_cm[:, :2] / cam_cm[:, 2:]).max() < 1e-6
    assert np.linalg.norm(px.mean(axis=0) - (180.0, 200.0)) < 40.0  # the head is where it was aimed


def test_summarise() -> None:
    s = bi.summarise(np.array([[1.0, -2.0, 0.0], [-3.0, 2.0, 1.0]]))
    assert (s["yaw"], s["pitch"], s["roll"]) == (2.0, 2.0, 0.5)
    assert s["mean"] == pytest.approx(1.5)
    assert s["signed"] == [-1.0, 0.0, 0.5]


def test_off_axis_slope_recovers_a_linear_trend() -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(-8, 8, size=(30, 2))
    errors = np.column_stack([0.6 * angles[:, 0] - 1.0, -0.3 * angles[:, 1] + 0.5, rng.normal(0, 1, 30)])
    s = bi.off_axis_slope(angles, errors)
    assert s["yaw_per_horizontal"] == pytest.approx(0.6) and s["pitch_per_vertical"] == pytest.approx(-0.3)
