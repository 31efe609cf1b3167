"""The 68-point solvers on exact projections of the 68-point model (no tracker involved)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from vtuber import geometry
from vtuber.conventions import internal_head_to_opencv_pose
from vtuber.records import FaceLandmarks, HeadPose
from vtuber.solve import face68
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.face_model import canonical_face
from vtuber.solve.head import solve_head

SIZE = (640, 480)
CAMERA = CameraIntrinsics.from_fov(*SIZE, 60.0)


def project(vertices_cm: np.ndarray, rotation: np.ndarray, position_m=(0.0, 0.0, -0.6)) -> np.ndarray:
    """Model vertices posed in the internal frame -> (N, 3) normalised image points (z = 0)."""
    r, t = internal_head_to_opencv_pose(rotation, np.asarray(position_m, dtype=np.float64))
    rvec, _ = cv2.Rodrigues(r)
    px, _ = cv2.projectPoints(vertices_cm, rvec, t, CAMERA.matrix, CAMERA.distortion_array)
    px = px.reshape(-1, 2)
    out = np.zeros((len(px), 3), dtype=np.float32)
    out[:, 0] = px[:, 0] / SIZE[0]
    out[:, 1] = px[:, 1] / SIZE[1]
    return out


def model_face(rotation=None) -> FaceLandmarks:
    q = geometry.IDENTITY if rotation is None else rotation
    return FaceLandmarks(project(face68.face68_model().vertices_cm, q))


def test_model_is_symmetric_and_in_the_canonical_frame() -> None:
    v = face68.face68_model().vertices_cm
    assert v.shape == (68, 3)
    assert np.array_equal(face68.MIRROR[face68.MIRROR], np.arange(68))
    np.testing.assert_allclose(v[face68.MIRROR] * (-1, 1, 1), v, atol=1e-9)
    canonical = canonical_face().vertices_cm
    # iBUG 36/45 are the outer eye corners, MediaPipe 33/263 too; subject's right eye at -x.
    assert v[36, 0] < 0 < v[45, 0]
    assert np.linalg.norm(v[36] - canonical[33]) < 0.5
    assert np.linalg.norm(v[45] - canonical[263]) < 0.5
    assert v[30, 2] == pytest.approx(v[:, 2].max())  # the nose tip is the most forward point
    assert v[8, 1] == pytest.approx(v[:, 1].min())  # the chin is the lowest


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0, 0, 0), (25, 0, 0), (-25, 10, 0), (10, -15, 8), (0, 0, -20)])
def test_head_recovers_the_rendered_rotation(yaw: float, pitch: float, roll: float) -> None:
    q = geometry.from_yaw_pitch_roll(*(math.radians(a) for a in (yaw, pitch, roll)))
    pose = face68.solve_head68(model_face(q), SIZE, CAMERA)
    assert pose is not None
    assert math.degrees(geometry.angle_between(pose.rotation, q)) < 0.5
    np.testing.assert_allclose(pose.position, (0.0, 0.0, -0.6), atol=0.01)
    assert pose.reprojection_error_px < 0.5


def test_head_agrees_with_the_mediapipe_solver_on_the_same_pose() -> None:
    """Same frame, same neutral: the canonical face and the 68 model posed alike solve alike."""
    q = geometry.from_yaw_pitch_roll(math.radians(20), math.radians(-10), math.radians(5))
    mp_face = FaceLandmarks(project(canonical_face().vertices_cm, q))
    mp_pose = solve_head(mp_face, SIZE, CAMERA)
    pose68 = face68.solve_head68(model_face(q), SIZE, CAMERA)
    assert mp_pose is not None and pose68 is not None
    assert math.degrees(geometry.angle_between(mp_pose.rotation, pose68.rotation)) < 0.5


def test_head_refines_from_the_previous_pose_and_rejects_garbage() -> None:
    q = geometry.from_yaw_pitch_roll(math.radians(15), 0.0, 0.0)
    seed = HeadPose(geometry.from_yaw_pitch_roll(math.radians(12), 0.0, 0.0), np.array([0.0, 0.0, -0.6]))
    pose = face68.solve_head68(model_face(q), SIZE, CAMERA, previous=seed)
    assert pose is not None and math.degrees(geometry.angle_between(pose.rotation, q)) < 0.5
    rng = np.random.default_rng(0)
    noise = FaceLandmarks(rng.uniform(0.3, 0.7, size=(68, 3)).astype(np.float32))
    assert face68.solve_head68(noise, SIZE, CAMERA) is None


def test_wrong_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="68"):
        face68.solve_blinks68(FaceLandmarks(np.zeros((478, 3), np.float32)), SIZE)


def _close_eye(points: np.ndarray, side: str, fraction: float) -> np.ndarray:
    """Move the eye's lid points toward the corner-to-corner line by ``fraction``."""
    p = points.copy()
    ids = face68.EYES[side]
    a, b = p[ids[0], :2], p[ids[3], :2]
    for i in ids[1:3] + ids[4:6]:
        t = np.dot(p[i, :2] - a, b - a) / np.dot(b - a, b - a)
        foot = a + t * (b - a)
        p[i, :2] = p[i, :2] + fraction * (foot - p[i, :2])
    return p


