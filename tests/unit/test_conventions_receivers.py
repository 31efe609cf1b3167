"""Internal -> receiver angle conventions (VTube Studio, iFacialMocap, OSC, Warudo root turn),
checked with rotations whose effect is known by construction, not by the functions' own output."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtuber import conventions, geometry

DEG = math.pi / 180.0


def yaw(deg: float) -> np.ndarray:
    return geometry.from_axis_angle((0, 1, 0), deg * DEG)


def pitch(deg: float) -> np.ndarray:
    return geometry.from_axis_angle((1, 0, 0), deg * DEG)


def roll(deg: float) -> np.ndarray:
    return geometry.from_axis_angle((0, 0, 1), deg * DEG)


def test_identity_is_zero_everywhere() -> None:
    assert conventions.internal_head_angles_deg(geometry.IDENTITY) == pytest.approx((0, 0, 0))
    assert conventions.internal_to_vts_face_angles(geometry.IDENTITY) == pytest.approx((0, 0, 0))
    assert conventions.internal_to_ifacialmocap_rotation(geometry.IDENTITY) == pytest.approx((0, 0, 0))


def test_turning_toward_the_avatars_left_is_positive_yaw() -> None:
    q = yaw(20)
    # The face's forward axis (+Z) now points partly to +X, the avatar's own left.
    assert geometry.rotate(q, [0, 0, 1])[0] > 0
    assert conventions.internal_head_angles_deg(q) == pytest.approx((20, 0, 0))


def test_vts_face_angle_x_turns_to_the_screen_right() -> None:
    # Avatar faces the viewer: its own left is the screen's right, Live2D ParamAngleX "+".
    x, y, z = conventions.internal_to_vts_face_angles(yaw(25))
    assert (x, y, z) == pytest.approx((25, 0, 0))


def test_vts_face_angle_y_is_up() -> None:
    q = pitch(-15)  # nose toward +Y: looking up
    assert geometry.rotate(q, [0, 0, 1])[1] > 0
    assert conventions.internal_to_vts_face_angles(q) == pytest.approx((0, 15, 0))


def test_vts_face_angle_z_leans_to_the_screen_right() -> None:
    q = roll(-10)  # head top toward +X: the avatar's left = the screen's right
    assert geometry.rotate(q, [0, 1, 0])[0] > 0
    assert conventions.internal_to_vts_face_angles(q) == pytest.approx((0, 0, 10))


def test_vts_face_angles_are_clamped() -> None:
    x, _, _ = conventions.internal_to_vts_face_angles(yaw(120))
    assert x == pytest.approx(conventions.VTS_FACE_ANGLE_LIMIT_DEG)


def test_combined_rotation_round_trips_through_yaw_pitch_roll() -> None:
    q = geometry.multiply(geometry.multiply(yaw(12), pitch(-7)), roll(5))
    assert conventions.internal_head_angles_deg(q) == pytest.approx((12, -7, 5))
    assert conventions.internal_to_vts_face_angles(q) == pytest.approx((12, 7, -5))
    assert conventions.internal_to_ifacialmocap_rotation(q) == pytest.approx((-7, 12, 5))


def test_q_and_minus_q_give_the_same_angles() -> None:
    q = geometry.multiply(yaw(30), pitch(10))
    assert conventions.internal_to_vts_face_angles(-q) == pytest.approx(conventions.internal_to_vts_face_angles(q))


def test_vts_face_position_centimetres_from_the_reference() -> None:
    # 3 cm toward the subject's left, 2 cm up, 0.55 m away (5 cm closer than 0.6 m).
    assert conventions.internal_to_vts_face_position([0.03, 0.02, -0.55]) == pytest.approx((3, 2, 5))
    assert conventions.internal_to_vts_face_position([1.0, -1.0, 0.0]) == pytest.approx((10, -10, 10))


def test_eye_look_signs_per_side() -> None:
    # Both eyes looking toward the subject's left: left eye "out", right eye "in".
    assert conventions.eye_look_to_internal(0, 0.5, 0, 0, "left") == pytest.approx((0.5, 0))
    assert conventions.eye_look_to_internal(0.5, 0, 0, 0, "right") == pytest.approx((0.5, 0))
    assert conventions.eye_look_to_internal(0, 0, 0, 0.4, "left") == pytest.approx((0, 0.4))
    with pytest.raises(ValueError, match="side"):
        conventions.eye_look_to_internal(0, 0, 0, 0, "both")


def test_vts_eye_x_right_y_up() -> None:
    assert conventions.internal_eye_to_vts(0.5, 0.25) == pytest.approx((0.5, -0.25))


def test_ifacialmocap_eye_signs_match_vmagicmirrors_reading() -> None:
    # VMagicMirror: leftEye y > 0 -> LookOut, x > 0 -> LookDown.
    left_out = geometry.from_axis_angle((0, 1, 0), 10 * DEG)  # toward +X = subject's left
    x, y, _ = conventions.internal_to_ifacialmocap_rotation(left_out)
    assert y == pytest.approx(10) and x == pytest.approx(0)
    down = pitch(8)
    assert geometry.rotate(down, [0, 0, 1])[1] < 0
    assert conventions.internal_to_ifacialmocap_rotation(down)[0] == pytest.approx(8)


def test_ifacialmocap_position_is_arkit_metres() -> None:
    assert conventions.internal_to_ifacialmocap_position([0.01, -0.02, -0.6]) == pytest.approx((0.01, -0.02, -0.6))


def test_turn_around_y_faces_backwards() -> None:
    q, p = conventions.turn_around_y(geometry.IDENTITY, [0.1, 1.0, 0.2])
    assert geometry.rotate(q, [0, 0, 1]) == pytest.approx([0, 0, -1])
    assert p == pytest.approx([-0.1, 1.0, -0.2])
    q2, _ = conventions.turn_around_y(q, p)
    assert abs(float(np.dot(q2, geometry.IDENTITY))) == pytest.approx(1.0)
