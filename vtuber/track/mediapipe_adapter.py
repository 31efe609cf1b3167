"""MediaPipe behind one adapter: the only module that imports ``mediapipe``.

Back ends (all CPU, all on the pinned ``mediapipe==0.10.21``):

* Face Mesh with iris refinement (legacy solution, model inside the wheel): 478 points.
* Holistic with refined face (legacy): face 478 + pose 33 (image and world) + both hands.
* Hands (legacy) or the Tasks HandLandmarker: 21 points per hand, for face + hands mode.
* Tasks FaceLandmarker (``face_landmarker.task``): 478 points and 52 ARKit blendshapes.

Results are converted to numpy arrays once, here. Real frame timestamps go to MediaPipe: the
Tasks API takes them in VIDEO mode; the legacy ``SolutionBase.process`` otherwise invents a
30 fps clock, so we set its timestamp from ``frame.t`` (its private ``_simulated_timestamp``,
pinned by the exact mediapipe version), which keeps its internal landmark filters honest at any
frame rate.

Handedness: Holistic labels hands by the subject's own side. The Hands solution and the Tasks
HandLandmarker label them assuming a mirrored (selfie) image, so on camera images as captured
their "Left" is the subject's right; we swap them here, once.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from vtuber.errors import TrackerError
from vtuber.records import FaceLandmarks, Frame, HandLandmarks, Landmarks, PoseLandmarks, Side, frozen_mapping
from vtuber.track import models
from vtuber.track.base import FaceBackend, TrackingMode

logger = logging.getLogger(__name__)

try:  # imported lazily in spirit: a clear error if the wheel is missing or broken
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    raise TrackerError(f"mediapipe is not importable ({exc}): pip install mediapipe==0.10.21") from exc

MIN_DETECTION_CONFIDENCE = 0.5  # MediaPipe's own default; lower admits false faces in clutter
MIN_TRACKING_CONFIDENCE = 0.5  # MediaPipe's default; below it the detector re-runs


def _landmark_array(landmark_list: Any) -> np.ndarray:
    """A MediaPipe landmark list (legacy proto or Tasks list) -> (N, 3) float32."""
    items = landmark_list.landmark if hasattr(landmark_list, "landmark") else landmark_list
    return np.array([(p.x, p.y, p.z) for p in items], dtype=np.float32)


def _visibility_array(landmark_list: Any) -> np.ndarray:
    items = landmark_list.landmark if hasattr(landmark_list, "landmark") else landmark_list
    return np.array([p.visibility for p in items], dtype=np.float32)


def _swap_side(label: str) -> Side:
    """Hands/HandLandmarker label for a mirrored image -> the subject's own side."""
    return "right" if label.lower() == "left" else "left"


class _LegacyClock:
    """Feeds real timestamps (microseconds, strictly increasing) to a legacy solution."""

    def __init__(self) -> None:
        self._last_us = -1

    def stamp(self, solution: Any, t: float) -> None:
        us = max(int(round(t * 1e6)), self._last_us + 1)
        self._last_us = us
        # process() adds 33333 before use; see the module docstring.
        solution._simulated_timestamp = us - 33333


