"""The demo source: FrameSource contract, stream time, determinism and the known motion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtuber.capture.base import FrameSource
from vtuber.capture.demo import DEMO_CYCLE_S, DemoSource, demo_motion
from vtuber.synth.face_render import FaceRenderer


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer.astronaut()


def test_implements_frame_source(renderer: FaceRenderer) -> None:
    src = DemoSource(duration_s=0.1, renderer=renderer)
    assert isinstance(src, FrameSource)
    assert src.live is False
    assert src.nominal_fps == 30.0
    assert "demo" in src.name


def test_frames_times_and_end_of_stream(renderer: FaceRenderer) -> None:
    src = DemoSource(duration_s=0.2, renderer=renderer)
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    assert [f.index for f in frames] == list(range(6))
    assert [f.t for f in frames] == pytest.approx([i / 30.0 for i in range(6)])
    for f in frames:
        assert f.image.shape == (480, 480, 3) and f.image.dtype == np.uint8
    assert src.read() is None
    src.close()
    src.close()  # twice is safe


def test_close_ends_an_endless_stream(renderer: FaceRenderer) -> None:
    src = DemoSource(renderer=renderer)
    assert src.frame_count is None
    assert src.read() is not None
    src.close()
    assert src.read() is None


def test_deterministic_and_random_access(renderer: FaceRenderer) -> None:
    a = DemoSource(duration_s=0.1, renderer=renderer)
    b = DemoSource(duration_s=0.1, renderer=FaceRenderer.astronaut())
    fa, fb = a.read(), b.read()
    fa2 = a.read()
    assert fa is not None and fb is not None and fa2 is not None
    assert np.array_equal(fa.image, fb.image)
    assert np.array_equal(a.render(1).image, fa2.image)
    assert not np.array_equal(fa.image, a.render(45).image)  # it moves


def test_ground_truth_matches_motion_and_render(renderer: FaceRenderer) -> None:
    src = DemoSource(renderer=renderer)
    for index in (0, 37, 200, 359):
        assert src.ground_truth(index) == demo_motion(index / 30.0)
    frame = src.render(100)
    expected = renderer.render(demo_motion(100 / 30.0), src.camera)
    assert np.array_equal(frame.image, expected)


def test_motion_is_pure_and_periodic() -> None:
    for t in (0.0, 1.1, 3.3, 5.2, 7.77, 11.3):
        assert demo_motion(t) == demo_motion(t)
        a, b = demo_motion(t), demo_motion(t + DEMO_CYCLE_S)
        assert np.allclose(a.rotation_xyzw, b.rotation_xyzw, atol=1e-9)
        assert a.eye_closed_left == pytest.approx(b.eye_closed_left)
        assert a.jaw_open == pytest.approx(b.jaw_open)


def test_motion_ranges_over_a_cycle() -> None:
    ts = np.arange(0.0, DEMO_CYCLE_S, 1.0 / 30.0)
    states = [demo_motion(float(t)) for t in ts]
    ypr = np.array([s.yaw_pitch_roll_deg() for s in states])
    assert ypr[:, 0].max() == pytest.approx(25.0, abs=0.5) and ypr[:, 0].min() == pytest.approx(
        -25.0, abs=0.5
    )
    assert np.abs(ypr[:, 1]).max() == pytest.approx(12.0, abs=0.5)
    assert np.abs(ypr[:, 2]).max() == pytest.approx(10.0, abs=0.5)
    # yaw is a 6 s sinusoid: +25 at 1.5 s
    assert demo_motion(1.5).yaw_pitch_roll_deg()[0] == pytest.approx(25.0, abs=1e-6)
    left = np.array([s.eye_closed_left for s in states])
    right = np.array([s.eye_closed_right for s in states])
    jaw = np.array([s.jaw_open for s in states])
    assert left.max() == 1.0 and right.max() == 1.0 and jaw.max() > 0.7
    # mostly open eyes and closed mouth: blinks are short
    assert (left > 0.5).mean() < 0.2 and (right > 0.5).mean() < 0.2
    assert (jaw > 0.1).mean() < 0.5


def test_blinks_winks_and_mouth_at_known_times() -> None:
    for k in range(4):  # a blink of both eyes every 3 s, 0.25 s long, starting at t = 1 s
        s = demo_motion(3.0 * k + 1.125)
        assert s.eye_closed_left == 1.0 and s.eye_closed_right == 1.0
        assert demo_motion(3.0 * k + 0.9).eye_closed_left == 0.0
        assert demo_motion(3.0 * k + 1.3).eye_closed_right == 0.0
    wink_l = demo_motion(5.3)
    assert wink_l.eye_closed_left == 1.0 and wink_l.eye_closed_right == 0.0
    wink_r = demo_motion(11.3)
    assert wink_r.eye_closed_right == 1.0 and wink_r.eye_closed_left == 0.0
    assert demo_motion(3.0).jaw_open == pytest.approx(0.8)
    assert demo_motion(0.5).jaw_open == 0.0


def test_blink_frame_shows_closed_eyes(renderer: FaceRenderer) -> None:
    src = DemoSource(renderer=renderer)
    index = math.ceil(1.125 * 30)  # inside the first blink (flat top from 1.04 to 1.21 s)
    state = src.ground_truth(index)
    assert state.eye_closed_left == 1.0
    lm = renderer.project_landmarks(state, src.camera)
    assert np.linalg.norm(lm[386] - lm[374]) < 0.5
    assert np.linalg.norm(lm[159] - lm[145]) < 0.5


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        DemoSource(fps=0.0)
    with pytest.raises(ValueError):
        DemoSource(duration_s=-1.0)


def test_demo_camera_is_the_engines_default_assumption() -> None:
    """An uncalibrated run assumes [camera] horizontal_fov_deg; the demo renders with that camera,
    so its ground truth (rotation and 0.55 m depth) is what the engine should recover."""
    from vtuber.config import EngineConfig
    from vtuber.solve.camera import CameraIntrinsics

    src = DemoSource(duration_s=0.1)
    engine_cam = CameraIntrinsics.from_fov(src.camera.width, src.camera.height, EngineConfig().camera.horizontal_fov_deg)
    assert src.camera.fx == pytest.approx(engine_cam.fx) and src.camera.fy == pytest.approx(engine_cam.fy)
