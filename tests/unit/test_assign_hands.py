"""Which detected hand is the subject's left: by the nearer pose wrist, else by handedness."""

from __future__ import annotations

import numpy as np

from vtuber.records import HandLandmarks, PoseLandmarks
from vtuber.track.mediapipe_adapter import assign_hands


def hand(side: str, x: float, score: float = 0.9) -> HandLandmarks:
    """A hand whose wrist is at (x, 0.5), fingers 0.08 up (normalised image units)."""
    points = np.zeros((21, 3), np.float32)
    points[:, 0] = x
    points[:, 1] = 0.5 - np.linspace(0.0, 0.08, 21)
    return HandLandmarks(side, points, None, score)  # type: ignore[arg-type]


def pose(left_wrist_x: float, right_wrist_x: float, wrist_visibility: float = 1.0) -> PoseLandmarks:
    """Shoulders 0.3 apart at y 0.3 (the subject's left on the image right), wrists at y 0.5."""
    points = np.zeros((33, 3), np.float32)
    points[11, :2] = (0.65, 0.3)
    points[12, :2] = (0.35, 0.3)
    points[15, :2] = (left_wrist_x, 0.5)
    points[16, :2] = (right_wrist_x, 0.5)
    visibility = np.ones(33, np.float32)
    visibility[[15, 16]] = wrist_visibility
    return PoseLandmarks(points, points.copy(), visibility)


def test_pose_wrists_override_a_flipped_handedness_label() -> None:
    # The subject's left hand appears on the image right; the hand model mislabels both.
    hands = [hand("right", 0.8), hand("left", 0.2)]
    out = assign_hands(hands, pose(left_wrist_x=0.78, right_wrist_x=0.22))
    assert out["left"].points[0, 0] == np.float32(0.8)
    assert out["right"].points[0, 0] == np.float32(0.2)
    assert out["left"].side == "left" and out["right"].side == "right"


def test_one_hand_goes_to_the_nearer_wrist() -> None:
    out = assign_hands([hand("left", 0.25)], pose(left_wrist_x=0.8, right_wrist_x=0.2))
    assert list(out) == ["right"]


def test_without_a_pose_the_label_decides_and_the_surer_hand_wins() -> None:
    out = assign_hands([hand("left", 0.3, 0.6), hand("left", 0.7, 0.95), hand("right", 0.1)], None)
    assert out["left"].points[0, 0] == np.float32(0.7)
    assert out["right"].points[0, 0] == np.float32(0.1)


def test_a_duplicate_detection_is_not_given_to_the_other_wrist() -> None:
    """Legacy Hands reports one hand twice: the copy must not drive the far wrist's hand."""
    out = assign_hands([hand("right", 0.230, 0.9), hand("right", 0.235, 0.8)], pose(left_wrist_x=0.60, right_wrist_x=0.23))
    assert list(out) == ["right"] and out["right"].points[0, 0] == np.float32(0.230)


def test_a_hand_far_from_every_wrist_falls_back_to_its_label() -> None:
    # the left wrist (0.8) is 0.55 away, more than 0.6 shoulder widths (0.18): not its hand
    out = assign_hands([hand("right", 0.25)], pose(left_wrist_x=0.8, right_wrist_x=0.6))
    assert list(out) == ["right"]


def test_without_a_pose_two_hands_with_one_label_are_told_apart_by_position() -> None:
    out = assign_hands([hand("right", 0.25, 0.9), hand("right", 0.70, 0.7)], None)
    assert out["left"].points[0, 0] == np.float32(0.70)  # the subject's left is on the image right
    assert out["right"].points[0, 0] == np.float32(0.25)
