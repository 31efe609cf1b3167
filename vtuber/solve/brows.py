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

from vtuber.solve.weights import unit_weight

BROW_UP_CM = 0.5  # a full raise lifts the brows about 0.6 cm on an adult face
BROW_DOWN_CM = 0.3
BROW_TOGETHER_CM = 0.25


def brow_raise(features: Mapping[str, float], neutral: Mapping[str, float], side: str) -> float:
    """Signed brow movement of one side (``"L"`` / ``"R"``) in [-1, 1]: + raised, - lowered."""
    d = 0.5 * (
        features[f"brow_inner_{side}"] - neutral[f"brow_inner_{side}"] + features[f"brow_outer_{side}"] - neutral[f"brow_outer_{side}"]
    )
    return max(-1.0, min(1.0, d / (BROW_UP_CM if d > 0 else BROW_DOWN_CM)))


_SIDES = tuple(
    (f"browOuterUp{side}", f"browDown{side}", f"brow_inner_{s}", f"brow_mid_{s}", f"brow_outer_{s}", f"brow_inner_x_{s}")
    for side, s in (("Left", "L"), ("Right", "R"))
)
"""Per side (left, right): the output names, then the feature names (built once, not per frame)."""


def solve_brows(features: Mapping[str, float], neutral: Mapping[str, float]) -> dict[str, float]:
    """``browDownLeft/Right``, ``browInnerUp``, ``browOuterUpLeft/Right`` in [0, 1]."""
    out: dict[str, float] = {}
    add_brows(out, features, neutral)
    return out


def add_brows(out: dict[str, float], features: Mapping[str, float], neutral: Mapping[str, float]) -> None:
    """``solve_brows`` written into ``out`` (one dict for all the face's shapes)."""
    f, n = features, neutral
    inner = 0.0
    for outer_up, down, k_inner, k_mid, k_outer, k_inner_x in _SIDES:
        d_inner = f[k_inner] - n[k_inner]
        d_mid = f[k_mid] - n[k_mid]
        d_outer = f[k_outer] - n[k_outer]
        together = n[k_inner_x] - f[k_inner_x]
        inner += 0.5 * d_inner
        out[outer_up] = unit_weight(d_outer / BROW_UP_CM)
        out[down] = unit_weight(max(-0.5 * (d_inner + d_mid) / BROW_DOWN_CM, together / BROW_TOGETHER_CM))
    out["browInnerUp"] = unit_weight(inner / BROW_UP_CM)
