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
import http.client
import logging
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vtuber.errors import TrackerError

logger = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 20.0  # an offline machine fails fast instead of hanging the start-up


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model bundle: its file name, official URL, pinned sha256 and size in bytes."""

    filename: str
    url: str
    sha256: str
    size: int | None = None


MODELS: dict[str, ModelSpec] = {
    "face_landmarker": ModelSpec(
        "face_landmarker.task",
        "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task",
        "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
        3758596,
    ),
    "hand_landmarker": ModelSpec(
        "hand_landmarker.task",
        "https://storage.googleapis.com/mediapipe-models/hand_landmarker/hand_landmarker/float16/1/hand_landmarker.task",
        "fbc2a30080c3c557093b5ddfc334698132eb341044ccee322ccf8bcf3607cde1",
        7819105,
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
    return _scan(name, models_dir)[0]


def _scan(name: str, models_dir: str | Path | None) -> tuple[Path | None, list[Path]]:
    """(the first local copy whose sha256 matches or None, the copies found damaged before it)."""
    spec = MODELS[name]
    damaged: list[Path] = []
    for directory in search_dirs(models_dir):
        candidate = directory / spec.filename
        if candidate.is_file():
            if sha256_of(candidate) == spec.sha256:
                return candidate, damaged
            logger.warning("%s; ignoring it", _damaged_note(spec, candidate))
            damaged.append(candidate)
    return None, damaged


def _damaged_note(spec: ModelSpec, path: Path) -> str:
    """``PATH is damaged (sha256 does not match the pinned model; N bytes, expected M)``."""
    try:
        size = f"{path.stat().st_size} bytes"
    except OSError:
        size = "size unknown"
    expected = f", expected {spec.size}" if spec.size is not None else ""
    return f"{path} is damaged (sha256 does not match the pinned model; {size}{expected})"


def ensure_model(name: str, models_dir: str | Path | None = None, *, download: bool = True) -> Path:
    """A verified local path to model ``name``, downloading it into the cache if needed.

    Raises:
        TrackerError: one line naming the file, the folders searched and the fix.
    """
    found, damaged = _scan(name, models_dir)
    if found is not None:
        return found
    spec = MODELS[name]
    where = ", ".join(str(d) for d in search_dirs(models_dir))
    if damaged:
        problem = "; ".join(_damaged_note(spec, path) for path in damaged)
        it = "it" if len(damaged) == 1 else "them"
        fix = f"delete {it} and download {spec.url} again into {damaged[0].parent}"
    else:
        problem = f"{spec.filename} not found in {where}"
        fix = f"download {spec.url} into one of them (or pass --models-dir DIR)"
    if not download:
        raise TrackerError(f"{problem}: {fix}")
    target = cache_dir() / spec.filename
    try:
        _download(spec, target)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise TrackerError(f"{problem} and the download failed ({_one_line(exc)}): {fix}") from exc
    return target


def _one_line(exc: BaseException) -> str:
    """An exception as one line of at most 200 characters (``the reply was cut short:
    IncompleteRead(0 bytes read)``)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, http.client.IncompleteRead):
        text = f"the reply was cut short: {text}"
    return text if len(text) <= 200 else text[:197] + "..."


def _download(spec: ModelSpec, target: Path) -> None:
    """Fetch ``spec.url`` into ``target`` through a temporary file in the same folder, kept only
    when its sha256 matches. Any failure (connection, a reply cut short, a wrong hash) deletes
    the temporary file and raises OSError, http.client.HTTPException or ValueError."""
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s from %s", spec.filename, spec.url)
    digest = hashlib.sha256()
    size = 0
    # closed by the ``with`` below; opened here so every failure path knows the name to delete
    tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115
        dir=target.parent, prefix=f".{spec.filename}.", suffix=".part", delete=False
    )
    try:
        with tmp, urllib.request.urlopen(spec.url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 (fixed https URL)
            declared = response.headers.get("Content-Length", "")
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                tmp.write(block)
                size += len(block)
        if declared.isdigit() and size < int(declared):
            raise ValueError(f"the download was cut short after {size} of {declared} bytes")
        if digest.hexdigest() != spec.sha256:
            expected = f", expected {spec.size}" if spec.size is not None else ""
            raise ValueError(f"the downloaded file has the wrong sha256 ({size} bytes{expected})")
        os.replace(tmp.name, target)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise
