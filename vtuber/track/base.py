"""The tracker contract: one ``Frame`` in, one ``Landmarks`` out."""

from __future__ import annotations

from typing import Literal, Protocol

from vtuber.records import Frame, Landmarks

TrackingMode = Literal["face", "face_hands", "upper_body"]
"""``face``: face only (fastest); ``face_hands``: face + both hands; ``upper_body``: face, pose
and hands (MediaPipe Holistic)."""

FaceBackend = Literal["auto", "mesh", "tasks", "hybrid"]
"""``mesh``: legacy Face Mesh with iris (bundled in the wheel, fastest: ~4 ms a frame here);
``tasks``: the Tasks FaceLandmarker's points and its 52 ARKit blendshapes (needs
face_landmarker.task; its landmarks couple the two eyes, so winks read weakly); ``hybrid``:
Face Mesh points (independent eyes, head, mouth geometry) plus the Tasks blendshapes for the
other ARKit channels (~14 ms a frame); ``auto``: hybrid when the Tasks model is available
locally or downloadable, else mesh."""


class Tracker(Protocol):
    """Turns frames into landmarks. Frames must arrive with increasing ``t``."""

    name: str

    def track(self, frame: Frame) -> Landmarks:
        ...

    def close(self) -> None:
        ...
