"""Head PnP on synthetic geometry: rotate the canonical face, project it, solve, compare."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from vtuber import conventions, geometry
from vtuber.records import FaceLandmarks, HeadPose
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.face_model import canonical_face
from vtuber.solve.head import solve_head

SIZE = (640, 480)
CAMERA = CameraIntrinsics.from_fov(*SIZE, 60.0)
HEAD_ANGLE_TOL_DEG = 0.5  # exact landmarks: the fit must be near-exact


def project_face(yaw: float, pitch: float, roll: float, position=(0.02, 0.01, -0.6), noise_px: float = 0.0,
                 rng: np.random.Generator | None = None) -> FaceLandmarks:
    q = geometry.from_yaw_pitch_roll(*np.radians([yaw, pitch, roll]))
    r, t = conventions.internal_head_to_opencv_pose(q, np.array(position))
    rvec, _ = cv2.Rodrigues(r)
    pixels, _ = cv2.projectPoints(canonical_face().vertices_cm, rvec, t, CAMERA.matrix, None)
    pixels = pixels.reshape(-1, 2)
    if noise_px:
        pixels = pixels + (rng or np.random.default_rng(0)).normal(scale=noise_px, size=pixels.shape)
    points = np.zeros((478, 3), dtype=np.float32)
    points[:468, 0] = pixels[:, 0] / SIZE[0]
    points[:468, 1] = pixels[:, 1] / SIZE[1]
    return FaceLandmarks(points)


def angles_deg(pose: HeadPose) -> np.ndarray:
    return np.degrees(geometry.to_yaw_pitch_roll(pose.rotation))


@pytest.mark.parametrize(
    "yaw,pitch,roll", [(0, 0, 0), (40, 0, 0), (-40, 0, 0), (0, 25, 0), (0, -25, 0), (0, 0, 30), (-35, -20, 15), (30, 20, -25)]
)
def test_recovers_known_rotation_and_position(yaw: float, pitch: float, roll: float) -> None:
    pose = solve_head(project_face(yaw, pitch, roll), SIZE, CAMERA)
    assert pose is not None
    assert np.allclose(angles_deg(pose), [yaw, pitch, roll], atol=HEAD_ANGLE_TOL_DEG)
    assert np.allclose(pose.position, [0.02, 0.01, -0.6], atol=0.005)


def test_noisy_landmarks_stay_within_two_degrees() -> None:
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(50):
        yaw, pitch, roll = rng.uniform([-40, -25, -30], [40, 25, 30])
        pose = solve_head(project_face(yaw, pitch, roll, noise_px=1.0, rng=rng), SIZE, CAMERA)
        assert pose is not None
        errors.append(np.abs(angles_deg(pose) - [yaw, pitch, roll]))
    assert np.mean(errors, axis=0).max() < 2.0


def test_seeded_solve_matches_unseeded() -> None:
    face = project_face(20, -10, 5)
    previous = solve_head(project_face(18, -9, 4), SIZE, CAMERA)
    seeded = solve_head(face, SIZE, CAMERA, previous)
    fresh = solve_head(face, SIZE, CAMERA)
    assert seeded is not None and fresh is not None
    assert geometry.angle_between(seeded.rotation, fresh.rotation) < math.radians(0.1)


def test_garbage_landmarks_do_not_flip_the_head() -> None:
    rng = np.random.default_rng(1)
    garbage = FaceLandmarks(rng.uniform(0.3, 0.7, size=(478, 3)).astype(np.float32))
    previous = solve_head(project_face(10, 5, 0), SIZE, CAMERA)
    pose = solve_head(garbage, SIZE, CAMERA, previous)
    assert pose is None  # rejected: the smoother holds the last good pose


def test_rejects_the_68_point_layout() -> None:
    with pytest.raises(ValueError, match="MediaPipe-layout"):
        solve_head(FaceLandmarks(np.zeros((68, 3), np.float32)), SIZE, CAMERA)


def project_face_with_depth(yaw: float, pitch: float, roll: float, position=(0.02, 0.01, -0.6), vertices=None) -> FaceLandmarks:
    """Like ``project_face`` plus MediaPipe's z: depth relative to the face's mean depth, in
    x-normalised image units (``z * width`` pixels; a depth offset dZ at depth Z is dZ * fx / Z
    pixels), so the depth-aware fit is used."""
    q = geometry.from_yaw_pitch_roll(*np.radians([yaw, pitch, roll]))
    r, t = conventions.internal_head_to_opencv_pose(q, np.array(position))
    v = canonical_face().vertices_cm if vertices is None else vertices
    cam_points = v @ r.T + t
    z = cam_points[:, 2]
    points = np.zeros((478, 3), dtype=np.float32)
    points[:468, 0] = (CAMERA.fx * cam_points[:, 0] / z + CAMERA.cx) / SIZE[0]
    points[:468, 1] = (CAMERA.fy * cam_points[:, 1] / z + CAMERA.cy) / SIZE[1]
    points[:468, 2] = (z - z.mean()) / z.mean() * CAMERA.fx / SIZE[0]
    return FaceLandmarks(points)


@pytest.mark.parametrize("yaw,pitch,roll", [(0, 0, 0), (40, 0, 0), (0, -25, 0), (0, 0, 30), (-35, -20, 15), (30, 20, -25)])
def test_depth_aware_fit_recovers_known_rotation_and_position(yaw: float, pitch: float, roll: float) -> None:
    pose = solve_head(project_face_with_depth(yaw, pitch, roll), SIZE, CAMERA)
    assert pose is not None
    assert np.allclose(angles_deg(pose), [yaw, pitch, roll], atol=HEAD_ANGLE_TOL_DEG)
    assert np.allclose(pose.position, [0.02, 0.01, -0.6], atol=0.01)


def test_points_turned_away_lose_their_weight() -> None:
    """MediaPipe can only guess self-occluded points (the far cheek's contour of a turned head);
    the depth-aware fit's second pass down-weights points whose surface faces away."""
    from vtuber.solve.head import _facing_weights

    model = canonical_face()
    ids = list(model.rigid_ids)
    obj = model.vertices_cm[model.rigid_ids]
    frontal = _facing_weights(*conventions.internal_head_to_opencv_pose(geometry.IDENTITY, (0.0, 0.0, -0.6)), obj)
    q = geometry.from_yaw_pitch_roll(np.radians(40.0), 0.0, 0.0)  # the subject's left turns away
    turned = _facing_weights(*conventions.internal_head_to_opencv_pose(q, (0.0, 0.0, -0.6)), obj)
    nose = ids.index(4)
    assert frontal[nose] == 1.0 and turned[nose] == 1.0
    far, near = ids.index(356), ids.index(127)  # left / right cheek contour
    assert turned[far] < 0.05 and turned[near] == 1.0
    assert frontal[far] < 1.0  # a contour point is seen at a grazing angle even frontally


def test_flat_depth_falls_back_to_pnp() -> None:
    face = project_face(25, -10, 5)  # z all zero: no depth channel
    pose = solve_head(face, SIZE, CAMERA)
    assert pose is not None
    assert np.allclose(angles_deg(pose), [25, -10, 5], atol=HEAD_ANGLE_TOL_DEG)


def test_head_points_drive_the_head_when_present() -> None:
    """The hybrid back end's second point set (``FaceLandmarks.head_points``) is what the head is
    fitted to; ``points`` (used for eyes and mouth) do not move it."""
    cam = CameraIntrinsics.from_fov(640, 480, 60.0)

    def projected(yaw_deg: float) -> np.ndarray:
        q = geometry.from_yaw_pitch_roll(math.radians(yaw_deg), math.radians(-10.0), math.radians(5.0))
        r, t = conventions.internal_head_to_opencv_pose(q, np.array([0.0, 0.0, -0.6]))
        p = canonical_face().vertices_cm @ r.T + t
        uv = np.zeros((len(p), 3), np.float32)  # z 0: 2D only, the PnP path
        uv[:, 0] = (p[:, 0] / p[:, 2] * cam.fx + cam.cx) / 640
        uv[:, 1] = (p[:, 1] / p[:, 2] * cam.fy + cam.cy) / 480
        return uv

    truth = geometry.from_yaw_pitch_roll(math.radians(20.0), math.radians(-10.0), math.radians(5.0))
    uv, other = projected(20.0), projected(-15.0)  # the second: a clearly different head
    alone = solve_head(FaceLandmarks(other), (640, 480), cam)
    both = solve_head(FaceLandmarks(other, head_points=uv), (640, 480), cam)
    assert alone is not None and both is not None
    assert math.degrees(geometry.angle_between(both.rotation, truth)) < 0.5
    assert math.degrees(geometry.angle_between(alone.rotation, truth)) > 10.0


@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("depth", [False, True], ids=["2d", "depth"])
@pytest.mark.parametrize("seeded", [False, True], ids=["fresh", "seeded"])
def test_non_finite_rigid_landmark_gives_no_pose(bad: float, depth: bool, seeded: bool) -> None:
    """A NaN/inf rigid landmark is no pose (None), not an exception that would drop the frame."""
    face = project_face(15, -5, 0)
    points = face.points.copy()
    if depth:  # a depth channel, so the depth-aware fit runs
        points[:468, 2] = (canonical_face().vertices_cm[:, 2] - canonical_face().vertices_cm[:, 2].mean()) * -0.01
    rigid = int(canonical_face().rigid_ids[5])
    points[rigid, 0] = bad
    previous = solve_head(project_face(14, -5, 0), SIZE, CAMERA) if seeded else None
    assert solve_head(FaceLandmarks(points), SIZE, CAMERA, previous) is None


def test_non_finite_depth_alone_falls_back_to_pnp() -> None:
    face = project_face(15, -5, 0)
    points = face.points.copy()
    points[int(canonical_face().rigid_ids[5]), 2] = math.nan  # x, y intact: the 2D fit still works
    pose = solve_head(FaceLandmarks(points), SIZE, CAMERA)
    assert pose is not None
    assert np.abs(angles_deg(pose) - (15, -5, 0)).max() < HEAD_ANGLE_TOL_DEG


def test_collapsed_landmarks_give_no_pose() -> None:
    """Every point on one pixel (finite, but SQPnP's input check fails with cv2.error): None."""
    points = np.full((478, 3), 0.5, dtype=np.float32)
    points[:, 2] = 0.0
    assert solve_head(FaceLandmarks(points), SIZE, CAMERA) is None
