"""Blink and mouth solvers on landmark geometry with known openings."""

from __future__ import annotations

import numpy as np
import pytest

from vtuber.records import FaceLandmarks
from vtuber.solve.eyes import EyeRange, blink_weight, solve_blinks
from vtuber.solve.face_model import canonical_face
from vtuber.solve.indices import EYE_LIDS, Face
from vtuber.solve.mouth import solve_mouth

SIZE = (640, 480)


def frontal_face(left_close: float = 0.0, right_close: float = 0.0, mouth_gap_cm: float = 0.0) -> FaceLandmarks:
    """The canonical face seen frontally, with eyelids moved toward each other and lips apart."""
    v = canonical_face().vertices_cm.copy()
    for side, closure in (("left", left_close), ("right", right_close)):
        for upper, lower in EYE_LIDS[side]:
            mid = (v[upper] + v[lower]) / 2
            v[upper] = v[upper] + (mid - v[upper]) * closure
            v[lower] = v[lower] + (mid - v[lower]) * closure
    v[Face.LOWER_LIP_INNER] = v[Face.UPPER_LIP_INNER] - (0.0, mouth_gap_cm, 0.0)  # lips together + gap
    scale = 0.02  # cm -> normalised units, a face about a fifth of the image wide
    points = np.zeros((478, 3), np.float32)
    points[:468, 0] = 0.5 + v[:, 0] * scale
    points[:468, 1] = 0.5 - v[:, 1] * scale * SIZE[0] / SIZE[1]
    points[:468, 2] = -v[:, 2] * scale
    return FaceLandmarks(points)


def test_blink_rises_monotonically_as_the_lids_close() -> None:
    values = [solve_blinks(frontal_face(c, c), SIZE)["eyeBlinkLeft"] for c in np.linspace(0, 1, 11)]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert values[-1] == 1.0


def test_a_wink_closes_one_eye_only() -> None:
    shapes = solve_blinks(frontal_face(left_close=1.0, right_close=0.0), SIZE)
    assert shapes["eyeBlinkLeft"] >= 0.8
    assert shapes["eyeBlinkRight"] <= 0.3
    shapes = solve_blinks(frontal_face(left_close=0.0, right_close=1.0), SIZE)
    assert shapes["eyeBlinkRight"] >= 0.8
    assert shapes["eyeBlinkLeft"] <= 0.3


def test_blink_weight_clamps() -> None:
    r = EyeRange(open_ratio=0.3, closed_ratio=0.1)
    assert blink_weight(0.5, r) == 0.0
    assert blink_weight(0.0, r) == 1.0
    assert blink_weight(0.2, r) == pytest.approx(0.5)


def test_eye_range_validates() -> None:
    with pytest.raises(ValueError, match="open_ratio > closed_ratio"):
        EyeRange(open_ratio=0.1, closed_ratio=0.2)


def test_mouth_opens_with_the_lip_gap() -> None:
    closed = solve_mouth(frontal_face(mouth_gap_cm=0.0), SIZE)["jawOpen"]
    half = solve_mouth(frontal_face(mouth_gap_cm=1.5), SIZE)["jawOpen"]
    wide = solve_mouth(frontal_face(mouth_gap_cm=5.0), SIZE)["jawOpen"]
    assert closed < 0.1 < half < wide
    assert 0.0 <= closed and wide <= 1.0
