"""Locating, downloading and verifying the MediaPipe Tasks model bundles.

The legacy solution models ship inside the ``mediapipe==0.10.21`` wheel; the Tasks bundles
(FaceLandmarker with 52 blendshapes, HandLandmarker) do not. They are looked up, in order, in:

1. the directory given by ``--models-dir`` / ``[track] models_dir`` in the config,
2. ``$VTUBER_MODELS_DIR``,
3. the user cache ``~/.cache/vtuber/models`` (``$XDG_CACHE_HOME`` respected),

and otherwise downloaded from MediaPipe's official model storage into the cache, accepted only
when the sha256 matches the pinned value. No import of mediapipe here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vtuber.errors import TrackerError

logger = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 20.0  # an offline machine fails fast instead of hanging the start-up


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model bundle: its file name, official URL and pinned sha256."""

    filename: str
    url: str
    sha256: str


MODELS: dict[str, ModelSpec] = {
    "face_landmarker": ModelSpec(
        "face_landmarker.task",
        "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task",
        "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    ),
    "hand_landmarker": ModelSpec(
        "hand_landmarker.task",
        "https://storage.googleapis.com/mediapipe-models/hand_landmarker/hand_landmarker/float16/1/hand_landmarker.task",
        "fbc2a30080c3c557093b5ddfc334698132eb341044ccee322ccf8bcf3607cde1",
    ),
}


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/vtuber/models`` or ``~/.cache/vtuber/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vtuber" / "models"


def search_dirs(models_dir: str | Path | None) -> list[Path]:
    """Where a model is looked for, in order."""
    dirs = [Path(models_dir)] if models_dir else []
    env = os.environ.get("VTUBER_MODELS_DIR")
    if env:
        dirs.append(Path(env))
    dirs.append(cache_dir())
    return dirs


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_model(name: str, models_dir: str | Path | None = None) -> Path | None:
    """The first local copy of model ``name`` whose sha256 matches, else None."""
    spec = MODELS[name]
    for directory in search_dirs(models_dir):
        candidate = directory / spec.filename
        if candidate.is_file():
            if sha256_of(candidate) == spec.sha256:
                return candidate
            logger.warning("ignoring %s: its sha256 does not match the pinned model", candidate)
    return None


def ensure_model(name: str, models_dir: str | Path | None = None, *, download: bool = True) -> Path:
    """A verified local path to model ``name``, downloading it into the cache if needed.

    Raises:
        TrackerError: one line naming the file, the folders searched and the fix.
    """
    found = find_model(name, models_dir)
    if found is not None:
        return found
    spec = MODELS[name]
    where = ", ".join(str(d) for d in search_dirs(models_dir))
    if not download:
        raise TrackerError(f"{spec.filename} not found in {where}: download it from {spec.url} into one of them")
    target = cache_dir() / spec.filename
    try:
        _download(spec, target)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise TrackerError(
            f"{spec.filename} not found in {where} and the download failed ({exc}): "
            f"fetch {spec.url} yourself and pass --models-dir DIR"
        ) from exc
    return target


def _download(spec: ModelSpec, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s from %s", spec.filename, spec.url)
    digest = hashlib.sha256()
    with urllib.request.urlopen(spec.url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 (fixed https URL)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                tmp.write(block)
    if digest.hexdigest() != spec.sha256:
        Path(tmp.name).unlink(missing_ok=True)
        raise ValueError(f"sha256 mismatch for {spec.url}")
    os.replace(tmp.name, target)
