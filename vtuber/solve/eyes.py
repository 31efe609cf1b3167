"""Per-eye blink from the eyelid landmarks.

The eye's openness is the mean upper-to-lower lid distance over three lid pairs divided by the
corner-to-corner eye width, both measured in 3D on MediaPipe's pixel-scaled landmarks (x, y and
z all in pixels of image width), so turning or tilting the head changes the ratio far less than a
2D eye aspect ratio would. Each eye is solved on its own: a wink closes one eye only.

Blink weight = 1 - (ratio - closed) / (open - closed), clamped to [0, 1]. ``EyeRange`` holds a
user's open/closed ratios (from neutral calibration); the defaults come from measuring Face
Mesh landmarks on the clips in ../shared/media (d0, d14, d18: frames the Tasks model calls
closed vs the median frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import NDArray

from vtuber.conventions import mediapipe_to_opencv_camera_scaled
from vtuber.records import FaceLandmarks, Side
from vtuber.solve.indices import EYE_CORNERS, EYE_LIDS

EYE_ROWS: dict[str, tuple[int, ...]] = {
    side: tuple(int(k) for k in EYE_CORNERS[side]) + tuple(int(k) for pair in EYE_LIDS[side] for k in pair) for side in EYE_CORNERS
}
"""Per eye: the (outer, inner) corners then the (upper, lower) lid pairs, as row indices."""
_EYE_ROWS = {side: list(rows) for side, rows in EYE_ROWS.items()}  # lists: numpy's fastest fancy index

DEFAULT_OPEN_RATIO = 0.28  # open eyes measure 0.27-0.37 on the ../shared/media clips (median)
DEFAULT_CLOSED_RATIO = 0.10  # closed eyes measure 0.08-0.10: Face Mesh never closes the contour


@dataclass(frozen=True, slots=True)
class EyeRange:
    """Lid gap / eye width ratios for an open and a closed eye (per user, from calibration), and
    optionally for a wide-open eye (``wide_ratio``, the guided calibration's eyes-wide step;
    None: ``open_ratio * (1 + WIDE_FRACTION)``)."""

    open_ratio: float = DEFAULT_OPEN_RATIO
    closed_ratio: float = DEFAULT_CLOSED_RATIO
    wide_ratio: float | None = None

    def __post_init__(self) -> None:
        if not self.open_ratio > self.closed_ratio >= 0.0:
            raise ValueError(f"EyeRange needs open_ratio > closed_ratio >= 0, got {self}")
        if self.wide_ratio is not None and not self.wide_ratio > self.open_ratio:
            raise ValueError(f"EyeRange needs wide_ratio > open_ratio, got {self}")


def eye_openness_ratio(points_px: NDArray[np.float64], side: Side) -> float:
    """Mean lid gap / eye width of one eye, on (N, 3) pixel-scaled landmarks."""
    # one gather of the eight landmarks (constant index table), then scalar arithmetic
    return lid_gap_ratio(points_px[_EYE_ROWS[side]].tolist())


def lid_gap_ratio(rows: Sequence[Sequence[float]]) -> float:
    """``eye_openness_ratio`` of one eye's eight points already gathered in ``EYE_ROWS`` order."""
    o, i, u0, d0, u1, d1, u2, d2 = rows
    width = math.dist(o, i)
    if width < 1e-6:
        return 0.0
    return ((math.dist(u0, d0) + math.dist(u1, d1) + math.dist(u2, d2)) / 3.0) / width


def blink_weight(ratio: float, eye_range: EyeRange) -> float:
    """Map an openness ratio to a blink weight in [0, 1] (1 = closed)."""
    value = (eye_range.open_ratio - ratio) / (eye_range.open_ratio - eye_range.closed_ratio)
    return float(min(1.0, max(0.0, value)))


def solve_blinks(
    face: FaceLandmarks, image_size: tuple[int, int], left: EyeRange = EyeRange(), right: EyeRange = EyeRange()
) -> dict[str, float]:
    """ARKit ``eyeBlinkLeft`` / ``eyeBlinkRight`` (subject's sides) from one face."""
    points = mediapipe_to_opencv_camera_scaled(face.points, image_size)
    return {
        "eyeBlinkLeft": blink_weight(eye_openness_ratio(points, "left"), left),
        "eyeBlinkRight": blink_weight(eye_openness_ratio(points, "right"), right),
    }


WIDE_FRACTION = 0.3  # eyeWide = 1 when the lids open 30 % beyond the neutral open ratio


def wide_weight(ratio: float, eye_range: EyeRange) -> float:
    """ARKit eyeWide in [0, 1]: how far the lids open beyond the (neutral) open ratio, 1 at the
    range's ``wide_ratio`` (or ``WIDE_FRACTION`` beyond open when it has none)."""
    wide = eye_range.wide_ratio if eye_range.wide_ratio is not None else (1.0 + WIDE_FRACTION) * eye_range.open_ratio
    value = (ratio - eye_range.open_ratio) / (wide - eye_range.open_ratio)
    return float(min(1.0, max(0.0, value)))
