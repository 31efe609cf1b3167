"""Turn a ``--source`` spec into a frame source."""

from __future__ import annotations

from pathlib import Path

from vtuber.capture.base import FrameSource
from vtuber.config import SourceConfig
from vtuber.errors import SourceError


def open_source(config: SourceConfig) -> FrameSource:
    """``demo`` | ``webcam:N`` | ``/dev/videoN`` | a video file | an image folder.

    Raises:
        SourceError: one line naming what could not be opened and what to try instead.
    """
    spec = config.spec.strip()
    if spec == "demo":
        from vtuber.capture.demo import DemoSource

        return DemoSource()
    if spec.startswith("webcam:") or spec.startswith("/dev/video"):
        from vtuber.capture.webcam import WebcamSource

        device: int | str = spec
        if spec.startswith("webcam:"):
            index = spec.partition(":")[2]
            if not index.isdigit():
                raise SourceError(f"bad webcam spec {spec!r}: use webcam:0, webcam:1, ... or a /dev/videoN path")
            device = int(index)
        return WebcamSource(device, width=config.width, height=config.height, fps=config.fps)
    path = Path(spec).expanduser()
    if path.is_dir():
        from vtuber.capture.video import ImageFolderSource

        return ImageFolderSource(path, fps=config.fps)
    if path.is_file():
        from vtuber.capture.video import VideoFileSource

        return VideoFileSource(path)
    raise SourceError(
        f"source not found: {spec!r} (use --demo, --source webcam:0, a video file or an image folder)"
    )
