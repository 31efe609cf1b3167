"""MediaPipe behind one adapter: the only module that imports ``mediapipe``.

Back ends (all CPU, all on the pinned ``mediapipe==0.10.21``):

* Face Mesh with iris refinement (legacy solution, model inside the wheel): 478 points.
* Pose (legacy, full model): 33 points in the image and in metres (world).
* Hands (legacy) or the Tasks HandLandmarker (``hand_landmarker.task``): 21 points per hand.
* Tasks FaceLandmarker (``face_landmarker.task``): 478 points and 52 ARKit blendshapes.

Results are converted to numpy arrays once, here. Real frame timestamps go to MediaPipe: the
Tasks API takes them in VIDEO mode; the legacy ``SolutionBase.process`` otherwise invents a
30 fps clock, so we set its timestamp from ``frame.t`` (its private ``_simulated_timestamp``,
pinned by the exact mediapipe version), which keeps its internal landmark filters honest at any
frame rate.

Handedness: the legacy Hands solution labels hands assuming a mirrored (selfie) image, so on
camera images as captured its "Left" is the subject's right and we swap it here, once; the
Tasks HandLandmarker of mediapipe 0.10.21 already names the subject's own hand (measured on
three clips against the pose wrists: swapped, 2 of 269 hands were right). With a pose in view
each hand goes to the nearer pose wrist instead (``assign_hands``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
WRIST_VISIBLE = 0.3  # pose visibility below which a wrist is out of view (MediaPipe's scale 0-1)
HAND_RECHECK_FRAMES = 10  # look for hands anyway every third of a second at 30 fps


_XYZ_RECORD_BYTES = 17
_XYZ_KEYS = np.array([0x0A, 15, 0x0D, 0x15, 0x1D], dtype=np.uint8)
_XYZ_KEY_COLUMNS = [0, 1, 2, 7, 12]
"""A serialized ``NormalizedLandmarkList`` whose landmarks carry x, y, z only (Face Mesh, Hands):
per landmark, field 1 (key 0x0A) of 15 bytes holding fields 1-3 as fixed32 floats (keys 0x0D,
0x15, 0x1D), each key followed by a little-endian float32 at bytes 3, 8 and 13 of the record."""


def _landmark_array(landmark_list: Any) -> np.ndarray:
    """A MediaPipe landmark list (legacy proto or Tasks list) -> (N, 3) float32.

    A legacy proto whose every landmark is exactly x, y, z is read from its wire bytes in one
    pass (30 us for the 478 face points against 200 us of Python attribute reads); any other
    layout (visibility, presence, a Tasks list) takes the attribute path."""
    serialize = getattr(landmark_list, "SerializeToString", None)
    if serialize is not None:
        raw = serialize()
        if raw and len(raw) % _XYZ_RECORD_BYTES == 0:
            records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _XYZ_RECORD_BYTES)
            if bool((records[:, _XYZ_KEY_COLUMNS] == _XYZ_KEYS).all()):
                return np.ascontiguousarray(records[:, [3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16]]).view("<f4").astype(np.float32)
    items = landmark_list.landmark if hasattr(landmark_list, "landmark") else landmark_list
    return np.array([(p.x, p.y, p.z) for p in items], dtype=np.float32)


def _visibility_array(landmark_list: Any) -> np.ndarray:
    items = landmark_list.landmark if hasattr(landmark_list, "landmark") else landmark_list
    return np.array([p.visibility for p in items], dtype=np.float32)


def _swap_side(label: str) -> Side:
    """The legacy Hands label (for a mirrored image) -> the subject's own side."""
    return "right" if label.lower() == "left" else "left"


def _own_side(label: str) -> Side:
    """The Tasks HandLandmarker label, which already names the subject's own hand."""
    return "left" if label.lower() == "left" else "right"


class _Legacy:
    """A legacy solution fed real timestamps (microseconds, strictly increasing)."""

    def __init__(self, solution: Any) -> None:
        self.solution = solution
        self._last_us = -1

    def process(self, image: np.ndarray, t: float) -> Any:
        us = max(round(t * 1e6), self._last_us + 1)
        self._last_us = us
        # process() adds 33333 before use; see the module docstring.
        self.solution._simulated_timestamp = us - 33333
        return self.solution.process(image)

    def close(self) -> None:
        self.solution.close()


