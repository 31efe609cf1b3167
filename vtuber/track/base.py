"""The tracker contract: one ``Frame`` in, one ``Landmarks`` out."""

from __future__ import annotations

from typing import Literal, Protocol

from vtuber.records import Frame, Landmarks

TrackingMode = Literal["face", "face_hands", "upper_body"]
"""``face``: face only (fastest); ``face_hands``: face + both hands; ``upper_body``: face, pose
and hands (MediaPipe Holistic)."""

FaceBackend = Literal["auto", "mesh", "tasks"]
"""``mesh``: legacy Face Mesh with iris (bundled in the wheel, fastest); ``tasks``: the Tasks
FaceLandmarker (478 points + 52 ARKit blendshapes, needs face_landmarker.task); ``auto``: tasks
when the model file is available locally or downloadable, else mesh."""


class Tracker(Protocol):
    """Turns frames into landmarks. Frames must arrive with increasing ``t``."""

    name: str

    def track(self, frame: Frame) -> Landmarks:
        ...

    def close(self) -> None:
        ...
