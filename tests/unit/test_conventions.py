"""Known rotations through every frame change in vtuber.conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtuber import conventions, geometry

RNG = np.random.default_rng(0)


def _random_quaternion() -> np.ndarray:
    return geometry.normalize(RNG.normal(size=4))


def test_identity_maps_to_identity_in_unity() -> None:
    assert np.allclose(conventions.internal_to_unity_quaternion(geometry.IDENTITY), [0, 0, 0, 1])


def test_turning_to_the_avatars_left_is_negative_unity_yaw() -> None:
    # Internal: +90 deg about +Y turns the face (+Z) toward +X, the avatar's own left.
    q = geometry.from_axis_angle((0, 1, 0), math.radians(90))
    assert np.allclose(geometry.rotate(q, [0, 0, 1]), [1, 0, 0], atol=1e-12)
    u = conventions.internal_to_unity_quaternion(q)
    # In Unity (+X = avatar's right) the face must end up pointing to -X: a -90 deg Y rotation.
    assert np.allclose(geometry.rotate(u, [0, 0, 1]), [-1, 0, 0], atol=1e-12)
    assert np.allclose(u, geometry.from_axis_angle((0, 1, 0), math.radians(-90)))


def test_nodding_down_keeps_its_sign_in_unity() -> None:
    # +pitch about +X moves the face (+Z) toward -Y (looking down) in both frames.
    q = geometry.from_axis_angle((1, 0, 0), math.radians(30))
    u = conventions.internal_to_unity_quaternion(q)
    assert np.allclose(u, q)
    assert geometry.rotate(u, [0, 0, 1])[1] < 0


@pytest.mark.parametrize("trial", range(20))
def test_unity_conversion_commutes_with_rotation(trial: int) -> None:
    q = _random_quaternion()
    v = RNG.normal(size=3)
    rotated_then_converted = conventions.internal_to_unity_position(geometry.rotate(q, v))
    converted_then_rotated = geometry.rotate(
        conventions.internal_to_unity_quaternion(q), conventions.internal_to_unity_position(v)
    )
    assert np.allclose(rotated_then_converted, converted_then_rotated, atol=1e-12)


def test_unity_round_trip() -> None:
    q = _random_quaternion()
    p = RNG.normal(size=3)
    assert np.allclose(conventions.unity_to_internal_quaternion(conventions.internal_to_unity_quaternion(q)), q)
    assert np.allclose(conventions.unity_to_internal_position(conventions.internal_to_unity_position(p)), p)


def test_q_and_minus_q_are_the_same_rotation() -> None:
    q = _random_quaternion()
    assert geometry.angle_between(q, -q) == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(geometry.to_matrix(q), geometry.to_matrix(-q))


def test_a_face_looking_into_the_camera_has_identity_rotation() -> None:
    # The canonical face (z out of the face) seen by an OpenCV camera (z into the scene) is
    # turned 180 degrees about X; that pose is "looking straight into the camera".
    rotation, position = conventions.canonical_face_pose_to_internal(np.diag([1.0, -1.0, -1.0]), [0, 0, 60])
    assert geometry.angle_between(rotation, geometry.IDENTITY) < 1e-9
    assert np.allclose(position, [0, 0, -0.6])


@pytest.mark.parametrize("yaw,pitch,roll", [(30, 0, 0), (0, 20, 0), (0, 0, 25), (-35, -20, 15)])
def test_head_pose_round_trips_through_the_camera_frame(yaw: float, pitch: float, roll: float) -> None:
    q = geometry.from_yaw_pitch_roll(*np.radians([yaw, pitch, roll]))
    r, t = conventions.internal_head_to_opencv_pose(q, [0.01, -0.02, -0.55])
    back_q, back_p = conventions.canonical_face_pose_to_internal(r, t)
    assert geometry.angle_between(back_q, q) < 1e-9
    assert np.allclose(back_p, [0.01, -0.02, -0.55])


def test_positive_yaw_moves_the_nose_to_the_image_right() -> None:
    # The subject's left appears on the image right of an unmirrored camera.
    q = geometry.from_yaw_pitch_roll(math.radians(30), 0, 0)
    r, t = conventions.internal_head_to_opencv_pose(q, [0, 0, -0.6])
    nose = r @ np.array([0.0, 0.0, 7.5]) + t  # the canonical nose tip is 7.5 cm in front
    assert nose[0] > 0


def test_mirror_swaps_sides_and_reflects_rotations() -> None:
    assert conventions.mirror_name("LeftUpperArm") == "RightUpperArm"
    assert conventions.mirror_name("eyeBlinkRight") == "eyeBlinkLeft"
    assert conventions.mirror_name("Blink_L") == "Blink_R"
    assert conventions.mirror_name("jawOpen") == "jawOpen"
    yaw_left = geometry.from_axis_angle((0, 1, 0), math.radians(20))
    mirrored = conventions.mirror_quaternion(yaw_left)
    assert np.allclose(mirrored, geometry.from_axis_angle((0, 1, 0), math.radians(-20)))
    pitch = geometry.from_axis_angle((1, 0, 0), math.radians(20))
    assert np.allclose(conventions.mirror_quaternion(pitch), pitch)


def test_mirroring_twice_is_the_identity() -> None:
    q = _random_quaternion()
    assert np.allclose(conventions.mirror_quaternion(conventions.mirror_quaternion(q)), q)


def test_focal_length_from_fov() -> None:
    assert conventions.focal_length_from_fov(640, 90.0) == pytest.approx(320.0)