class MediaPipeTracker:
    """Face, face + hands or upper-body tracking on the CPU.

    The models of a mode run concurrently, one thread each (MediaPipe's graphs release the GIL),
    so on two cores upper body (pose + hands + face mesh: the same models Holistic chains)
    costs about the slowest model instead of their sum: 27 ms against Holistic's 40 ms on
    sign_language_pose/test_video.mp4 here.

    Args:
        mode: what to track (see ``TrackingMode``).
        face_backend: see ``FaceBackend``.
        models_dir: where the Tasks ``.task`` bundles are (see ``vtuber.track.models``).
        download_models: allow downloading missing Tasks bundles from the official URLs.
        hand_backend: ``legacy`` (the Hands solution in the wheel) or ``tasks`` (the Tasks
            HandLandmarker, needs hand_landmarker.task).
    """

    def __init__(
        self,
        mode: TrackingMode = "face",
        *,
        face_backend: FaceBackend = "auto",
        models_dir: str | None = None,
        download_models: bool = True,
        hand_backend: str = "legacy",
    ) -> None:
        self.mode = mode
        self._hand_tasks: Any = None
        self._hand_last_ms = -1
        self._last_ms = -1
        self._face_mesh: _Legacy | None = None
        self._pose: _Legacy | None = None
        self._hands: _Legacy | None = None
        self._face_tasks: Any = self._open_face_tasks(face_backend, models_dir, download_models)
        self._last_pose: PoseLandmarks | None = None
        self._frames = 0
        self._hands_last_frame = False  # did the last hand-model run find a hand
        try:
            if self._face_tasks is None or face_backend in ("auto", "hybrid"):
                self._face_mesh = _Legacy(
                    mp.solutions.face_mesh.FaceMesh(
                        static_image_mode=False,
                        max_num_faces=1,
                        refine_landmarks=True,
                        min_detection_confidence=MIN_DETECTION_CONFIDENCE,
                        min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
                    )
                )
            if mode in ("face_hands", "upper_body") and hand_backend == "tasks":
                self._hand_tasks = self._open_hand_tasks(models_dir, download_models)
            elif mode in ("face_hands", "upper_body"):
                self._hands = _Legacy(
                    mp.solutions.hands.Hands(
                        static_image_mode=False,
                        max_num_hands=2,
                        model_complexity=1,
                        min_detection_confidence=MIN_DETECTION_CONFIDENCE,
                        min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
                    )
                )
            if mode == "upper_body":
                self._pose = _Legacy(
                    mp.solutions.pose.Pose(
                        static_image_mode=False,
                        model_complexity=1,  # the full model: the only pose model in the wheel
                        min_detection_confidence=MIN_DETECTION_CONFIDENCE,
                        min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
                    )
                )
        except Exception as exc:  # mediapipe raises RuntimeError/ValueError from its C++ graph
            self.close()
            raise TrackerError(f"MediaPipe could not start its {mode} graph: {exc}") from exc
        jobs = sum(x is not None for x in (self._face_mesh, self._face_tasks, self._hands, self._hand_tasks, self._pose))
        self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mediapipe") if jobs > 1 else None
        face = "face mesh" + (" + tasks blendshapes" if self._face_tasks is not None else "")
        if self._face_tasks is not None and self._face_mesh is None:
            face = "tasks FaceLandmarker"
        hands = "tasks hands" if self._hand_tasks is not None else "hands"
        parts = {"face": face, "face_hands": f"{face} + {hands}", "upper_body": f"pose + {hands} + {face}"}
        self.name = f"mediapipe {mode} ({parts[mode]})"

    # Public API

    def track(self, frame: Frame) -> Landmarks:
        """Landmarks of ``frame`` (RGB). Frames must come with increasing ``t``."""
        image = np.ascontiguousarray(frame.image)
        t = frame.t
        jobs: dict[str, Callable[[], Any]] = {}
        if self._face_mesh is not None:
            jobs["mesh"] = lambda: self._run_face_mesh(image, t)
        if self._face_tasks is not None:
            jobs["tasks"] = lambda: self._run_face_tasks(image, t)
        if (self._hands is not None or self._hand_tasks is not None) and self._hands_may_be_in_view():
            jobs["hands"] = lambda: self._run_hands(image, t)
        if self._pose is not None:
            jobs["pose"] = lambda: self._run_pose(image, t)
        if self._pool is None:
            results = {name: job() for name, job in jobs.items()}
        else:
            futures = {name: self._pool.submit(job) for name, job in jobs.items()}
            results = {name: future.result() for name, future in futures.items()}
        face = results.get("mesh")
        tasks_face = results.get("tasks")
        if face is None:
            face = tasks_face
        elif tasks_face is not None:  # Face Mesh points (eyes, mouth), Tasks blendshapes and head points
            face = FaceLandmarks(face.points, face.presence, tasks_face.blendshapes, head_points=tasks_face.points)
        pose = results.get("pose")
        self._last_pose = pose
        self._frames += 1
        found = results.get("hands")
        if found is not None:
            self._hands_last_frame = bool(found)
        hands = assign_hands(found or [], pose)
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
        for solution in (self._face_mesh, self._pose, self._hands, self._face_tasks, getattr(self, "_hand_tasks", None)):
            if solution is not None:
                solution.close()
        self._face_mesh = self._pose = self._hands = self._face_tasks = self._hand_tasks = None
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> MediaPipeTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Private helpers

    def _hands_may_be_in_view(self) -> bool:
        """False when the last pose saw both wrists out of view: the hand model (the costliest,
        its palm detector re-running on every frame without a hand) is then skipped, except on
        every ``HAND_RECHECK_FRAMES``-th frame, the way Holistic derives hand regions from the
        pose."""
        pose = self._last_pose
        if pose is None or self._hands_last_frame or self._frames % HAND_RECHECK_FRAMES == 0:
            return True  # a hand tracked last frame keeps the model on whatever the pose says
        return bool(max(pose.visibility[i] for i in POSE_WRISTS.values()) >= WRIST_VISIBLE)

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
        return _create_task(
            vision.FaceLandmarker,
            path,
            vision.FaceLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(path)),
                running_mode=vision.RunningMode.VIDEO,
                num_faces=1,
                output_face_blendshapes=True,
                min_face_detection_confidence=MIN_DETECTION_CONFIDENCE,
                min_face_presence_confidence=MIN_DETECTION_CONFIDENCE,
                min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
            ),
        )

    def _open_hand_tasks(self, models_dir: str | None, download: bool) -> Any:
        path = models.ensure_model("hand_landmarker", models_dir, download=download)
        return _create_task(
            vision.HandLandmarker,
            path,
            vision.HandLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(path)),
                running_mode=vision.RunningMode.VIDEO,
                num_hands=2,
                min_hand_detection_confidence=MIN_DETECTION_CONFIDENCE,
                min_hand_presence_confidence=MIN_DETECTION_CONFIDENCE,
                min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
            ),
        )

    def _timestamp_ms(self, t: float) -> int:
        ms = max(int(round(t * 1000.0)), self._last_ms + 1)
        self._last_ms = ms
        return ms

    def _run_face_mesh(self, image: np.ndarray, t: float) -> FaceLandmarks | None:
        assert self._face_mesh is not None
        result = self._face_mesh.process(image, t)
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

    def _run_pose(self, image: np.ndarray, t: float) -> PoseLandmarks | None:
        assert self._pose is not None
        r = self._pose.process(image, t)
        if not (r.pose_landmarks and r.pose_world_landmarks):
            return None
        return PoseLandmarks(
            points=_landmark_array(r.pose_landmarks),
            world=_landmark_array(r.pose_world_landmarks),
            visibility=_visibility_array(r.pose_landmarks),
        )

    def _run_hands(self, image: np.ndarray, t: float) -> list[HandLandmarks]:
        if self._hand_tasks is not None:
            return self._run_hand_tasks(image, t)
        assert self._hands is not None
        r = self._hands.process(image, t)
        if not r.multi_hand_landmarks:
            return []
        worlds = r.multi_hand_world_landmarks or [None] * len(r.multi_hand_landmarks)
        return [
            HandLandmarks(
                side=_swap_side(handedness.classification[0].label),
                points=_landmark_array(lms),
                world=_landmark_array(world) if world is not None else None,
                score=float(handedness.classification[0].score),
            )
            for lms, world, handedness in zip(r.multi_hand_landmarks, worlds, r.multi_handedness)
        ]


    def _run_hand_tasks(self, image: np.ndarray, t: float) -> list[HandLandmarks]:
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=image)
        # Its own millisecond clock: the face Tasks model may run in another thread.
        ms = max(round(t * 1000.0), self._hand_last_ms + 1)
        self._hand_last_ms = ms
        r = self._hand_tasks.detect_for_video(mp_image, ms)
        return [
            HandLandmarks(
                side=_own_side(handedness[0].category_name),
                points=_landmark_array(points),
                world=_landmark_array(world),
                score=float(handedness[0].score),
            )
            for points, world, handedness in zip(r.hand_landmarks, r.hand_world_landmarks, r.handedness)
        ]


