"""dlib's 68-point face tracker behind one adapter: the only module that imports ``dlib``.

Detector: dlib's HOG + linear SVM frontal face detector (``get_frontal_face_detector``, no
model file). Landmarks: dlib's ensemble-of-regression-trees shape predictor
(Kazemi & Sullivan 2014) with ``shape_predictor_68_face_landmarks.dat``, which the
``face-recognition-models`` wheel ships (or give ``predictor_path``). Both run on the CPU and
offline, which makes this the project's reference 68-point source.

Output: ``FaceLandmarks`` with 68 points in the iBUG 300-W order (``layout == "ibug68"``),
normalised like MediaPipe's (x / width, y / height); z is 0 (dlib is 2D). The largest detected
face is kept. Its ``blendshapes`` carry the gaze measured in the frame's eye pixels
(``face68.attach_gaze68``: ``eyeLook*``), so recorded sessions replay it. ``presence`` is 1.0 for a detected face: dlib's HOG score is an SVM margin, not a
probability.

Licence: the 68-point model was trained on the iBUG 300-W dataset, whose licence excludes
commercial use; see docs/face68.md.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Self

import cv2
import numpy as np

from vtuber.errors import TrackerError
from vtuber.records import FaceLandmarks, Frame, Landmarks
from vtuber.solve.face68 import attach_gaze68

try:
    import dlib
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise TrackerError(f"dlib is not importable ({exc}): pip install dlib-bin face-recognition-models") from exc

PREDICTOR_FILENAME = "shape_predictor_68_face_landmarks.dat"
PREDICTOR_ENV = "VTUBER_DLIB_PREDICTOR"
DEFAULT_UPSAMPLE = 0  # HOG finds faces >= ~80 px; upsample 1 halves that at 4x the cost
PIXEL_CENTRE = 0.5  # dlib returns pixel indices; the centre of pixel i is i + 0.5 continuous
DETECTION_MAX_SIDE = 640  # larger frames are shrunk for the detector only (landmarks use full res)
PROBE_SIDE = 32  # px, the blank image the predictor is tried on at start-up to count its points


def default_predictor_path() -> Path:
    """The 68-point model: ``$VTUBER_DLIB_PREDICTOR``, else the copy inside face-recognition-models.

    The package is located without importing it: its ``__init__`` needs ``pkg_resources``,
    which setuptools >= 81 no longer ships.
    """
    env = os.environ.get(PREDICTOR_ENV)
    if env:
        return Path(env)
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise TrackerError(
            f"{PREDICTOR_FILENAME} not found: pip install face-recognition-models (or set {PREDICTOR_ENV})"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models" / PREDICTOR_FILENAME


def shape_to_array(shape: Any) -> np.ndarray:
    """A ``dlib.full_object_detection`` -> (68, 2) float64 pixel coordinates."""
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)], dtype=np.float64)


def pixels_to_face(points_px: np.ndarray, image_size: tuple[int, int], presence: float = 1.0) -> FaceLandmarks:
    """(68, 2) or (68, 3) pixel points (z in pixels, if any) -> normalised ``FaceLandmarks``."""
    w, h = image_size
    p = np.asarray(points_px, dtype=np.float64)
    out = np.zeros((len(p), 3), dtype=np.float32)
    out[:, 0] = p[:, 0] / w
    out[:, 1] = p[:, 1] / h
    if p.shape[1] >= 3:
        out[:, 2] = p[:, 2] / w
    return FaceLandmarks(points=out, presence=presence)


class DlibTracker:
    """Face-only 68-point tracking with dlib (HOG detector + 68-point shape predictor).

    Args:
        predictor_path: the ``.dat`` model; default ``default_predictor_path()``.
        upsample: how often the detector upsamples the image (0 = none; 1 finds smaller faces).
        detection_max_side: frames whose longer side exceeds this are shrunk for detection.
    """

    def __init__(
        self,
        predictor_path: str | Path | None = None,
        *,
        upsample: int = DEFAULT_UPSAMPLE,
        detection_max_side: int = DETECTION_MAX_SIDE,
    ) -> None:
        path = Path(predictor_path) if predictor_path is not None else default_predictor_path()
        if not path.is_file():
            raise TrackerError(f"dlib shape predictor {path} not found: pip install face-recognition-models or set {PREDICTOR_ENV}")
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise TrackerError(f"cannot load dlib shape predictor {path}: {exc}") from exc
        # a wrong model (e.g. dlib's 5-point one) must fail here, not on every frame
        probe = self._predictor(np.zeros((PROBE_SIDE, PROBE_SIDE), np.uint8), dlib.rectangle(0, 0, PROBE_SIDE - 1, PROBE_SIDE - 1))
        if probe.num_parts != 68:
            raise TrackerError(
                f"dlib shape predictor {path} predicts {probe.num_parts} points, not 68: "
                f"use a 68-point model ({PREDICTOR_FILENAME}) or unset {PREDICTOR_ENV}"
            )
        self._detector = dlib.get_frontal_face_detector()
        self.upsample = int(upsample)
        self.detection_max_side = int(detection_max_side)
        self._path = path
        self.name = "dlib 68 (HOG detector + shape predictor)"

    def detect(self, gray: np.ndarray) -> Any | None:
        """The largest face box (a ``dlib.rectangle`` in ``gray``'s pixels), or None."""
        h, w = gray.shape[:2]
        scale = min(1.0, self.detection_max_side / max(h, w))
        small = gray if scale == 1.0 else cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        boxes = self._detector(small, self.upsample)
        if len(boxes) == 0:
            return None
        box = max(boxes, key=lambda b: b.width() * b.height())
        if scale == 1.0:
            return box
        return dlib.rectangle(
            round(box.left() / scale), round(box.top() / scale), round(box.right() / scale), round(box.bottom() / scale)
        )

    def landmarks_px(self, image_rgb: np.ndarray) -> np.ndarray | None:
        """(68, 2) landmarks of the largest face in an RGB image, or None.

        Continuous pixel coordinates (pixel i spans [i, i + 1), MediaPipe's convention): dlib's
        integer pixel indices + 0.5.
        """
        gray = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2GRAY)
        box = self.detect(gray)
        if box is None:
            return None
        shape = self._predictor(gray, box)
        if shape.num_parts != 68:
            raise TrackerError(f"{self._path} predicts {shape.num_parts} points, not 68 (use {PREDICTOR_FILENAME})")
        return shape_to_array(shape) + PIXEL_CENTRE

    def track(self, frame: Frame) -> Landmarks:
        points = self.landmarks_px(frame.image)
        face = None if points is None else attach_gaze68(pixels_to_face(points, frame.size), frame.image)
        return Landmarks(t=frame.t, index=frame.index, image_size=frame.size, face=face)

    def close(self) -> None:
        self._predictor = None
        self._detector = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
