"""Mouth opening from the inner-lip landmarks.

Openness = inner lip gap (landmarks 13-14) / mouth width (corners 61-291), both in 3D on
pixel-scaled landmarks, mapped linearly between a closed and a wide-open ratio to ARKit
``jawOpen`` in [0, 1]; the VRM viseme ``aa`` follows it until the vowel solver exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vtuber.conventions import mediapipe_to_opencv_camera_scaled
from vtuber.records import FaceLandmarks
from vtuber.solve.indices import Face

DEFAULT_CLOSED_RATIO = 0.02  # closed lips measure 0.004-0.02 on the ../shared/media clips
DEFAULT_OPEN_RATIO = 0.80  # the yawn in d18.mp4 peaks at 0.93; 0.8 lets a big open reach 1


@dataclass(frozen=True, slots=True)
class MouthRange:
    """Inner lip gap / mouth width for a closed and a wide-open mouth (per user)."""

    closed_ratio: float = DEFAULT_CLOSED_RATIO
    open_ratio: float = DEFAULT_OPEN_RATIO

    def __post_init__(self) -> None:
        if not self.open_ratio > self.closed_ratio >= 0.0:
            raise ValueError(f"MouthRange needs open_ratio > closed_ratio >= 0, got {self}")


def mouth_open_ratio(face: FaceLandmarks, image_size: tuple[int, int]) -> float:
    """Inner lip gap / mouth width."""
    p = mediapipe_to_opencv_camera_scaled(face.points, image_size)
    width = float(np.linalg.norm(p[Face.MOUTH_LEFT_CORNER] - p[Face.MOUTH_RIGHT_CORNER]))
    if width < 1e-6:
        return 0.0
    return float(np.linalg.norm(p[Face.UPPER_LIP_INNER] - p[Face.LOWER_LIP_INNER])) / width


def solve_mouth(face: FaceLandmarks, image_size: tuple[int, int], mouth_range: MouthRange = MouthRange()) -> dict[str, float]:
    """ARKit ``jawOpen`` and the viseme ``aa`` in [0, 1]."""
    ratio = mouth_open_ratio(face, image_size)
    value = (ratio - mouth_range.closed_ratio) / (mouth_range.open_ratio - mouth_range.closed_ratio)
    weight = float(min(1.0, max(0.0, value)))
    return {"jawOpen": weight, "aa": weight}