def _create_task(task: Any, path: Any, options: Any) -> Any:
    """A Tasks landmarker from its options; a corrupt bundle is one TrackerError line."""
    try:
        return task.create_from_options(options)
    except Exception as exc:  # a corrupt bundle fails inside the C++ graph
        raise TrackerError(f"cannot load {path}: {exc} (delete it to re-download)") from exc


POSE_WRISTS: dict[Side, int] = {"left": 15, "right": 16}  # BlazePose: subject's left wrist = 15


DUPLICATE_HAND_FRACTION = 0.25  # two detections this close (mean landmark gap / hand size) are one hand
MAX_WRIST_GAP_FRACTION = 0.6  # a hand's wrist this far from a pose wrist (x shoulder width) is not its hand


def assign_hands(hands: Sequence[HandLandmarks], pose: PoseLandmarks | None) -> dict[Side, HandLandmarks]:
    """Which detected hand is the subject's left and which the right.

    Duplicate detections of one hand (the legacy model reports some hands twice) are dropped
    first, keeping the more confident. With a pose, each hand goes to the nearer visible pose
    wrist (the hand model's own handedness flips easily on a hand seen edge-on), but never to a
    wrist more than ``MAX_WRIST_GAP_FRACTION`` shoulder widths away; hands no wrist claims fall
    back to their labels. Without a pose the label decides; two distinct hands with the same
    label are told apart by image position (on an unmirrored image the subject's left hand has
    the larger x).
    """
    distinct = _without_duplicates(hands)
    out: dict[Side, HandLandmarks] = {}
    left_over = list(distinct)
    if pose is not None and distinct:
        shoulders = float(np.linalg.norm(pose.points[11, :2] - pose.points[12, :2]))
        limit = MAX_WRIST_GAP_FRACTION * max(shoulders, 1e-6)
        wrists = {side: pose.points[i, :2] for side, i in POSE_WRISTS.items() if pose.visibility[i] >= WRIST_VISIBLE}
        order = sorted(
            (float(np.linalg.norm(h.points[0, :2] - wrists[side])), side, k) for k, h in enumerate(distinct) for side in wrists
        )
        used: set[int] = set()
        for distance, side, k in order:
            if side in out or k in used or distance > limit:
                continue
            out[side] = HandLandmarks(side, distinct[k].points, distinct[k].world, distinct[k].score)
            used.add(k)
        left_over = [h for k, h in enumerate(distinct) if k not in used]
    by_label: dict[Side, list[HandLandmarks]] = {"left": [], "right": []}
    for hand in left_over:
        by_label[hand.side].append(hand)
    for side in ("left", "right"):
        if len(by_label[side]) > 1 and not by_label["right" if side == "left" else "left"]:
            # two distinct hands, one label: the one further to the image right is the subject's left
            pair = sorted(by_label[side], key=lambda h: -float(np.mean(h.points[:, 0])))[:2]
            by_label = {"left": [pair[0]], "right": [pair[1]]}
            break
    for side, candidates in by_label.items():
        if side in out:
            continue
        for hand in sorted(candidates, key=lambda h: -h.score):
            out[side] = HandLandmarks(side, hand.points, hand.world, hand.score)
            break
    return out


def _without_duplicates(hands: Sequence[HandLandmarks]) -> list[HandLandmarks]:
    """``hands`` minus detections that repeat a more confident one (mean landmark distance below
    ``DUPLICATE_HAND_FRACTION`` of that hand's wrist-to-middle-knuckle size)."""
    kept: list[HandLandmarks] = []
    for hand in sorted(hands, key=lambda h: -h.score):
        size = max(float(np.linalg.norm(hand.points[9, :2] - hand.points[0, :2])), 1e-6)
        if all(float(np.mean(np.linalg.norm(hand.points[:, :2] - k.points[:, :2], axis=1))) >= DUPLICATE_HAND_FRACTION * size for k in kept):
            kept.append(hand)
    return kept
