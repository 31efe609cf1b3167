"""Gaze per eye from the iris, independent of head rotation.

The iris centre (468 subject's right, 473 left) is measured in ``vtuber.solve.arkit.align_face``'s
canonical face frame, relative to the midpoint of the eye's corners and in units of the eye's
width (features ``iris_x_L``...), so head rotation, distance and face size drop out. Minus the
user's neutral offset (calibration), the offset is the iris moving on an eyeball of radius
``EYEBALL_RADIUS_FRACTION`` eye widths: ``yaw = asin(dx / r)``, ``pitch = -asin(dy / r)``.

Angles follow the head's convention (``geometry.from_yaw_pitch_roll``): positive yaw looks toward
the subject's left (+X), positive pitch looks down. Outputs: ``LeftEye``/``RightEye`` bone
rotations (internal frame, local to the Head; ``conventions.eye_rotation_from_gaze``) and ARKit
``eyeLook{In,Out,Up,Down}{Left,Right}``. When an eye is closed its gaze is unobservable: it takes
the other eye's gaze (both eyes move together), or holds neutral when both are closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from vtuber.conventions import eye_rotation_from_gaze
from vtuber.records import Quaternion
from vtuber.solve.weights import unit_weight

EYEBALL_RADIUS_FRACTION = 1.2 / 2.6  # eyeball radius 12 mm over a 26 mm corner-to-corner width
LOOK_RANGE_DEG = {"in": 25.0, "out": 30.0, "up": 20.0, "down": 25.0}  # ARKit eyeLook* = 1 here
MAX_GAZE_DEG = 40.0
_RY_RX_PROBE = (
    math.cos(0.15) * math.sin(-0.1),
    math.sin(0.15) * math.cos(-0.1),
    -(math.sin(0.15) * math.sin(-0.1)),
    math.cos(0.15) * math.cos(-0.1),
)
_EYE_ROTATION_IS_RY_RX = bool(np.allclose(eye_rotation_from_gaze(0.3, -0.2), _RY_RX_PROBE))
"""``EyeGaze.rotation``'s closed form matches the convention (checked once at import)."""
CLOSED_BLINK = 0.6  # above this blink weight the iris is covered: its gaze is not trusted


@dataclass(frozen=True, slots=True)
class EyeGaze:
    """One eye's gaze in degrees (positive yaw toward the subject's left, positive pitch down)."""

    yaw_deg: float
    pitch_deg: float

    def rotation(self) -> Quaternion:
        """``conventions.eye_rotation_from_gaze`` (``R = Ry(yaw) Rx(pitch)``), in closed form:
        the same product of the two axis rotations without the general quaternion calls."""
        return _eye_rotation(self.yaw_deg, self.pitch_deg)


def _eye_rotation(yaw_deg: float, pitch_deg: float) -> Quaternion:
    """``EyeGaze(yaw_deg, pitch_deg).rotation()``."""
    if _EYE_ROTATION_IS_RY_RX:
        h_yaw = 0.5 * math.radians(yaw_deg)
        h_pitch = 0.5 * math.radians(pitch_deg)
        sy, cy, sp, cp = math.sin(h_yaw), math.cos(h_yaw), math.sin(h_pitch), math.cos(h_pitch)
        return np.array([cy * sp, sy * cp, -(sy * sp), cy * cp])
    return eye_rotation_from_gaze(math.radians(yaw_deg), math.radians(pitch_deg))


def _angle(offset: float) -> float:
    s = offset / EYEBALL_RADIUS_FRACTION
    s = max(-1.0, min(1.0, s))
    return max(-MAX_GAZE_DEG, min(MAX_GAZE_DEG, math.degrees(math.asin(s))))


_IRIS_KEYS = {s: (f"iris_x_{s}", f"iris_y_{s}") for s in ("L", "R")}
_LOOK_KEYS = {s: tuple(f"eyeLook{d}{name}" for d in ("Out", "In", "Up", "Down")) for s, name in (("L", "Left"), ("R", "Right"))}
"""Feature and output names per side (built once, not per frame)."""


def eye_gaze(features: Mapping[str, float], neutral: Mapping[str, float], side: str) -> EyeGaze | None:
    """Gaze of one eye (``side`` ``"L"``/``"R"``), or None without iris landmarks."""
    angles = _gaze_deg(features, neutral, side)
    return None if angles is None else EyeGaze(*angles)


def _gaze_deg(features: Mapping[str, float], neutral: Mapping[str, float], side: str) -> tuple[float, float] | None:
    """``eye_gaze`` as (yaw, pitch) degrees."""
    kx, ky = _IRIS_KEYS[side]
    if kx not in features:
        return None
    dx = features[kx] - neutral.get(kx, 0.0)
    dy = features[ky] - neutral.get(ky, 0.0)
    return _angle(dx), -_angle(dy)


def look_weights(gaze: EyeGaze, side: str) -> dict[str, float]:
    """ARKit eyeLook* of one eye. For the left eye, looking toward the subject's left is "out"."""
    out: dict[str, float] = {}
    _add_look_weights(out, gaze.yaw_deg, gaze.pitch_deg, side)
    return out


def _add_look_weights(out: dict[str, float], yaw_deg: float, pitch_deg: float, side: str) -> None:
    """``look_weights`` of the gaze (yaw, pitch) degrees, written into ``out`` (in its order)."""
    out_k, in_k, up_k, down_k = _LOOK_KEYS[side]
    outward = yaw_deg if side == "L" else -yaw_deg
    r = LOOK_RANGE_DEG
    out[out_k] = unit_weight(outward / r["out"])
    out[in_k] = unit_weight(-outward / r["in"])
    out[up_k] = unit_weight(-pitch_deg / r["up"])
    out[down_k] = unit_weight(pitch_deg / r["down"])


def solve_gaze(
    features: Mapping[str, float], neutral: Mapping[str, float], blinks: Mapping[str, float]
) -> tuple[dict[str, float], dict[str, Quaternion]]:
    """(eyeLook* weights, {"LeftEye", "RightEye"} rotations); empty without iris landmarks.
    (``eye_gaze``, ``look_weights`` and ``EyeGaze.rotation`` of both eyes, on plain floats.)"""
    left = _gaze_deg(features, neutral, "L")
    right = _gaze_deg(features, neutral, "R")
    if left is None or right is None:
        return {}, {}
    left_closed = blinks.get("eyeBlinkLeft", 0.0) > CLOSED_BLINK
    right_closed = blinks.get("eyeBlinkRight", 0.0) > CLOSED_BLINK
    if left_closed and right_closed:
        left = right = (0.0, 0.0)
    elif left_closed:
        left = right
    elif right_closed:
        right = left
    shapes: dict[str, float] = {}
    _add_look_weights(shapes, *left, "L")
    _add_look_weights(shapes, *right, "R")
    return shapes, {"LeftEye": _eye_rotation(*left), "RightEye": _eye_rotation(*right)}
