"""face-alignment's FAN behind one adapter: the only module that imports ``face_alignment``/``torch``.

FAN (Bulat & Tzimiropoulos 2017, ``pip install face-alignment``; the ``vtuber[fan]`` extra) finds
68 iBUG points in a face box from a detector: 2D (2DFAN-4) or 3D (3DFAN-4 plus a depth network).
The detector is face-alignment's own choice of ``sfd`` (S3FD, its default), ``blazeface``,
``yunet``, ``retinaface``, ``scrfd`` or ``dlib`` (HOG on the CPU; needs no weights file).

Weights: face-alignment downloads them on first use into torch hub's checkpoint folder
(``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch/hub/checkpoints``), e.g.
``2DFAN4-11f355bf06.pth.tar``, ``3DFAN4-7835d9f11d.pth.tar``, ``depth-2a464da4ea.pth.tar`` and
the detector's (``s3fd-619a316812.pth`` for ``sfd``). The adapter always goes through
face-alignment's own loading code (``face_alignment.FaceAlignment``). With ``download=False``
(the default: this engine must start offline) its downloader is replaced, for the duration of
the constructor only, by one that raises; the adapter then reports the first file
face-alignment asked for, with the exact name and folder, as one ``TrackerError`` line. A file
that is there but cannot be read (truncated or corrupt copy) is named the same way: the adapter
records the paths face-alignment hands ``torch.load`` during the constructor. To pre-seed a
machine, copy the files there (see docs/face68.md).

Output: ``FaceLandmarks`` with 68 points in the iBUG order, normalised like MediaPipe's
(x / width, y / height). For 3D, z = -FAN depth / width: FAN's depth is in image pixels, and its
sign is assumed to follow its training data (3DDFA-style fits, larger = closer to the camera),
so it is negated to MediaPipe's "smaller = closer". That sign was NOT verified here (no weights
on this machine); the solvers in ``vtuber.solve.face68`` use x and y only. ``presence`` is the
mean heatmap peak of the 68 points (FAN's landmark score), clipped to [0, 1]. ``blendshapes``
carry the gaze measured in the frame's eye pixels (``face68.attach_gaze68``: ``eyeLook*``).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
import zipfile
from collections.abc import Iterator
from typing import Any, Literal, Self
from urllib.parse import urlparse

import numpy as np

from vtuber.errors import TrackerError
from vtuber.records import FaceLandmarks, Frame, Landmarks
from vtuber.solve.face68 import attach_gaze68

try:
    import face_alignment
    import face_alignment.utils as fa_utils
    import torch
    import torch.hub
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise TrackerError(
        f"face-alignment is not importable ({exc}): "
        "pip install 'vtuber[fan]' && pip install --no-deps face-alignment==1.5.0"
    ) from exc

FanLandmarks = Literal["2d", "3d"]
FanDetector = Literal["sfd", "blazeface", "yunet", "retinaface", "scrfd", "dlib"]
FanDevice = Literal["cpu", "cuda", "mps"]

_PATCH_LOCK = threading.RLock()  # re-entrant: the two patching contexts nest


class WeightsMissing(Exception):
    """Raised inside face-alignment's loader instead of a download (``download=False``)."""

    def __init__(self, url: str, destination: str) -> None:
        super().__init__(destination)
        self.url = url
        self.destination = destination


def checkpoint_dir() -> str:
    """torch hub's checkpoint folder, where face-alignment looks for its weights."""
    return os.path.join(torch.hub.get_dir(), "checkpoints")


def network_weight_urls(landmarks: FanLandmarks) -> list[str]:
    """The FAN network weight URLs face-alignment loads for ``landmarks`` (its own table)."""
    table = face_alignment.api.models_urls
    if landmarks == "2d":
        return [table["2DFAN-4"]]
    return [table["3DFAN-4"], table["depth"]]


def _filename(url: str) -> str:
    return os.path.basename(urlparse(url).path)


@contextlib.contextmanager
def _no_downloads() -> Iterator[None]:
    """Make face-alignment's and torch hub's downloaders raise ``WeightsMissing`` instead."""

    def refuse(url: str, dst: str, *args: Any, **kwargs: Any) -> None:
        raise WeightsMissing(url, dst)

    with _PATCH_LOCK, open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        # (the loaders print "Downloading: ..." before calling the downloader we refuse)
        saved = (fa_utils.download_url_to_file, torch.hub.download_url_to_file)
        fa_utils.download_url_to_file = refuse
        torch.hub.download_url_to_file = refuse
        try:
            yield
        finally:
            fa_utils.download_url_to_file, torch.hub.download_url_to_file = saved


UNREADABLE_WEIGHTS_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    RuntimeError,
    EOFError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
    IndexError,
    KeyError,
    ValueError,
)
"""What ``torch.load`` raises on a truncated or corrupt file (it depends where the file ends)."""


