"""MediaPipe's canonical face model, as packaged in ``vtuber/data/canonical_face.npz``.

468 vertices in centimetres (x to the subject's left, y up, z out of the face: the internal
frame's axes), the same topology as Face Mesh's first 468 landmarks, plus its 898 triangles and
the 33 landmarks MediaPipe itself uses for rigid (Procrustes) alignment. Source: the geometry
pipeline metadata inside the official face_landmarker.task bundle (Apache-2.0); regenerate with
``tools/make_face_data.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class CanonicalFace:
    """The canonical face mesh.

    Attributes:
        vertices_cm: (468, 3) float64 centimetres.
        triangles: (898, 3) int32 vertex indices.
        rigid_ids: (33,) landmark indices that barely move with expressions (Procrustes basis).
        rigid_weights: (33,) their MediaPipe weights.
    """

    vertices_cm: NDArray[np.float64]
    triangles: NDArray[np.int32]
    rigid_ids: NDArray[np.int32]
    rigid_weights: NDArray[np.float64]


@lru_cache(maxsize=1)
def canonical_face() -> CanonicalFace:
    """The packaged canonical face (read once; arrays are read-only)."""
    with resources.files("vtuber.data").joinpath("canonical_face.npz").open("rb") as fh:
        data = np.load(fh)
        arrays = [
            np.array(data["vertices_cm"], dtype=np.float64),
            np.array(data["triangles"], dtype=np.int32),
            np.array(data["procrustes_ids"], dtype=np.int32),
            np.array(data["procrustes_weights"], dtype=np.float64),
        ]
    for a in arrays:
        a.setflags(write=False)
    return CanonicalFace(*arrays)
