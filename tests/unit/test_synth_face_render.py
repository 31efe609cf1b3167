"""The synthetic face renderer: geometry directions derived from vtuber.conventions, expressions,
determinism, and that the photo texture really lands on the projected landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from vtuber import geometry
from vtuber.synth.face_render import CameraIntrinsics, FaceRenderer, FaceState

NOSE_TIP = 1
FOREHEAD = 10
CHIN = 152
LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 263, 33  # subject's own sides
LEFT_LID = (386, 374)
RIGHT_LID = (159, 145)
INNER_LIPS = (13, 14)


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer.astronaut()


@pytest.fixture(scope="module")
def camera() -> CameraIntrinsics:
    return CameraIntrinsics.from_fov(480, 480)


def gap(points: np.ndarray, pair: tuple[int, int]) -> float:
    return float(np.linalg.norm(points[pair[0]] - points[pair[1]]))


def test_output_shape_dtype_and_non_square_camera(renderer: FaceRenderer) -> None:
    cam = CameraIntrinsics.from_fov(640, 360, 60.0)
    result = renderer.render_with_truth(FaceState.from_angles(10, -5, 3), cam)
    assert result.image.shape == (360, 640, 3)
    assert result.image.dtype == np.uint8
    assert result.landmarks_px.shape == (478, 2)
    assert result.landmarks_camera_cm.shape == (478, 3)
    assert result.landmarks_visible.shape == (478,)
    # the face is inside the frame
    assert np.all((result.landmarks_px >= 0) & (result.landmarks_px < [640, 360]))


def test_deterministic_across_calls_and_instances(
    renderer: FaceRenderer, camera: CameraIntrinsics
) -> None:
    state = FaceState.from_angles(17, -8, 6, eye_closed_left=0.4, jaw_open=0.6)
    a = renderer.render(state, camera)
    b = renderer.render(state, camera)
    c = FaceRenderer.astronaut().render(state, camera)
    assert np.array_equal(a, b)
    assert np.array_equal(a, c)


def test_rest_pose_subject_left_is_image_right(
    renderer: FaceRenderer, camera: CameraIntrinsics
) -> None:
    lm = renderer.project_landmarks(FaceState(), camera)
    assert lm[LEFT_EYE_OUTER, 0] > lm[RIGHT_EYE_OUTER, 0]
    assert lm[FOREHEAD, 1] < lm[NOSE_TIP, 1] < lm[CHIN, 1]  # image y points down


def test_positive_yaw_moves_nose_to_image_right(
    renderer: FaceRenderer, camera: CameraIntrinsics
) -> None:
    # yaw rotates +Z (out of the face) toward +X (the subject's left), which the camera facing
    # the subject sees on the image right
    rest = renderer.project_landmarks(FaceState(), camera)
    for yaw in (10.0, 25.0):
        lm = renderer.project_landmarks(FaceState.from_angles(yaw_deg=yaw), camera)
        assert lm[NOSE_TIP, 0] - rest[NOSE_TIP, 0] > 5.0
        # and the nose moves relative to the face (a turn, not a slide)
        assert lm[NOSE_TIP, 0] - lm[:468, 0].mean() > rest[NOSE_TIP, 0] - rest[:468, 0].mean() + 3.0
    neg = renderer.project_landmarks(FaceState.from_angles(yaw_deg=-25.0), camera)
    assert neg[NOSE_TIP, 0] < rest[NOSE_TIP, 0] - 5.0


def test_positive_pitch_moves_nose_down_and_positive_roll_tilts_top_to_image_left(
    renderer: FaceRenderer, camera: CameraIntrinsics
) -> None:
    rest = renderer.project_landmarks(FaceState(), camera)
    # Rx(+pitch) turns +Z toward -Y: the face looks down, the nose tip drops in the image
    down = renderer.project_landmarks(FaceState.from_angles(pitch_deg=20.0), camera)
    assert down[NOSE_TIP, 1] - down[:468, 1].mean() > rest[NOSE_TIP, 1] - rest[:468, 1].mean() + 3.0
    # Rz(+roll) turns +Y toward -X (the subject's right = image left)
    rolled = renderer.project_landmarks(FaceState.from_angles(roll_deg=20.0), camera)
    assert rolled[FOREHEAD, 0] < rolled[CHIN, 0] - 20.0
    assert abs(rest[FOREHEAD, 0] - rest[CHIN, 0]) < 2.0


def test_state_from_angles_matches_geometry(renderer: FaceRenderer) -> None:
    state = FaceState.from_angles(20.0, -10.0, 5.0)
    expected = geometry.from_yaw_pitch_roll(*np.radians([20.0, -10.0, 5.0]))
    assert geometry.angle_between(state.rotation, expected) < 1e-9
    assert np.allclose(state.yaw_pitch_roll_deg(), (20.0, -10.0, 5.0))


@pytest.mark.parametrize("angles", [(0, 0, 0), (25, -15, 10)])
def test_eye_closure_closes_only_that_eye(
    renderer: FaceRenderer, camera: CameraIntrinsics, angles: tuple[float, float, float]
) -> None:
    open_ = renderer.project_landmarks(FaceState.from_angles(*angles), camera)
    left = renderer.project_landmarks(FaceState.from_angles(*angles, eye_closed_left=1.0), camera)
    half = renderer.project_landmarks(FaceState.from_angles(*angles, eye_closed_right=0.5), camera)
    assert gap(open_, LEFT_LID) > 4.0
    assert gap(left, LEFT_LID) < 0.1 * gap(open_, LEFT_LID)
    assert gap(left, RIGHT_LID) == pytest.approx(gap(open_, RIGHT_LID), abs=1e-6)
    assert 0.3 * gap(open_, RIGHT_LID) < gap(half, RIGHT_LID) < 0.7 * gap(open_, RIGHT_LID)


def test_eye_closure_changes_pixels_over_the_eye(
    renderer: FaceRenderer, camera: CameraIntrinsics
) -> None:
    open_ = renderer.render_with_truth(FaceState(), camera)
    closed = renderer.render(FaceState(eye_closed_left=1.0, eye_closed_right=1.0), camera)
    # the iris centre (468: subject's right, 473: left) is dark when open, skin when closed
    for iris in (468, 473):
        x, y = np.round(open_.landmarks_px[iris] - 0.5).astype(int)
        assert closed[y, x].astype(int).sum() > open_.image[y, x].astype(int).sum() + 60


def test_jaw_open_opens_lips_and_darkens_mouth(
    renderer: FaceRenderer, camera: CameraIntrinsics
) -> None:
    shut = renderer.render_with_truth(FaceState(), camera)
    opened = renderer.render_with_truth(FaceState(jaw_open=1.0), camera)
    a, b = shut.landmarks_px, opened.landmarks_px
    assert gap(b, INNER_LIPS) > gap(a, INNER_LIPS) + 15.0
    assert b[CHIN, 1] > a[CHIN, 1] + 10.0  # the chin drops
    assert np.linalg.norm(b[13] - a[13]) < 0.5  # the upper lip stays
    assert np.linalg.norm(b[FOREHEAD] - a[FOREHEAD]) < 1e-6
    # the mouth interior below the upper teeth is dark
    x = round((b[13, 0] + b[14, 0]) / 2)
    y = round(b[13, 1] + 0.7 * (b[14, 1] - b[13, 1]))
    assert opened.image[y, x].astype(int).sum() < 200
    assert opened.image[y, x].astype(int).sum() < shut.image[y, x].astype(int).sum() - 150


def test_texture_lands_on_landmarks(renderer: FaceRenderer, camera: CameraIntrinsics) -> None:
    # turned and tilted: the iris centres are dark, the cheeks bright skin
    r = renderer.render_with_truth(FaceState.from_angles(20, 10, -10), camera)
    px = np.round(r.landmarks_px - 0.5).astype(int)

    def lum(i: int) -> float:
        x, y = px[i]
        return float(r.image[y - 1 : y + 2, x - 1 : x + 2].mean())

    for iris in (468, 473):
        for cheek in (50, 280):
            assert lum(iris) < lum(cheek) - 60


def test_visibility_of_landmarks(renderer: FaceRenderer, camera: CameraIntrinsics) -> None:
    rest = renderer.render_with_truth(FaceState(), camera)
    turned = renderer.render_with_truth(FaceState.from_angles(yaw_deg=40.0), camera)
    assert rest.landmarks_visible.mean() > 0.95
    # turned toward the subject's left: the left cheek goes away from the camera, so its
    # contour (454, 323, 361) is hidden and the right cheek's (234, 93, 132) faces the camera
    assert not turned.landmarks_visible[[454, 323, 361]].any()
    assert turned.landmarks_visible[[234, 93, 132]].all()
    closed = renderer.render_with_truth(FaceState(eye_closed_left=1.0), camera)
    assert not closed.landmarks_visible[473:478].any()
    assert closed.landmarks_visible[468:473].all()


def test_head_turn_moves_the_face_pixels_not_the_background(
    renderer: FaceRenderer, camera: CameraIntrinsics
) -> None:
    a = renderer.render(FaceState(), camera).astype(int)
    b = renderer.render(FaceState.from_angles(yaw_deg=25.0), camera).astype(int)
    diff = np.abs(a - b).sum(axis=2) > 30
    assert diff[150:330, 150:330].mean() > 0.2  # the face changed
    assert diff[:, :60].mean() < 0.01 and diff[420:, :].mean() < 0.01  # the scene did not


def test_state_validation() -> None:
    with pytest.raises(ValueError):
        FaceState(eye_closed_left=1.5)
    with pytest.raises(ValueError):
        FaceState(jaw_open=-0.1)
    with pytest.raises(ValueError):
        FaceState(position_m=(0.0, 0.0, 0.3))  # behind the camera
    with pytest.raises(ValueError):
        FaceState(rotation_xyzw=(0.0, 0.0, 0.0, 0.0))
    s = FaceState(rotation_xyzw=(0.0, 0.0, 0.0, 2.0))
    assert s.rotation_xyzw == (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(AttributeError):
        s.jaw_open = 0.5  # type: ignore[misc]
