"""The Tasks HandLandmarker as the alternative hand source: same hands, same sides as the legacy
Hands model on a real clip (two hands signing)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import media_path
from vtuber.capture.video import VideoFileSource
from vtuber.track.mediapipe_adapter import MediaPipeTracker

pytestmark = pytest.mark.mediapipe


def wrists(hand_backend: str, mode: str = "upper_body", clip: str = "sign_language_pose/SOUP.mp4") -> list[dict[str, np.ndarray]]:
    source = VideoFileSource(media_path(clip))
    out = []
    with MediaPipeTracker(mode, face_backend="mesh", hand_backend=hand_backend) as tracker:  # type: ignore[arg-type]
        while (frame := source.read()) is not None:
            lm = tracker.track(frame)
            out.append({h.side: h.points[0, :2] for h in (lm.left_hand, lm.right_hand) if h is not None})
    source.close()
    return out


def test_tasks_hands_agree_with_legacy_hands(models_dir) -> None:
    legacy, tasks = wrists("legacy"), wrists("tasks")
    both = [i for i, f in enumerate(tasks) if len(f) == 2]
    assert len(both) >= 0.8 * len(tasks)  # the signer's two hands are in view in 93 % of frames
    agree = [
        i for i in both if len(legacy[i]) == 2
        and all(np.linalg.norm(tasks[i][s] - legacy[i][s]) < 0.05 for s in ("left", "right"))
    ]
    assert len(agree) >= 0.9 * len([i for i in both if len(legacy[i]) == 2])


def test_tasks_hands_have_the_right_sides_without_a_pose(models_dir) -> None:
    """face_hands mode has no pose wrists, so each model's handedness label decides: the Tasks
    label already names the subject's own hand (swapping it like the legacy label put 267 of
    269 hands on the wrong side of ted_driving1)."""
    legacy = wrists("legacy", "face_hands", "lia/ted_driving1.mp4")
    tasks = wrists("tasks", "face_hands", "lia/ted_driving1.mp4")
    same = opposite = 0
    for lf, tf in zip(legacy, tasks):
        for side, xy in tf.items():
            near = min(lf.items(), key=lambda kv: float(np.linalg.norm(kv[1] - xy)), default=None)
            if near is None or float(np.linalg.norm(near[1] - xy)) > 0.05:
                continue  # not the same hand in both
            same += near[0] == side
            opposite += near[0] != side
    assert same >= 100 and opposite <= 0.1 * same, (same, opposite)