@contextlib.contextmanager
def _naming_unreadable_files(failed: list[str]) -> Iterator[None]:
    """Append to ``failed`` the path of every weights file ``torch.load`` cannot read (the
    error still propagates): face-alignment's and torch hub's loaders call ``torch.load``."""
    real_load = torch.load

    def load(f: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return real_load(f, *args, **kwargs)
        except UNREADABLE_WEIGHTS_ERRORS:
            if isinstance(f, (str, os.PathLike)):
                failed.append(os.fspath(f))
            raise

    with _PATCH_LOCK:
        torch.load = load  # type: ignore[assignment]
        try:
            yield
        finally:
            torch.load = real_load  # type: ignore[assignment]


def corrupt_weights_message(path: str) -> str:
    """One line: which weights file is unreadable, where, and what to do."""
    folder, name = os.path.split(path)
    return (
        f"face-alignment weights {name} in {folder} are corrupt or incomplete; copy it again "
        "(see docs/face68.md, 'Pre-seeding FAN weights')"
    )


def missing_weights_message(destination: str, url: str, landmarks: FanLandmarks) -> str:
    """One line: which file face-alignment wants, where, and how to put it there."""
    folder, name = os.path.split(destination)
    others = [
        _filename(u)
        for u in network_weight_urls(landmarks)
        if _filename(u) != name and not os.path.isfile(os.path.join(folder, _filename(u)))
    ]
    also = f" (also missing there: {', '.join(others)})" if others else ""
    return (
        f"face-alignment weights missing: {name} not found in {folder}{also}; "
        f"copy it there from {url} on a machine with internet, or set TORCH_HOME "
        "(see docs/face68.md, 'Pre-seeding FAN weights')"
    )


def fan_to_face(points: np.ndarray, image_size: tuple[int, int], scores: np.ndarray | None = None) -> FaceLandmarks:
    """One face of FAN's output -> ``FaceLandmarks``.

    Args:
        points: (68, 2) or (68, 3) float pixels, as ``FaceAlignment.get_landmarks_from_image``
            returns per face (x right, y down; 3D adds FAN's depth in pixels).
        image_size: (width, height) of the frame.
        scores: (68,) heatmap peaks (``return_landmark_score=True``), or None.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.shape not in ((68, 2), (68, 3)):
        raise ValueError(f"FAN landmarks must be (68, 2) or (68, 3), got {p.shape}")
    w, h = image_size
    out = np.zeros((68, 3), dtype=np.float32)
    out[:, 0] = p[:, 0] / w
    out[:, 1] = p[:, 1] / h
    if p.shape[1] == 3:
        out[:, 2] = -p[:, 2] / w  # see the module docstring: sign assumed, not measured
    presence = 1.0 if scores is None else float(np.clip(np.mean(np.asarray(scores, dtype=np.float64)), 0.0, 1.0))
    return FaceLandmarks(points=out, presence=presence)


def _largest(boxes: Any) -> int:
    areas = [(float(b[2]) - float(b[0])) * (float(b[3]) - float(b[1])) for b in boxes]
    return int(np.argmax(areas))


class FanTracker:
    """Face-only 68-point tracking with face-alignment's FAN.

    Args:
        landmarks: ``"2d"`` (2DFAN-4) or ``"3d"`` (3DFAN-4 + depth).
        face_detector: face-alignment's detector name (see ``FanDetector``).
        device: torch device, ``"cpu"`` (default), ``"cuda"`` or ``"mps"``.
        download: allow face-alignment to download missing weights (needs internet).
        flip_input: also run FAN on the mirrored crop and average (face-alignment's option;
            twice the cost).
        compile: let face-alignment ``torch.compile`` the networks (slow first start).
        detector_kwargs: passed to the detector (e.g. ``{"path_to_detector": ...}``).
    """

    def __init__(
        self,
        landmarks: FanLandmarks = "2d",
        *,
        face_detector: FanDetector = "sfd",
        device: FanDevice | str = "cpu",
        download: bool = False,
        flip_input: bool = False,
        compile: bool = False,
        detector_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if landmarks not in ("2d", "3d"):
            raise TrackerError(f"FAN landmarks must be '2d' or '3d', got {landmarks!r}")
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise TrackerError(f"FAN device {device!r} requested but torch {torch.__version__} sees no CUDA GPU; use device='cpu'")
        kind = face_alignment.LandmarksType.TWO_D if landmarks == "2d" else face_alignment.LandmarksType.THREE_D
        self.landmarks = landmarks
        guard = contextlib.nullcontext() if download else _no_downloads()
        unreadable: list[str] = []
        try:
            with _naming_unreadable_files(unreadable), guard:
                self._fa = face_alignment.FaceAlignment(
                    kind,
                    device=str(device),
                    flip_input=flip_input,
                    face_detector=face_detector,
                    face_detector_kwargs=detector_kwargs,
                    compile=compile,
                )
        except WeightsMissing as exc:
            raise TrackerError(missing_weights_message(exc.destination, exc.url, landmarks)) from None
        except ModuleNotFoundError as exc:
            raise TrackerError(f"face-alignment has no face detector {face_detector!r} ({exc})") from exc
        except UNREADABLE_WEIGHTS_ERRORS as exc:
            if unreadable:  # torch.load failed on a file that is there
                raise TrackerError(corrupt_weights_message(unreadable[-1])) from None
            if not isinstance(exc, OSError):
                raise
            # a download that failed (offline)
            folder = checkpoint_dir()
            missing = [_filename(u) for u in network_weight_urls(landmarks) if not os.path.isfile(os.path.join(folder, _filename(u)))]
            raise TrackerError(
                f"face-alignment could not load its weights ({exc}); missing in {folder}: "
                f"{', '.join(missing) or 'the detector weights'} (see docs/face68.md, 'Pre-seeding FAN weights')"
            ) from exc
        self._flip = flip_input
        self.name = f"face-alignment FAN {landmarks.upper()} ({face_detector} detector, {device})"

    def track(self, frame: Frame) -> Landmarks:
        image = np.ascontiguousarray(frame.image)
        points, scores, boxes = self._fa.get_landmarks_from_image(image, return_bboxes=True, return_landmark_score=True)
        face = None
        if points:
            i = _largest(boxes) if boxes is not None and len(boxes) == len(points) else 0
            s = None if scores is None else np.asarray(scores[i], dtype=np.float64) / (2.0 if self._flip else 1.0)
            face = attach_gaze68(fan_to_face(points[i], frame.size, s), image)
        return Landmarks(t=frame.t, index=frame.index, image_size=frame.size, face=face)

    def close(self) -> None:
        self._fa = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
