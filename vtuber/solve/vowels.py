"""Vowel visemes aa/ih/ou/ee/oh (VRM A/I/U/E/O) from mouth opening and width.

Two measures span the vowel space: ``open`` (jawOpen from the inner-lip gap, 0..1) and
``width`` (the mouth width's relative change from neutral, + spread, - rounded/puckered). Each
vowel is a prototype point in that plane (``PROTOTYPES``); a frame's weights are a soft
assignment (Gaussian kernel, normalised over the five) scaled by how far the mouth is from rest,
so a closed neutral mouth gives zeros and each vowel's own shape gives its own weight the largest.
Unlike Kalidokit's formulas (anchors.md section 2), E and U are not weak by construction.

The default prototypes are in the units of exact geometry (typical spread and rounding). A
landmark tracker need not reproduce them: measured on the synthetic vowel renders, MediaPipe's
Tasks landmarks read mid-open mouths ~1.3x more open and width changes at ~0.6x (its shape prior
pulls toward an average mouth), so "oh" and "ee" land nearer the default "aa" than their own
prototypes. ``vtuber.solve.calibration.calibrate_vowels`` (the user says each vowel once)
replaces them with the user's own measurements in the tracker's units; pass them as
``prototypes``.
"""

from __future__ import annotations

import math
from typing import Mapping

VOWELS = ("aa", "ih", "ou", "ee", "oh")

# (open 0..1, relative width change) of each vowel; widths from typical lip spread/rounding
# (spread "i" about +15 %, rounded "u" about -25 % of the rest width).
PROTOTYPES: Mapping[str, tuple[float, float]] = {
    "aa": (0.75, 0.02),
    "ih": (0.12, 0.14),
    "ou": (0.12, -0.22),
    "ee": (0.40, 0.10),
    "oh": (0.45, -0.16),
}
OPEN_SCALE = 0.16  # kernel widths: how far (in each measure) a shape may sit from a prototype
WIDTH_SCALE = 0.07
REST_OPEN = 0.06  # below this opening and width change the mouth is "at rest": weights fade out
REST_WIDTH = 0.04


def vowel_weights(
    open_weight: float, width_change: float, prototypes: Mapping[str, tuple[float, float]] | None = None
) -> dict[str, float]:
    """Weights of aa/ih/ou/ee/oh in [0, 1] for a mouth ``open_weight`` (0..1) and relative width
    change ``width_change``; ``prototypes`` (all five vowels) default to ``PROTOTYPES``."""
    if prototypes is None:
        prototypes = PROTOTYPES
    scores = {}
    for name, (o, w) in prototypes.items():
        d2 = ((open_weight - o) / OPEN_SCALE) ** 2 + ((width_change - w) / WIDTH_SCALE) ** 2
        scores[name] = math.exp(-0.5 * d2)
    total = sum(scores.values())
    activity = max(open_weight / (2.0 * REST_OPEN), abs(width_change) / (2.0 * REST_WIDTH)) - 0.5
    activity = 0.0 if activity <= 0.0 else min(1.0, activity)
    if total < 1e-12:  # far outside every prototype: the nearest one
        best = min(prototypes, key=lambda k: (open_weight - prototypes[k][0]) ** 2 + (width_change - prototypes[k][1]) ** 2)
        return {k: (activity if k == best else 0.0) for k in VOWELS}
    return {k: activity * scores[k] / total for k in VOWELS}
