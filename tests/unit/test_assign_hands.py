"""Which detected hand is the subject's left: by the nearer pose wrist, else by handedness."""

from __future__ import annotations

import numpy as np

from vtuber.records import HandLandmarks, PoseLandmarks
from vtuber.track.mediapipe_adapter import assign_hands


def hand(side: str, x: float, score: float = 0.9) -> HandLandmarks:
    points = np.zeros((21, 3), np.float32)
    points[:, 0] = x
    points[:, 1] = 0.5
    return HandLandmarks(side, points, None, score)  # type: ignore[arg-type]


def pose(left_wrist_x: float, right_wrist_x: float) -> PoseLandmarks:
    points = np.zeros((33, 3), np.float32)
    points[15, :2] = (left_wrist_x, 0.5)
    points[16, :2] = (right_wrist_x, 0.5)
    return PoseLandmarks(points, points.copy(), np.ones(33, np.float32))


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
