"""The Tasks HandLandmarker as the alternative hand source: same hands, same sides as the legacy
Hands model on a real clip (two hands signing)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import media_path
from vtuber.capture.video import VideoFileSource
from vtuber.track.mediapipe_adapter import MediaPipeTracker

pytestmark = pytest.mark.mediapipe


def wrists(hand_backend: str) -> list[dict[str, np.ndarray]]:
    source = VideoFileSource(media_path("sign_language_pose/SOUP.mp4"))
    out = []
    with MediaPipeTracker("upper_body", face_backend="mesh", hand_backend=hand_backend) as tracker:
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
