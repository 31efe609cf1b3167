"""``app.UserSetup``: the calibration and camera profile a session records for its replay."""

from __future__ import annotations

import json
import math

import pytest

from vtuber import geometry
from vtuber.app import UserSetup
from vtuber.calibrate import store
from vtuber.errors import ConfigError
from vtuber.solve.body_calibration import ArmCalibration, ArmPose, BodyCalibration
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.rig import FaceCalibration


def _setup() -> UserSetup:
    arm = ArmCalibration(relaxed=ArmPose(flex_deg=5.0, abd_deg=-70.0, elbow_deg=8.0), upper_arm_ratio=1.1)
    calibration = FaceCalibration(
        neutral_rotation=geometry.from_yaw_pitch_roll(math.radians(7.0), math.radians(-3.0), 0.0),
        neutral={"brow_inner_L": 1.234},
        body=BodyCalibration(left=arm, shoulder_width_m=0.38),
    )
    camera = CameraIntrinsics(640, 480, 600.0, 610.0, 322.0, 241.0, (0.1, -0.05, 0.0, 0.0, 0.0))
    return UserSetup(calibration, store.camera_to_table(camera, rms_px=0.4, name="c920", created="2026-11-25T00:00:00+00:00"), "c920.toml")


def test_a_setup_survives_the_session_header_round_trip() -> None:
    first = _setup()
    setup = UserSetup.from_header(json.loads(json.dumps(first.to_header())), "live")  # what a run solves with
    back = UserSetup.from_header(json.loads(json.dumps(setup.to_header())), "take.jsonl")
    assert back.to_header() == setup.to_header()  # bit for bit: the replay solves with the same numbers
    assert back.calibration.body == setup.calibration.body
    assert list(back.calibration.neutral_rotation) == list(setup.calibration.neutral_rotation)
    camera = back.camera_resolver()((1280, 960))  # fitted to the stream like a profile on disk
    assert camera is not None and (camera.fx, camera.fy, camera.cx, camera.cy) == pytest.approx((1200.0, 1220.0, 644.0, 482.0))


def test_no_camera_profile_means_the_field_of_view_default() -> None:
    setup = UserSetup(FaceCalibration())
    back = UserSetup.from_header(json.loads(json.dumps(setup.to_header())), "take.jsonl")
    assert back.to_header() == setup.to_header() and back.camera_profile is None
    assert back.camera_resolver()((640, 480)) is None


def test_a_camera_profile_of_another_aspect_ratio_falls_back_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert _setup().camera_resolver()((640, 360)) is None
    assert "does not match the stream's 640x360" in caplog.text


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda h: h.pop("face"), "take.jsonl: user_setup must be a table with a face table"),
        (lambda h: h.update(camera_profile=[1, 2]), "take.jsonl: user_setup.camera_profile must be a table"),
        (lambda h: h["face"]["left_eye"].update(open_ratio="wide"), "take.jsonl"),
    ],
)
def test_a_damaged_record_is_a_one_line_config_error(damage, message: str) -> None:
    header = json.loads(json.dumps(_setup().to_header()))
    damage(header)
    with pytest.raises(ConfigError, match=message) as info:
        UserSetup.from_header(header, "take.jsonl")
    assert "\n" not in str(info.value)