class MediaPipeTracker:
    """Face, face + hands or upper-body tracking on the CPU.

    Args:
        mode: what to track (see ``TrackingMode``).
        face_backend: ``mesh``, ``tasks`` or ``auto`` (see ``FaceBackend``); Holistic (upper
            body) always uses its own refined face, plus the Tasks blendshapes when the
            FaceLandmarker is available and ``face_backend`` is not ``mesh``.
        models_dir: where the Tasks ``.task`` bundles are (see ``vtuber.track.models``).
        download_models: allow downloading missing Tasks bundles from the official URLs.
    """

    def __init__(
        self,
        mode: TrackingMode = "face",
        *,
        face_backend: FaceBackend = "auto",
        models_dir: str | None = None,
        download_models: bool = True,
    ) -> None:
        self.mode = mode
        self._clock = _LegacyClock()
        self._last_ms = -1
        self._face_mesh: Any = None
        self._holistic: Any = None
        self._hands: Any = None
        self._face_tasks: Any = None
        self._face_tasks = self._open_face_tasks(face_backend, models_dir, download_models)
        try:
            if mode == "upper_body":
                self._holistic = mp.solutions.holistic.Holistic(
                    static_image_mode=False,
                    model_complexity=1,
                    refine_face_landmarks=True,
                    min_detection_confidence=MIN_DETECTION_CONFIDENCE,
                    min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
                )
            elif self._face_tasks is None or face_backend in ("auto", "hybrid"):
                self._face_mesh = mp.solutions.face_mesh.FaceMesh(
                    static_image_mode=False,
                    max_num_faces=1,
                    refine_landmarks=True,
                    min_detection_confidence=MIN_DETECTION_CONFIDENCE,
                    min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
                )
            if mode == "face_hands":
                self._hands = mp.solutions.hands.Hands(
                    static_image_mode=False,
                    max_num_hands=2,
                    model_complexity=1,
                    min_detection_confidence=MIN_DETECTION_CONFIDENCE,
                    min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
                )
        except Exception as exc:  # mediapipe raises RuntimeError/ValueError from its C++ graph
            raise TrackerError(f"MediaPipe could not start its {mode} graph: {exc}") from exc
        face = "face mesh" + (" + tasks blendshapes" if self._face_tasks is not None else "")
        if self._face_tasks is not None and self._face_mesh is None:
            face = "tasks FaceLandmarker"
        if mode == "upper_body":
            face = "holistic" + (" + tasks blendshapes" if self._face_tasks is not None else "")
        self.name = f"mediapipe {mode} ({face})"

    # Public API

    def track(self, frame: Frame) -> Landmarks:
        """Landmarks of ``frame`` (RGB). Frames must come with increasing ``t``."""
        image = np.ascontiguousarray(frame.image)
        face = pose = None
        hands: dict[Side, HandLandmarks] = {}
        if self._holistic is not None:
            face, pose, hands = self._run_holistic(image, frame.t)
        elif self._face_mesh is not None:
            face = self._run_face_mesh(image, frame.t)
        if self._face_tasks is not None:
            tasks_face = self._run_face_tasks(image, frame.t)
            if face is None:
                face = tasks_face
            elif tasks_face is not None:  # Face Mesh / Holistic points, Tasks blendshapes
                face = FaceLandmarks(face.points, face.presence, tasks_face.blendshapes)
        if self._hands is not None:
            hands = self._run_hands(image, frame.t)
        return Landmarks(
            t=frame.t,
            index=frame.index,
            image_size=frame.size,
            face=face,
            pose=pose,
            left_hand=hands.get("left"),
            right_hand=hands.get("right"),
        )

    def close(self) -> None:
        for solution in (self._face_mesh, self._holistic, self._hands, self._face_tasks):
            if solution is not None:
                solution.close()
        self._face_mesh = self._holistic = self._hands = self._face_tasks = None

    def __enter__(self) -> MediaPipeTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Private helpers

    def _open_face_tasks(self, backend: FaceBackend, models_dir: str | None, download: bool) -> Any:
        if backend == "mesh":
            return None
        try:
            path = models.ensure_model("face_landmarker", models_dir, download=download)
        except TrackerError as exc:
            if backend in ("tasks", "hybrid"):
                raise
            logger.warning("%s; using Face Mesh with geometric blendshapes instead", exc)
            return None
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=1,
            output_face_blendshapes=True,
            min_face_detection_confidence=MIN_DETECTION_CONFIDENCE,
            min_face_presence_confidence=MIN_DETECTION_CONFIDENCE,
            min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
        )
        try:
            return vision.FaceLandmarker.create_from_options(options)
        except Exception as exc:  # a corrupt bundle fails inside the C++ graph
            raise TrackerError(f"cannot load {path}: {exc} (delete it to re-download)") from exc

    def _timestamp_ms(self, t: float) -> int:
        ms = max(int(round(t * 1000.0)), self._last_ms + 1)
        self._last_ms = ms
        return ms

    def _run_face_mesh(self, image: np.ndarray, t: float) -> FaceLandmarks | None:
        self._clock.stamp(self._face_mesh, t)
        result = self._face_mesh.process(image)
        if not result.multi_face_landmarks:
            return None
        return FaceLandmarks(points=_landmark_array(result.multi_face_landmarks[0]))

    def _run_face_tasks(self, image: np.ndarray, t: float) -> FaceLandmarks | None:
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=image)
        result = self._face_tasks.detect_for_video(mp_image, self._timestamp_ms(t))
        if not result.face_landmarks:
            return None
        shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[0]} if result.face_blendshapes else {}
        shapes.pop("_neutral", None)
        return FaceLandmarks(points=_landmark_array(result.face_landmarks[0]), blendshapes=frozen_mapping(shapes))

    def _run_holistic(
        self, image: np.ndarray, t: float
    ) -> tuple[FaceLandmarks | None, PoseLandmarks | None, dict[Side, HandLandmarks]]:
        self._clock.stamp(self._holistic, t)
        r = self._holistic.process(image)
        face = FaceLandmarks(points=_landmark_array(r.face_landmarks)) if r.face_landmarks else None
        pose = None
        if r.pose_landmarks and r.pose_world_landmarks:
            pose = PoseLandmarks(
                points=_landmark_array(r.pose_landmarks),
                world=_landmark_array(r.pose_world_landmarks),
                visibility=_visibility_array(r.pose_landmarks),
            )
        hands: dict[Side, HandLandmarks] = {}
        if r.left_hand_landmarks:
            hands["left"] = HandLandmarks("left", _landmark_array(r.left_hand_landmarks))
        if r.right_hand_landmarks:
            hands["right"] = HandLandmarks("right", _landmark_array(r.right_hand_landmarks))
        return face, pose, hands

    def _run_hands(self, image: np.ndarray, t: float) -> dict[Side, HandLandmarks]:
        self._clock.stamp(self._hands, t)
        r = self._hands.process(image)
        hands: dict[Side, HandLandmarks] = {}
        if not r.multi_hand_landmarks:
            return hands
        worlds = r.multi_hand_world_landmarks or [None] * len(r.multi_hand_landmarks)
        for lms, world, handedness in zip(r.multi_hand_landmarks, worlds, r.multi_handedness):
            best = handedness.classification[0]
            side = _swap_side(best.label)
            if side in hands and hands[side].score >= best.score:
                continue
            hands[side] = HandLandmarks(
                side=side,
                points=_landmark_array(lms),
                world=_landmark_array(world) if world is not None else None,
                score=float(best.score),
            )
        return hands