def test_blinks_are_per_eye_and_on_the_subjects_side() -> None:
    open_face = model_face()
    shapes = face68.solve_blinks68(open_face, SIZE)
    assert shapes["eyeBlinkLeft"] < 0.2 and shapes["eyeBlinkRight"] < 0.2
    wink = FaceLandmarks(_close_eye(open_face.points, "left", 0.95))
    shapes = face68.solve_blinks68(wink, SIZE)
    assert shapes["eyeBlinkLeft"] > 0.9 and shapes["eyeBlinkRight"] < 0.2
    # the subject's left eye (42-47) is on the image's right in an unmirrored frontal view
    assert wink.points[42:48, 0].mean() > 0.5


def test_eye_aspect_ratio_matches_its_definition() -> None:
    pts = np.zeros((68, 2))
    pts[36:42] = [(0, 0), (1, -1), (2, -1), (3, 0), (2, 1), (1, 1)]
    assert face68.eye_aspect_ratio(pts, "right") == pytest.approx((2 + 2) / (2 * 3))
    assert face68.blink_weight68(0.28, face68.EyeRange68()) == 0.0
    assert face68.blink_weight68(0.05, face68.EyeRange68()) == 1.0
    with pytest.raises(ValueError):
        face68.EyeRange68(open_ear=0.1, closed_ear=0.2)


def test_mouth_opens_with_the_inner_lips() -> None:
    closed = model_face()
    assert face68.solve_mouth68(closed, SIZE)["jawOpen"] < 0.2
    p = closed.points.copy()
    width = np.linalg.norm((p[48, :2] - p[54, :2]) * SIZE)
    p[65:68, 1] += 0.7 * width / SIZE[1]  # drop the inner lower lip by 0.7 mouth widths
    shapes = face68.solve_mouth68(FaceLandmarks(p), SIZE)
    assert shapes["jawOpen"] > 0.9 and shapes["aa"] == shapes["jawOpen"]


def test_gaze_follows_a_dark_pupil_in_the_eye_region() -> None:
    face = model_face()
    image = np.full((SIZE[1], SIZE[0], 3), 200, np.uint8)
    px = face.points[:, :2] * SIZE
    pupils_px = {}
    for side, ids in face68.EYES.items():
        contour = np.round(px[list(ids)]).astype(np.int32)
        cv2.fillPoly(image, [contour], (235, 235, 235))
        outer, inner = px[face68.EYE_CORNERS[side][0]], px[face68.EYE_CORNERS[side][1]]
        centre = outer + 0.7 * (inner - outer)  # looking toward the nose with both eyes
        pupils_px[side] = centre
        cv2.circle(image, tuple(round(c) for c in centre), 2, (20, 20, 20), -1)
    pupils = face68.estimate_pupils(image, face)
    for side in ("left", "right"):
        assert pupils[side] is not None
        assert np.linalg.norm(pupils[side] * SIZE - pupils_px[side]) < 1.5
    gaze = face68.solve_gaze68(face, SIZE, pupils)
    assert gaze["eyeLookInLeft"] > 0.3 and gaze["eyeLookInRight"] > 0.3
    assert gaze["eyeLookOutLeft"] == 0.0 and gaze["eyeLookOutRight"] == 0.0


def test_solve_face68_bundles_head_blinks_and_mouth() -> None:
    head, shapes = face68.solve_face68(model_face(), SIZE, CAMERA)
    assert head is not None
    assert {"eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "aa"} <= set(shapes)


def _eyes_image(face: FaceLandmarks, toward: str) -> np.ndarray:
    """A grey image with white eye regions and a dark pupil in each, both eyes looking toward
    the subject's ``toward`` side (``"left"`` / ``"right"``), 0.7 of the way to that corner."""
    image = np.full((SIZE[1], SIZE[0], 3), 200, np.uint8)
    px = face.points[:, :2] * SIZE
    for side, ids in face68.EYES.items():
        cv2.fillPoly(image, [np.round(px[list(ids)]).astype(np.int32)], (235, 235, 235))
        outer, inner = px[face68.EYE_CORNERS[side][0]], px[face68.EYE_CORNERS[side][1]]
        near, far = (outer, inner) if side == toward else (inner, outer)  # the corner looked toward
        centre = far + 0.7 * (near - far)
        cv2.circle(image, tuple(round(c) for c in centre), 2, (20, 20, 20), -1)
    return image


def test_face68_attach_gaze_puts_the_image_gaze_in_the_landmarks_record() -> None:
    face = model_face()
    attached = face68.attach_gaze68(face, _eyes_image(face, "right"))
    assert set(attached.blendshapes) == set(face68.LOOK_CHANNELS68)
    np.testing.assert_array_equal(attached.points, face.points)
    # the subject looks to her right: the right eye looks out, the left eye in
    assert attached.blendshapes["eyeLookOutRight"] > 0.3 and attached.blendshapes["eyeLookInLeft"] > 0.3
    assert attached.blendshapes["eyeLookInRight"] == 0.0 and attached.blendshapes["eyeLookOutLeft"] == 0.0
    flat = np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)  # no contrast: no pupils, no channels
    assert face68.attach_gaze68(face, flat) is face


