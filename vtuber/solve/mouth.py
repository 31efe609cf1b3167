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
from vtuber.solve.weights import unit_weight

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


# ---------------------------------------------------------------------------------------------
# Mouth shapes beyond jawOpen, on features in the canonical face frame (vtuber.solve.arkit)
# ---------------------------------------------------------------------------------------------

CORNER_UP_CM = 0.45  # a broad smile lifts the corners ~0.5 cm relative to the lip centre
CORNER_DOWN_CM = 0.3
CORNER_OUT_CM = 0.45
CORNER_BACK_CM = 0.4
MOUTH_NARROW_CM = 1.2  # a pucker narrows the mouth ~25 % (about 1.2 cm of 4.9)
LIP_FORWARD_CM = 0.5
MOUTH_SHIFT_CM = 0.6
JAW_SHIFT_CM = 0.6
JAW_FORWARD_CM = 0.4
LIP_ROLL_CM = 0.35
LIP_RAISE_CM = 0.35
LOWER_LIP_DROP_CM = 0.8
LIP_GAP_OPEN_CM = 2.4  # inner-lip gap of a wide "aa" on the canonical face's scale


def mouth_open_weight(
    features: dict[str, float] | object, neutral: dict[str, float] | object, open_gap_cm: float = LIP_GAP_OPEN_CM
) -> float:
    """jawOpen from the inner-lip gap in the canonical frame (cm), relative to the neutral gap:
    0 at the neutral gap, 1 at ``open_gap_cm`` (a user's calibrated wide-open gap, or the default)."""
    f, n = features, neutral
    span = max(1e-6, open_gap_cm - n["lip_gap"])  # type: ignore[index]
    return unit_weight((f["lip_gap"] - n["lip_gap"]) / span)  # type: ignore[index]


def mouth_width_change(features: object, neutral: object) -> float:
    """Relative mouth width change (+ wider, - narrower) against the neutral width."""
    return (features["mouth_width"] - neutral["mouth_width"]) / neutral["mouth_width"]  # type: ignore[index]


_SIDES = tuple(
    tuple(f"mouth{k}{side}" for k in ("Smile", "Frown", "Stretch", "Dimple", "UpperUp", "LowerDown"))
    + tuple(f"{k}_{s}" for k in ("corner_y", "corner_x", "corner_z", "upper_lip", "lower_lip"))
    for side, s in (("Left", "L"), ("Right", "R"))
)
"""Per side (left, right): ``solve_mouth_shapes``' output names, then its feature names (built
once, not per frame)."""


def solve_mouth_shapes(features: object, neutral: object, open_weight: float) -> dict[str, float]:
    """Smile/frown/stretch/dimple per side, pucker, funnel, left/right, jaw sideways/forward,
    rolls, press, shrugs, upper-up/lower-down and close, in [0, 1]."""
    out: dict[str, float] = {}
    add_mouth_shapes(out, features, neutral, open_weight)
    return out


def add_mouth_shapes(out: dict[str, float], features: object, neutral: object, open_weight: float) -> None:
    """``solve_mouth_shapes`` written into ``out`` (one dict for all the face's shapes)."""
    f, n = features, neutral  # mappings of face_features
    for smile_k, frown_k, stretch_k, dimple_k, upper_up_k, lower_down_k, cy, cx, cz, ul, ll in _SIDES:
        up = f[cy] - n[cy]  # type: ignore[index]
        out_x = f[cx] - n[cx]  # type: ignore[index]
        back = n[cz] - f[cz]  # type: ignore[index]
        smile = unit_weight(up / CORNER_UP_CM)
        out[smile_k] = smile
        out[frown_k] = unit_weight(-up / CORNER_DOWN_CM)
        out[stretch_k] = unit_weight(out_x / CORNER_OUT_CM - 0.5 * smile)
        out[dimple_k] = unit_weight(back / CORNER_BACK_CM - 0.5 * smile)
        out[upper_up_k] = unit_weight((f[ul] - n[ul]) / LIP_RAISE_CM)  # type: ignore[index]
        out[lower_down_k] = unit_weight((n[ll] - f[ll]) / LOWER_LIP_DROP_CM)  # type: ignore[index]
    narrow = (n["mouth_width"] - f["mouth_width"]) / MOUTH_NARROW_CM  # type: ignore[index]
    forward = (f["lip_z"] - n["lip_z"]) / LIP_FORWARD_CM  # type: ignore[index]
    pucker = unit_weight(0.6 * narrow + 0.4 * forward)
    out["mouthPucker"] = unit_weight(pucker * (1.0 - 0.7 * open_weight))
    out["mouthFunnel"] = unit_weight(pucker * min(1.0, 3.0 * open_weight))
    shift = (f["mouth_x"] - n["mouth_x"]) / MOUTH_SHIFT_CM  # type: ignore[index]
    out["mouthLeft"] = unit_weight(shift)
    out["mouthRight"] = unit_weight(-shift)
    jaw = (f["chin_x"] - n["chin_x"]) / JAW_SHIFT_CM  # type: ignore[index]
    out["jawLeft"] = unit_weight(jaw)
    out["jawRight"] = unit_weight(-jaw)
    out["jawForward"] = unit_weight((f["chin_z"] - n["chin_z"]) / JAW_FORWARD_CM)  # type: ignore[index]
    roll_u = unit_weight((n["upper_lip_thickness"] - f["upper_lip_thickness"]) / LIP_ROLL_CM)  # type: ignore[index]
    roll_l = unit_weight((n["lower_lip_thickness"] - f["lower_lip_thickness"]) / LIP_ROLL_CM)  # type: ignore[index]
    closed = 1.0 - min(1.0, 4.0 * open_weight)
    out["mouthRollUpper"] = roll_u
    out["mouthRollLower"] = roll_l
    out["mouthPressLeft"] = out["mouthPressRight"] = unit_weight(0.5 * (roll_u + roll_l) * closed)
    shrug = unit_weight((f["lower_lip_y"] - n["lower_lip_y"]) / LIP_RAISE_CM) * closed  # type: ignore[index]
    out["mouthShrugLower"] = shrug
    out["mouthShrugUpper"] = unit_weight(0.5 * shrug)
    chin_drop = unit_weight((n["chin_y"] - f["chin_y"]) / 2.5)  # type: ignore[index]
    out["mouthClose"] = unit_weight(chin_drop - open_weight)
