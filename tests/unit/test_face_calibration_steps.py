"""The guided face steps (eyes closed, eyes wide, mouth wide open) on exact synthetic landmarks
(the renderer's ground-truth projection, no tracker): each sets its range so the solver reaches
1.0 at the user's own extreme and stays at rest on the neutral face; each rejects a step where
the expression was not made; the new fields round-trip and old profiles still load.
(Real MediaPipe on rendered and real faces: tests/integration/test_guided_calibration.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from vtuber.calibrate import store
from vtuber.errors import CalibrationError, ConfigError
from vtuber.records import FaceLandmarks, Landmarks
from vtuber.solve.calibration import (
    calibrate_eyes_closed,
    calibrate_eyes_wide,
    calibrate_mouth_wide,
    calibrate_neutral,
    calibration_to_table,
    load_calibration,
    parse_face,
    save_calibration,
)
from vtuber.solve.head import solve_head
from vtuber.solve.mouth import LIP_GAP_OPEN_CM
from vtuber.solve.rig import FaceCalibration, solve_face_shapes
from vtuber.synth.face_render import CameraIntrinsics as SynthCamera
from vtuber.synth.face_render import FaceRenderer, FaceState

SIZE = 480
NEUTRAL = {"eye_closed_left": 0.45, "eye_closed_right": 0.45}  # relaxed lids: the photo's eyes are wide


def points(renderer: FaceRenderer, sc: SynthCamera, state: FaceState) -> np.ndarray:
    p = np.zeros((478, 3), np.float32)
    p[:, :2] = renderer.project_landmarks(state, sc) / SIZE
    return p


def held(renderer, cams, n: int = 20, seed: int = 0, blendshapes: dict | None = None, **face) -> list[Landmarks]:
    """``n`` frames of one held expression with the head drifting a few degrees."""
    sc, _ = cams
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        state = FaceState.from_angles(rng.normal(0, 2.0), rng.normal(0, 2.0), rng.normal(0, 1.0), **face)
        out.append(Landmarks(i / 30, i, (SIZE, SIZE), FaceLandmarks(points(renderer, sc, state), blendshapes=dict(blendshapes or {}))))
    return out


def shapes(renderer, cams, calibration: FaceCalibration, tasks: dict | None = None, **face) -> dict[str, float]:
    sc, cam = cams
    p = points(renderer, sc, FaceState.from_angles(3.0, -2.0, 1.0, **face))
    head = solve_head(FaceLandmarks(p), (SIZE, SIZE), cam)
    return solve_face_shapes(p, (SIZE, SIZE), calibration, tasks, head, cam)[0]


@pytest.fixture(scope="module")
def neutral(renderer, cams) -> FaceCalibration:
    return calibrate_neutral(held(renderer, cams, **NEUTRAL), cams[1])


def test_eyes_closed_step_makes_this_users_closed_eyes_blink_fully(renderer, cams, neutral) -> None:
    closed = calibrate_eyes_closed(held(renderer, cams, eye_closed_left=1.0, eye_closed_right=1.0), cams[1], neutral)
    for eye in (closed.left_eye, closed.right_eye):
        assert eye.closed_ratio < 0.7 * eye.open_ratio
    s = shapes(renderer, cams, closed, eye_closed_left=1.0, eye_closed_right=1.0)
    assert s["eyeBlinkLeft"] == pytest.approx(1.0, abs=0.02) and s["eyeBlinkRight"] == pytest.approx(1.0, abs=0.02)
    rest = shapes(renderer, cams, closed, **NEUTRAL)
    assert rest["eyeBlinkLeft"] < 0.05 and rest["eyeBlinkRight"] < 0.05
    half = shapes(renderer, cams, closed, eye_closed_left=0.7, eye_closed_right=0.7)
    assert 0.2 < half["eyeBlinkLeft"] < 0.9  # in between, not saturated


def test_eyes_wide_step_sets_the_eyewide_top(renderer, cams, neutral) -> None:
    wide = calibrate_eyes_wide(held(renderer, cams), cams[1], neutral)
    for eye in (wide.left_eye, wide.right_eye):
        assert eye.wide_ratio is not None and eye.wide_ratio > 1.1 * eye.open_ratio
    s = shapes(renderer, cams, wide)
    assert s["eyeWideLeft"] > 0.95 and s["eyeWideRight"] > 0.95
    rest = shapes(renderer, cams, wide, **NEUTRAL)
    assert rest["eyeWideLeft"] < 0.05 and rest["eyeWideRight"] < 0.05
    part = shapes(renderer, cams, wide, eye_closed_left=0.25, eye_closed_right=0.25)
    assert 0.2 < part["eyeWideLeft"] < 0.9  # in between, not saturated


def test_mouth_wide_step_sets_the_jawopen_top(renderer, cams, neutral) -> None:
    mouth = calibrate_mouth_wide(held(renderer, cams, jaw_open=1.0, **NEUTRAL), cams[1], neutral)
    assert mouth.lip_gap_open_cm > LIP_GAP_OPEN_CM  # the renderer's widest jaw opens past the default
    assert mouth.mouth.open_ratio > neutral.mouth.closed_ratio
    assert shapes(renderer, cams, mouth, jaw_open=1.0, **NEUTRAL)["jawOpen"] > 0.95
    default = shapes(renderer, cams, neutral, jaw_open=0.6, **NEUTRAL)["jawOpen"]
    calibrated = shapes(renderer, cams, mouth, jaw_open=0.6, **NEUTRAL)["jawOpen"]
    assert calibrated < default  # the same opening is a smaller part of this face's range
    assert abs(calibrated - 0.6) < abs(default - 0.6)  # ... and closer to the jaw's true 0.6
    assert shapes(renderer, cams, mouth, **NEUTRAL)["jawOpen"] < 0.05


def test_learned_channels_get_the_users_top_only_when_they_respond(renderer, cams) -> None:
    rest = {"jawOpen": 0.05, "eyeWideLeft": 0.01, "eyeWideRight": 0.01}
    base = calibrate_neutral(held(renderer, cams, blendshapes=rest, **NEUTRAL), cams[1])
    mouth = calibrate_mouth_wide(held(renderer, cams, blendshapes={**rest, "jawOpen": 0.65}, jaw_open=1.0, **NEUTRAL), cams[1], base)
    assert mouth.tasks_tops == {"jawOpen": pytest.approx(0.65)}
    assert shapes(renderer, cams, mouth, tasks={"jawOpen": 0.65})["jawOpen"] == pytest.approx(1.0)
    assert shapes(renderer, cams, mouth, tasks={"jawOpen": 0.35})["jawOpen"] == pytest.approx(0.5)
    assert shapes(renderer, cams, base, tasks={"jawOpen": 0.65})["jawOpen"] == pytest.approx((0.65 - 0.05) / 0.95)
    silent = {**rest, "eyeWideLeft": 0.03, "eyeWideRight": 0.02}  # the model does not see these eyes widen
    wide = calibrate_eyes_wide(held(renderer, cams, blendshapes=silent), cams[1], mouth)
    assert set(wide.tasks_tops) == {"jawOpen"}
    assert wide.left_eye.wide_ratio is not None  # the geometric range is still set


@pytest.mark.parametrize(
    ("step", "face", "message"),
    [
        (calibrate_eyes_closed, NEUTRAL, "eyes closed step: the left eye's lid ratio stayed at"),
        (calibrate_eyes_closed, {"eye_closed_right": 1.0, "eye_closed_left": 0.45}, "eyes closed step: the left eye"),
        (calibrate_eyes_wide, NEUTRAL, "eyes wide step: the left eye's lid ratio reached"),
        (calibrate_mouth_wide, {"jaw_open": 0.15, **NEUTRAL}, "mouth wide open step: the lips parted"),
    ],
)
def test_steps_reject_an_expression_not_made(renderer, cams, neutral, step, face, message) -> None:
    with pytest.raises(CalibrationError) as info:
        step(held(renderer, cams, seed=3, **face), cams[1], neutral)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_steps_need_the_face_in_enough_frames(renderer, cams, neutral) -> None:
    frames = held(renderer, cams, n=30, eye_closed_left=1.0, eye_closed_right=1.0)
    lost = [lm if i % 2 else Landmarks(lm.t, lm.index, lm.image_size) for i, lm in enumerate(frames)]  # face in 15 of 30
    with pytest.raises(CalibrationError, match=r"eyes closed step: face found in 15 of 30 frames \(needs 15 and 60%\)"):
        calibrate_eyes_closed(lost, cams[1], neutral)
    with pytest.raises(CalibrationError, match="neutral face step: face found in 10 of 10 frames"):
        calibrate_neutral(held(renderer, cams, n=10, **NEUTRAL), cams[1])


def test_profile_round_trip_keeps_the_body_and_old_profiles_load(renderer, cams, neutral, tmp_path) -> None:
    c = calibrate_eyes_wide(held(renderer, cams), cams[1], neutral)
    c = calibrate_mouth_wide(held(renderer, cams, jaw_open=1.0, blendshapes={"jawOpen": 0.7}, **NEUTRAL), cams[1], c)
    path = store.save_user_section("me", "body", {"shoulder_width_m": 0.34}, tmp_path)
    save_calibration(c, path, ["neutral", "wide", "mouth"])
    back = load_calibration(path)
    assert back.left_eye == c.left_eye and back.right_eye == c.right_eye
    assert back.lip_gap_open_cm == pytest.approx(c.lip_gap_open_cm) and dict(back.tasks_tops) == pytest.approx(dict(c.tasks_tops))
    assert store.read_toml(path)["body"] == {"shoulder_width_m": 0.34}
    assert store.read_toml(path)["face"]["steps"] == ["neutral", "wide", "mouth"]
    old = tmp_path / "old.toml"  # a neutral-only profile written before the guided steps existed
    old.write_text("[face]\nneutral_rotation = [0.0, 0.0, 0.0, 1.0]\n[face.left_eye]\nopen_ratio = 0.3\nclosed_ratio = 0.1\n"
                   "[face.neutral]\nlip_gap = 0.2\n")
    loaded = load_calibration(old)
    assert loaded.left_eye.wide_ratio is None and loaded.lip_gap_open_cm == LIP_GAP_OPEN_CM and not loaded.tasks_tops


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("left_eye", "wide_ratio", 0.01), "face.left_eye.wide_ratio' must be greater than open_ratio"),
        (("", "lip_gap_open_cm", 0.1), "face.lip_gap_open_cm' must be greater than the neutral lip gap"),
        (("tasks_tops", "notAShape", 0.5), "face.tasks_tops.notAShape' is not an ARKit blendshape"),
        (("tasks_tops", "jawOpen", 0.06), "face.tasks_tops.jawOpen' must be at least 0.05 above"),
        (("neutral", "mouth_width", 0.0), "face.neutral.mouth_width' must be a width in cm above 0.1"),  # was a ZeroDivisionError every frame
        (("neutral", "mouth_width", -4.0), "face.neutral.mouth_width' must be a width in cm above 0.1"),  # silently swapped ih/ou
    ],
)
def test_bad_new_fields_name_file_and_field(neutral, edit, field) -> None:
    table = calibration_to_table(neutral)
    table.setdefault("tasks_offsets", {})["jawOpen"] = 0.05
    section, key, value = edit
    (table.setdefault(section, {}) if section else table)[key] = value
    with pytest.raises(ConfigError) as info:
        parse_face(table, "calibration/users/me.toml")
    assert str(info.value).startswith(f"calibration/users/me.toml: field '{field}")


@pytest.mark.parametrize(
    ("source", "tail"),
    [
        ("webcam:1", "--steps closed,wide --source webcam:1"),
        ("/dev/video2", "--steps closed,wide --source /dev/video2"),
        ("closed.mp4", "--steps closed,wide (with new clips for them)"),
    ],
)
def test_a_failed_steps_redo_line_names_the_camera_it_used(source: str, tail: str) -> None:
    """Redoing a step on the default camera when the user calibrated on another one would measure
    the wrong camera: the redo line names a live source; recordings need new clips instead."""
    from vtuber.commands.calibrate_guided import _step_failed
    from vtuber.solve.calibration import CalibrationError

    error = _step_failed(CalibrationError("eyes did not close"), "face", "me", "closed", ["wide"], source)
    assert str(error) == f"eyes did not close; then redo: vtuber calibrate face --name me {tail}"
