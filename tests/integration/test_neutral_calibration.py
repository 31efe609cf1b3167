"""Neutral calibration on a real clip (issue 9): the clip's mean head angle goes to zero and its
resting blink and mouth values stay low. Runs `vtuber calibrate face`, then `vtuber run` with
the saved profile, the way a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, media_path
from vtuber import geometry
from vtuber.record.session import read_session

pytestmark = pytest.mark.mediapipe

CLIP = "dreamtalk_mead/M030_front_neutral_level1_001.mp4"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def vtuber(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vtuber", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=ENV)


def head_angles_and_shapes(session: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    _, frames = read_session(session)
    angles, shapes = [], {}
    for _, rig in frames:
        assert rig is not None and rig.head is not None
        angles.append(np.degrees(geometry.to_yaw_pitch_roll(rig.head.rotation)))
        for k in ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen"):
            shapes.setdefault(k, []).append(rig.blendshapes[k])
    return np.array(angles), {k: np.array(v) for k, v in shapes.items()}


def test_neutral_calibration_zeroes_the_head_and_rests_the_face(tmp_path: Path) -> None:
    clip = media_path(CLIP)
    run = ("run", "--source", str(clip), "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--quiet", "--face-backend", "mesh")
    result = vtuber(tmp_path, *run, "--record-session", "before.jsonl")
    assert result.returncode == 0, result.stderr
    result = vtuber(tmp_path, "calibrate", "face", "--source", str(clip), "--name", "m030", "--seconds", "3")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "calibration/users/m030.toml").is_file()
    result = vtuber(tmp_path, *run, "--user-profile", "m030", "--record-session", "after.jsonl")
    assert result.returncode == 0, result.stderr
    before, _ = head_angles_and_shapes(tmp_path / "before.jsonl")
    after, shapes = head_angles_and_shapes(tmp_path / "after.jsonl")
    mean_after = after.mean(axis=0)
    assert np.abs(mean_after).max() < 1.0, f"mean yaw/pitch/roll after calibration {mean_after}"
    assert np.abs(before.mean(axis=0)).max() > np.abs(mean_after).max()  # it did something
    for name, values in shapes.items():
        assert np.median(values) < 0.1, f"resting {name} {np.median(values):.3f}"
    (tmp_path / "numbers.json").write_text(json.dumps({"before": before.mean(0).tolist(), "after": mean_after.tolist(),
        **{k: float(np.median(v)) for k, v in shapes.items()}}))