def test_face68_solve_eyes_inverts_look_weights_and_covers_a_closed_eye() -> None:
    from vtuber.solve.gaze import EyeGaze, look_weights

    left, right = EyeGaze(-12.0, 5.0), EyeGaze(-9.0, -4.0)  # both toward the subject's right
    looks = {**look_weights(left, "L"), **look_weights(right, "R")}
    shapes, bones = face68.solve_eyes68(looks, {"eyeBlinkLeft": 0.0, "eyeBlinkRight": 0.0})
    assert shapes == pytest.approx(looks)
    np.testing.assert_allclose(bones["LeftEye"], left.rotation(), atol=1e-12)
    np.testing.assert_allclose(bones["RightEye"], right.rotation(), atol=1e-12)
    shapes, bones = face68.solve_eyes68(looks, {"eyeBlinkLeft": 0.9, "eyeBlinkRight": 0.0})  # left closed
    np.testing.assert_allclose(bones["LeftEye"], right.rotation(), atol=1e-12)
    shapes, bones = face68.solve_eyes68(looks, {"eyeBlinkLeft": 0.9, "eyeBlinkRight": 0.9})
    np.testing.assert_allclose(bones["LeftEye"], geometry.IDENTITY, atol=1e-12)
    only_left = {k: v for k, v in looks.items() if k.endswith("Left")}  # no pupil in the right eye
    _, bones = face68.solve_eyes68(only_left, {})
    np.testing.assert_allclose(bones["RightEye"], left.rotation(), atol=1e-12)
    assert face68.solve_eyes68({}, {}) == ({}, {})


def test_face68_rig_sends_the_tracker_gaze_as_eyelook_and_eye_bones() -> None:
    """``solve_rig`` on 68 points: the eyeLook* a 68-point tracker attached become the rig's
    eyeLook* channels and LeftEye/RightEye bones (both turned toward the subject's right)."""
    from vtuber.records import Landmarks
    from vtuber.solve.rig import solve_rig

    face = face68.attach_gaze68(model_face(), _eyes_image(model_face(), "right"))
    rig = solve_rig(Landmarks(t=0.0, index=0, image_size=SIZE, face=face), CAMERA)
    assert rig.blendshapes["eyeLookOutRight"] > 0.3 and rig.blendshapes["eyeLookInLeft"] > 0.3
    assert rig.blendshapes["eyeLookInRight"] == 0.0 and rig.blendshapes["eyeLookOutLeft"] == 0.0
    for bone in ("LeftEye", "RightEye"):
        yaw = math.degrees(geometry.to_yaw_pitch_roll(rig.bones[bone])[0])
        assert yaw < -5.0, (bone, yaw)  # positive yaw looks toward the subject's left


def test_face68_rig_ignores_the_mediapipe_face_calibration() -> None:
    """``vtuber calibrate face`` measures MediaPipe's head fit; its neutral rotation must not be
    taken out of the 68-point head fit (the profile's eye/mouth ranges never applied there)."""
    from vtuber.records import Landmarks
    from vtuber.solve.rig import FaceCalibration, solve_rig

    q = geometry.from_yaw_pitch_roll(math.radians(10), math.radians(-5), 0.0)
    landmarks = Landmarks(t=0.0, index=0, image_size=SIZE, face=model_face(q))
    calibrated = FaceCalibration(neutral_rotation=geometry.from_yaw_pitch_roll(0.0, math.radians(6), 0.0))
    plain = solve_rig(landmarks, CAMERA)
    rig = solve_rig(landmarks, CAMERA, calibrated, previous_head=plain.head)
    assert plain.head is not None and rig.head is not None
    assert math.degrees(geometry.angle_between(rig.head.rotation, plain.head.rotation)) < 0.1
    assert math.degrees(geometry.angle_between(rig.head.rotation, q)) < 0.5
