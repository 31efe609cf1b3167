"""Finger and palm solving: curl and spread separately, hinge-only PIP/DIP, limits, curl metric."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from vtuber import geometry
from vtuber.records import HandLandmarks
from vtuber.solve import limits
from vtuber.solve.fingers import (
    finger_curl,
    finger_rotations,
    hand_points_internal,
    palm_rotation,
    solve_fingers,
    solve_hands,
)
from vtuber.solve.kinematics import forward_kinematics, hand_points, internal_to_mediapipe_world

R = math.radians


def _hand(local: dict[str, np.ndarray], side: str = "left") -> np.ndarray:
    return hand_points(forward_kinematics(local), side)  # type: ignore[arg-type]


def _solve(local: dict[str, np.ndarray], side: str = "left") -> dict[str, np.ndarray]:
    pts = _hand(local, side)
    return solve_fingers(pts, palm_rotation(pts, side), side)  # type: ignore[arg-type]


def _angles(bones: dict[str, np.ndarray], name: str) -> tuple[float, float]:
    flex, abd, _ = limits.rotation_angles(name, bones[name])
    return math.degrees(flex), math.degrees(abd)


@pytest.mark.parametrize("side", ["left", "right"])
def test_rest_hand_is_identity(side: str) -> None:
    pts = _hand({}, side)
    np.testing.assert_allclose(palm_rotation(pts, side), np.eye(3), atol=1e-9)  # type: ignore[arg-type]
    for name, q in _solve({}, side).items():
        assert geometry.angle_between(q, geometry.IDENTITY) < 1e-6, name


@pytest.mark.parametrize("side", ["left", "right"])
def test_curl_and_spread_come_back_separately(side: str) -> None:
    angles = {"IndexProximal": (30.0, 18.0), "LittleProximal": (20.0, -22.0), "MiddleIntermediate": (70.0, 0.0),
              "ThumbProximal": (25.0, -20.0), "ThumbIntermediate": (35.0, 6.0), "RingDistal": (45.0, 0.0)}
    s = "Left" if side == "left" else "Right"
    solved = _solve(finger_rotations(side, angles), side)  # type: ignore[arg-type]
    for name, (flex, abd) in angles.items():
        got = _angles(solved, s + name)
        assert got == pytest.approx((flex, abd), abs=1e-6), name


def test_pip_cannot_bend_sideways_and_spread_is_limited() -> None:
    local = {"LeftIndexIntermediate": limits.bone_rotation("LeftIndexIntermediate", R(40), R(25)),
             "LeftMiddleProximal": limits.bone_rotation("LeftMiddleProximal", R(10), R(40))}
    solved = _solve(local)
    flex, abd = _angles(solved, "LeftIndexIntermediate")
    assert abd == pytest.approx(0.0, abs=1e-6) and flex == pytest.approx(40.0, abs=0.5)
    assert _angles(solved, "LeftMiddleProximal")[1] == pytest.approx(limits.FINGER_MCP["Middle"].abd[1], abs=1e-6)


def test_knuckle_hyperextension_is_limited() -> None:
    local = {"LeftRingProximal": limits.bone_rotation("LeftRingProximal", R(-70))}
    assert _angles(_solve(local), "LeftRingProximal")[0] == pytest.approx(limits.FINGER_MCP["Ring"].flex[0], abs=1e-6)


def test_palm_orientation_follows_the_hand() -> None:
    hand_rot = geometry.multiply(geometry.from_axis_angle((0, 0, 1), R(-70)), geometry.from_axis_angle((1, 0, 0), R(50)))
    pts = _hand({"LeftHand": hand_rot})
    assert geometry.angle_between(geometry.from_matrix(palm_rotation(pts, "left")), hand_rot) < 1e-6


def test_image_and_world_points_agree() -> None:
    local = {"LeftHand": geometry.from_axis_angle((0, 1, 0), R(20)), **finger_rotations("left", {"IndexProximal": (40.0, 10.0)})}
    pts = _hand(local)
    world = internal_to_mediapipe_world(pts - pts.mean(axis=0))
    # MediaPipe-normalised image points of a 640x480 weak-perspective view (800 px per metre)
    w, h = 640, 480
    image = np.column_stack([0.5 + world[:, 0] * 800 / w, 0.5 + world[:, 1] * 800 / h, (world[:, 2] - world[0, 2]) * 800 / w])
    from_world = hand_points_internal(HandLandmarks("left", image.astype(np.float32), world.astype(np.float32)), (640, 480))
    from_image = hand_points_internal(HandLandmarks("left", image.astype(np.float32)), (640, 480))
    np.testing.assert_allclose(palm_rotation(from_world, "left"), palm_rotation(from_image, "left"), atol=1e-5)


def test_finger_curl_tracks_closing() -> None:
    curls = []
    for k in np.linspace(0.0, 1.0, 5):
        angles = {f"{f}{p}": (a * k, 0.0) for f in ("Index", "Middle", "Ring", "Little")
                  for p, a in (("Proximal", 85.0), ("Intermediate", 95.0), ("Distal", 60.0))}
        curls.append(finger_curl(_solve(finger_rotations("left", angles)), "left"))
    assert curls[0] == pytest.approx(0.0, abs=1e-6)
    assert all(b > a for a, b in itertools.pairwise(curls))  # type: ignore[operator]
    assert curls[-1] == pytest.approx((85 + 95 + 60) / 3, abs=0.5)
    assert finger_curl({}, "left") is None


def test_both_hands_in_one_batch_equal_one_at_a_time() -> None:
    local = {**finger_rotations("left", {"IndexProximal": (30.0, 5.0)}), **finger_rotations("right", {"ThumbDistal": (50.0, 0.0)})}
    posed = forward_kinematics(local)
    lp, rp = hand_points(posed, "left"), hand_points(posed, "right")
    both = solve_hands([(rp, palm_rotation(rp, "right"), "right"), (lp, palm_rotation(lp, "left"), "left")])
    single = {**solve_fingers(lp, palm_rotation(lp, "left"), "left"), **solve_fingers(rp, palm_rotation(rp, "right"), "right")}
    assert set(both) == set(single) and len(both) == 30
    for name in both:
        np.testing.assert_allclose(both[name], single[name], atol=1e-12)
