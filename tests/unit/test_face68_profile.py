"""A user profile in a 68-point run: ``vtuber calibrate face`` measures MediaPipe's landmarks, so
``app.load_face_calibration`` leaves its [face] section out for ``--tracker dlib`` / ``fan`` with
one warning line, and keeps it for MediaPipe."""

from __future__ import annotations

import logging
import math

import pytest

from vtuber import geometry
from vtuber.app import load_face_calibration
from vtuber.calibrate import store
from vtuber.config import EngineConfig, TrackConfig, UserConfig
from vtuber.solve.calibration import calibration_to_table
from vtuber.solve.eyes import EyeRange
from vtuber.solve.rig import FaceCalibration

MP_FACE = FaceCalibration(
    neutral_rotation=geometry.from_yaw_pitch_roll(0.0, math.radians(6.0), 0.0), left_eye=EyeRange(0.4, 0.14)
)


@pytest.mark.parametrize("backend", ["dlib", "fan"])
def test_face68_run_does_not_apply_the_mediapipe_face_calibration(tmp_path, caplog, backend) -> None:
    store.save_user_section("me", "face", calibration_to_table(MP_FACE, ["neutral"]), tmp_path)
    config = EngineConfig(track=TrackConfig(backend=backend), user=UserConfig(profile="me", calibration_dir=str(tmp_path)))
    with caplog.at_level(logging.WARNING):
        calibration = load_face_calibration(config)
    default = FaceCalibration()  # no MediaPipe neutral rotation, default ranges
    assert (calibration.neutral_rotation == geometry.IDENTITY).all()
    assert (calibration.left_eye, calibration.right_eye, calibration.mouth) == (default.left_eye, default.right_eye, default.mouth)
    assert not calibration.neutral and calibration.body is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "made with MediaPipe" in warnings[0] and f"--tracker {backend}" in warnings[0] and "me" in warnings[0]


def test_face68_profile_still_applies_with_mediapipe(tmp_path, caplog) -> None:
    store.save_user_section("me", "face", calibration_to_table(MP_FACE, ["neutral"]), tmp_path)
    config = EngineConfig(user=UserConfig(profile="me", calibration_dir=str(tmp_path)))
    with caplog.at_level(logging.WARNING):
        calibration = load_face_calibration(config)
    assert calibration.left_eye == MP_FACE.left_eye
    assert math.degrees(geometry.angle_between(calibration.neutral_rotation, MP_FACE.neutral_rotation)) < 1e-3
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
