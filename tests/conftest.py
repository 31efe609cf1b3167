"""Shared fixtures: where the shared media and models are, and skips with reasons when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VTUBER_SHARED_DIR", ROOT.parent / "shared"))
MEDIA = SHARED / "media"
MODELS = SHARED / "models"

if MODELS.is_dir():  # the product's own model lookup reads this (see vtuber.track.models)
    os.environ.setdefault("VTUBER_MODELS_DIR", str(MODELS))
os.environ.setdefault("GLOG_minloglevel", "2")


def media_path(relative: str) -> Path:
    """A clip under ../shared/media, or skip the test saying what is missing."""
    path = MEDIA / relative
    if not path.is_file():
        pytest.skip(f"{path} not present (the development media folder ../shared/media is absent)")
    return path


@pytest.fixture
def models_dir() -> Path:
    if not (MODELS / "face_landmarker.task").is_file():
        pytest.skip(f"{MODELS}/face_landmarker.task not present")
    return MODELS
