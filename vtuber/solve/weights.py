"""The blendshape weight range shared by the face solvers (pure)."""

from __future__ import annotations


def unit_weight(x: float) -> float:
    """``x`` clamped to a weight in [0, 1] (a NaN passes through: the smoother treats it as missing)."""
    return 0.0 if x <= 0.0 else (1.0 if x >= 1.0 else x)
