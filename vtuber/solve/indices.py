"""Named MediaPipe Face Mesh landmark indices (subject's left/right), instead of bare numbers.

Source: mediapipe/python/solutions/face_mesh_connections.py; see also
../shared/reference/anchors.md section 6.
"""

from __future__ import annotations

from enum import IntEnum


class Face(IntEnum):
    """Face Mesh (478 with iris) landmarks used by the solvers."""

    RIGHT_EYE_OUTER = 33
    RIGHT_EYE_INNER = 133
    RIGHT_EYE_UPPER = 159
    RIGHT_EYE_LOWER = 145
    RIGHT_EYE_UPPER_OUTER = 160
    RIGHT_EYE_LOWER_OUTER = 144
    RIGHT_EYE_UPPER_INNER = 158
    RIGHT_EYE_LOWER_INNER = 153
    LEFT_EYE_OUTER = 263
    LEFT_EYE_INNER = 362
    LEFT_EYE_UPPER = 386
    LEFT_EYE_LOWER = 374
    LEFT_EYE_UPPER_OUTER = 387
    LEFT_EYE_LOWER_OUTER = 373
    LEFT_EYE_UPPER_INNER = 385
    LEFT_EYE_LOWER_INNER = 380
    RIGHT_IRIS_CENTRE = 468
    LEFT_IRIS_CENTRE = 473
    MOUTH_RIGHT_CORNER = 61
    MOUTH_LEFT_CORNER = 291
    UPPER_LIP_INNER = 13
    LOWER_LIP_INNER = 14
    UPPER_LIP_OUTER = 0
    LOWER_LIP_OUTER = 17
    NOSE_TIP = 1
    FOREHEAD = 10
    CHIN = 152


# (upper, lower) lid pairs and (outer, inner) corners per eye, subject's sides.
EYE_LIDS = {
    "right": (
        (Face.RIGHT_EYE_UPPER_OUTER, Face.RIGHT_EYE_LOWER_OUTER),
        (Face.RIGHT_EYE_UPPER, Face.RIGHT_EYE_LOWER),
        (Face.RIGHT_EYE_UPPER_INNER, Face.RIGHT_EYE_LOWER_INNER),
    ),
    "left": (
        (Face.LEFT_EYE_UPPER_OUTER, Face.LEFT_EYE_LOWER_OUTER),
        (Face.LEFT_EYE_UPPER, Face.LEFT_EYE_LOWER),
        (Face.LEFT_EYE_UPPER_INNER, Face.LEFT_EYE_LOWER_INNER),
    ),
}
EYE_CORNERS = {
    "right": (Face.RIGHT_EYE_OUTER, Face.RIGHT_EYE_INNER),
    "left": (Face.LEFT_EYE_OUTER, Face.LEFT_EYE_INNER),
}
