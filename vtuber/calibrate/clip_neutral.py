"""A clip's own resting face, for ``vtuber convert`` without a user profile.

Face Mesh's geometric blendshapes measure each feature against a neutral face. Without
``vtuber calibrate face`` that neutral is MediaPipe's canonical face, and a real face at rest
differs from it enough to read cheekPuff 1.0, browDown 0.95 or mouthLowerDown 0.9 (MEAD neutral
clip). Offline, the whole clip is at hand: the median of its frames is a far better neutral for a
talking face (expressions and speech come and go, the resting shape stays). Measured against the
Tasks model's blendshapes on the same frames, over 13 clips (8 MEAD, 5 LivePortrait): mean
absolute difference 0.214 uncalibrated, 0.153 with the clip's neutral (better on 11, same on d12,
worse on d18: 0.166 -> 0.196); on the MEAD neutral clip 0.245 -> 0.093 (docs/face.md,
bench/clip_neutral_vs_tasks.py).

Only the feature neutral, eye and mouth ranges are taken; the head's zero stays the camera's
(a clip's mean head pose is not "straight ahead"). I/O: opens the clip a second time and runs a
Face Mesh tracker over ``NEUTRAL_SAMPLES`` frames spread over it.
"""

from __future__ import annotations

import dataclasses
import logging

from vtuber import geometry
from vtuber.capture.base import FrameSource
from vtuber.errors import CalibrationError
from vtuber.records import Landmarks
from vtuber.solve.calibration import calibrate_neutral
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.rig import FaceCalibration
from vtuber.track.base import Tracker

logger = logging.getLogger(__name__)

NEUTRAL_SAMPLES = 60  # frames spread over the clip: a stable median (2 s of a 30 fps clip) for ~0.3 s of tracking


def sample_frames(source: FrameSource, tracker: Tracker, frame_count: int, samples: int = NEUTRAL_SAMPLES) -> list[Landmarks]:
    """``tracker``'s landmarks of about ``samples`` frames evenly spread over ``source`` (every
    frame decoded, every ``frame_count // samples``-th tracked)."""
    step = max(1, frame_count // samples) if frame_count > 0 else 1
    out: list[Landmarks] = []
    index = 0
    while (frame := source.read()) is not None:
        if index % step == 0:
            out.append(tracker.track(frame))
        index += 1
    return out


def clip_neutral(samples: list[Landmarks], fov_deg: float) -> FaceCalibration | None:
    """A calibration whose neutral, eye and mouth ranges are the samples' median (pure), with the
    head's zero left at the camera; None when too few samples show a face."""
    faces = [lm for lm in samples if lm.face is not None]
    if not faces:
        return None
    camera = CameraIntrinsics.from_fov(*faces[0].image_size, fov_deg)
    try:
        calibration = calibrate_neutral(faces, camera)
    except CalibrationError as exc:
        logger.info("no resting face from the clip (%s); using the canonical face", exc)
        return None
    return dataclasses.replace(calibration, neutral_rotation=geometry.IDENTITY.copy())
