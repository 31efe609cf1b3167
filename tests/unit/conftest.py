"""Fixtures shared by the unit tests that draw the synthetic face (vtuber.synth.face_render)."""

from __future__ import annotations

import pytest

from vtuber.solve.camera import CameraIntrinsics
from vtuber.synth.face_render import CameraIntrinsics as SynthCamera
from vtuber.synth.face_render import FaceRenderer

RENDER_SIZE = 480  # px, square: the face bench's image size


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer.astronaut()


@pytest.fixture(scope="module")
def cams() -> tuple[SynthCamera, CameraIntrinsics]:
    """The renderer's camera and the same pinhole as the engine's ``CameraIntrinsics``."""
    sc = SynthCamera.from_fov(RENDER_SIZE, RENDER_SIZE)
    return sc, CameraIntrinsics(RENDER_SIZE, RENDER_SIZE, sc.fx, sc.fy, sc.cx, sc.cy)
