"""Brows: left/right up and down, inner up, from brow heights in the canonical face frame.

Heights are measured in ``vtuber.solve.arkit.align_face``'s frame (centimetres of the canonical
face, head rotation and distance removed) as the brow points' height above the line through the
eye corners, relative to the user's neutral (``FaceCalibration``; default: the canonical face).

* ``browOuterUp{Left,Right}``: the outer brow points rise ``BROW_UP_CM``.
* ``browInnerUp``: the mean rise of both inner brows.
* ``browDown{Left,Right}``: the inner/middle brow drops ``BROW_DOWN_CM`` or the inner brow moves
  ``BROW_TOGETHER_CM`` toward the midline (a frown pulls the brows together).
"""

from __future__ import annotations

from typing import Mapping

BROW_UP_CM = 0.5  # a full raise lifts the brows about 0.6 cm on an adult face
BROW_DOWN_CM = 0.3
BROW_TOGETHER_CM = 0.25


def _unit(x: float) -> float:
    return 0.0 if x <= 0.0 else (1.0 if x >= 1.0 else x)


def brow_raise(features: Mapping[str, float], neutral: Mapping[str, float], side: str) -> float:
    """Signed brow movement of one side (``"L"`` / ``"R"``) in [-1, 1]: + raised, - lowered."""
    d = 0.5 * (
        features[f"brow_inner_{side}"] - neutral[f"brow_inner_{side}"] + features[f"brow_outer_{side}"] - neutral[f"brow_outer_{side}"]
    )
    return max(-1.0, min(1.0, d / (BROW_UP_CM if d > 0 else BROW_DOWN_CM)))


def solve_brows(features: Mapping[str, float], neutral: Mapping[str, float]) -> dict[str, float]:
    """``browDownLeft/Right``, ``browInnerUp``, ``browOuterUpLeft/Right`` in [0, 1]."""
    f, n = features, neutral
    out: dict[str, float] = {}
    inner = 0.0
    for side, s in (("Left", "L"), ("Right", "R")):
        d_inner = f[f"brow_inner_{s}"] - n[f"brow_inner_{s}"]
        d_mid = f[f"brow_mid_{s}"] - n[f"brow_mid_{s}"]
        d_outer = f[f"brow_outer_{s}"] - n[f"brow_outer_{s}"]
        together = n[f"brow_inner_x_{s}"] - f[f"brow_inner_x_{s}"]
        inner += 0.5 * d_inner
        out[f"browOuterUp{side}"] = _unit(d_outer / BROW_UP_CM)
        out[f"browDown{side}"] = _unit(max(-0.5 * (d_inner + d_mid) / BROW_DOWN_CM, together / BROW_TOGETHER_CM))
    out["browInnerUp"] = _unit(inner / BROW_UP_CM)
    return out
