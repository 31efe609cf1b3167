"""Body calibration (``vtuber calibrate body``) on synthetic pose landmarks made by forward
kinematics: a user whose relaxed arms and T-pose differ from the avatar's is measured, and the
calibrated solver then drives the avatar's own relaxed rest and T-pose from them; the checks
reject poses that are not what the step asks for; the [body] table round-trips and a broken one
is a one-line error naming the file and the field."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from vtuber import geometry
from vtuber.calibrate import store
from vtuber.errors import CalibrationError, ConfigError
from vtuber.solve import limits
from vtuber.solve.body import measure_arms, relaxed_rest, solve_body
from vtuber.solve.body_calibration import (
    body_to_table,
    calibrate_relaxed,
    calibrate_tpose,
    parse_body,
)
from vtuber.solve.body_profile import ArmCalibration, ArmPose, BodyCalibration
from vtuber.solve.fingers import finger_rotations
from vtuber.solve.kinematics import synthetic_landmarks

R = math.radians
B = limits.bone_rotation
SIDES = (("left", "Left"), ("right", "Right"))

# This user's relaxed arms, as the tracker sees them: 58 degrees below horizontal, 22 forward,
# elbows bent 32 (the avatar's rest: 75 below, 10 forward, 15); and their T-pose: 8 below, 12
# forward, elbows bent 9 (the avatar's: 0, 0, 0).
USER_RELAXED = {"flex": 22.0, "abd": -58.0, "elbow": 32.0}
USER_TPOSE = {"flex": 12.0, "abd": -8.0, "elbow": 9.0}


def arms_pose(flex: float, abd: float, elbow: float, twist: float = 0.0) -> dict[str, np.ndarray]:
    """Both arms (mirror images) at limits angles in degrees (``twist`` the left arm's; mirroring
    negates it on the right)."""
    pose = {}
    for _, s in SIDES:
        pose[f"{s}UpperArm"] = B(f"{s}UpperArm", R(flex), R(abd), R(twist if s == "Left" else -twist))
        pose[f"{s}LowerArm"] = B(f"{s}LowerArm", R(elbow))
    return pose


def frames(pose: dict[str, np.ndarray], n: int = 20, jitter_deg: float = 1.0, seed: int = 0, **kwargs):
    """``n`` synthetic frames of ``pose`` with every arm bone jittered by ``jitter_deg``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        noisy = {b: geometry.multiply(q, geometry.from_axis_angle(rng.normal(size=3), R(rng.normal(0.0, jitter_deg)))) for b, q in pose.items()}
        out.append(synthetic_landmarks(noisy, t=i / 30, index=i, **kwargs))
    return out


def user_relaxed() -> dict[str, np.ndarray]:
    return arms_pose(USER_RELAXED["flex"], USER_RELAXED["abd"], USER_RELAXED["elbow"])


def user_tpose() -> dict[str, np.ndarray]:
    return arms_pose(USER_TPOSE["flex"], USER_TPOSE["abd"], USER_TPOSE["elbow"])


@pytest.fixture(scope="module")
def calibration() -> BodyCalibration:
    return calibrate_tpose(frames(user_tpose(), hands=()), calibrate_relaxed(frames(user_relaxed(), hands=())))


def angles(q: np.ndarray, bone: str) -> tuple[float, float, float]:
    return tuple(math.degrees(a) for a in limits.rotation_angles(bone, q))  # type: ignore[return-value]


def test_measure_arms_reads_the_pose_angles_and_lengths() -> None:
    measured = measure_arms(synthetic_landmarks(user_relaxed(), hands=()))
    for side, _ in SIDES:
        m = measured[side]  # type: ignore[index]
        assert (m.flex_deg, m.abd_deg, m.elbow_deg) == pytest.approx((22.0, -58.0, 32.0), abs=1e-4)  # float32 landmarks
        # the rest skeleton: shoulders 0.2 m apart, upper arm 0.25 m, forearm 0.23 m
        assert (m.upper_arm_ratio, m.forearm_ratio) == pytest.approx((1.25, 1.15), abs=1e-5)


def test_steps_measure_the_users_poses(calibration: BodyCalibration) -> None:
    for side, _ in SIDES:
        arm = calibration.arm(side)
        assert arm.relaxed is not None and arm.tpose is not None
        assert (arm.relaxed.flex_deg, arm.relaxed.abd_deg, arm.relaxed.elbow_deg) == pytest.approx(
            (USER_RELAXED["flex"], USER_RELAXED["abd"], USER_RELAXED["elbow"]), abs=1.0)
        assert (arm.tpose.flex_deg, arm.tpose.abd_deg, arm.tpose.elbow_deg) == pytest.approx(
            (USER_TPOSE["flex"], USER_TPOSE["abd"], USER_TPOSE["elbow"]), abs=1.0)
        assert (arm.upper_arm_ratio, arm.forearm_ratio) == pytest.approx((1.25, 1.15), abs=0.02)
    assert calibration.shoulder_width_m == pytest.approx(0.2, abs=0.005)


def test_calibrated_solver_maps_the_users_poses_onto_the_avatars(calibration: BodyCalibration) -> None:
    rest = relaxed_rest()
    for pose, target in ((user_relaxed(), rest), (user_tpose(), {})):
        landmarks = synthetic_landmarks(pose, hands=())
        plain = solve_body(landmarks).bones
        calibrated = solve_body(landmarks, calibration=calibration).bones
        for _, s in SIDES:
            for bone in (f"{s}UpperArm", f"{s}LowerArm"):
                want = target.get(bone, geometry.IDENTITY)
                err = math.degrees(geometry.angle_between(calibrated[bone], want))
                before = math.degrees(geometry.angle_between(plain[bone], want))
                assert err < 1.5, f"{bone}: {err:.2f} degrees from the avatar's pose"
                assert before > 5.0, f"{bone}: uncalibrated already {before:.1f} degrees close: the test shows nothing"


def test_poses_between_and_beyond_stay_ordered_and_continuous(calibration: BodyCalibration) -> None:
    """Raising the arm from hanging to overhead raises the avatar's arm monotonically, with no jump,
    and far from the two calibrated poses it is changed little."""
    previous = -91.0
    for abd in range(-85, 86, 5):
        bones = solve_body(synthetic_landmarks(arms_pose(15.0, float(abd), 20.0), hands=()), calibration=calibration).bones
        _, out_abd, _ = angles(bones["LeftUpperArm"], "LeftUpperArm")
        assert out_abd > previous and out_abd - previous < 12.0, (abd, out_abd, previous)
        previous = out_abd
    bones = solve_body(synthetic_landmarks(arms_pose(0.0, 80.0, 0.0), hands=()), calibration=calibration).bones
    assert angles(bones["LeftUpperArm"], "LeftUpperArm")[1] == pytest.approx(80.0, abs=2.0)


def test_arms_hanging_straight_down_calibrate_without_a_forward_angle() -> None:
    """A relaxed arm that hangs (nearly) straight down has no meaningful forward angle: frames
    that differ in it by 180 degrees are a few degrees apart. The calibration is a rotation of
    directions, so they all land near the avatar's rest and nothing flips."""
    pose = arms_pose(0.0, -88.0, 10.0)
    body = calibrate_relaxed(frames(pose, jitter_deg=2.0, hands=()))
    rest = relaxed_rest()["LeftUpperArm"]
    for flex in (-150.0, -60.0, 30.0, 120.0):
        bones = solve_body(synthetic_landmarks(arms_pose(flex, -87.0, 10.0), hands=()), calibration=body).bones
        assert math.degrees(geometry.angle_between(bones["LeftUpperArm"], rest)) < 6.0, flex
    assert body_to_table(body)["left"]["relaxed_abd_deg"] < -85.0  # stored as measured, and it loads:
    assert parse_body(body_to_table(body), "me.toml").left.relaxed is not None


def test_the_hand_turns_with_the_corrected_arm(calibration: BodyCalibration) -> None:
    """With a tracked palm, the correction turns forearm and hand together: the wrist's own bend
    relative to the forearm is what the user did."""
    pose = user_relaxed()
    pose["LeftLowerArm"] = B("LeftLowerArm", R(USER_RELAXED["elbow"]), 0.0, R(-40.0))
    pose["LeftHand"] = B("LeftHand", R(25.0), R(-10.0))
    pose.update(finger_rotations("left", {"IndexProximal": (20.0, 0.0)}))
    solved = solve_body(synthetic_landmarks(pose, hand_world=True), calibration=calibration).bones
    assert math.degrees(geometry.angle_between(solved["LeftHand"], pose["LeftHand"])) < 2.0
    twist = angles(solved["LeftLowerArm"], "LeftLowerArm")[2]
    assert twist == pytest.approx(-40.0, abs=2.0)


def test_implausible_bone_lengths_are_not_trusted(calibration: BodyCalibration) -> None:
    landmarks = synthetic_landmarks(user_relaxed(), hands=())
    world = landmarks.pose.world.copy()
    world[13] = world[11] + 2.2 * (world[13] - world[11])  # the left elbow jumps far down the arm
    world[15] = world[13] + (landmarks.pose.world[15] - landmarks.pose.world[13])
    pose = type(landmarks.pose)(landmarks.pose.points, world, landmarks.pose.visibility)
    broken = type(landmarks)(landmarks.t, landmarks.index, landmarks.image_size, pose=pose)
    assert "LeftUpperArm" in solve_body(broken).bones  # uncalibrated: solved from the bad joint
    calibrated = solve_body(broken, calibration=calibration)
    assert "LeftUpperArm" not in calibrated.bones and not calibrated.tracked["left_arm"]
    assert "RightUpperArm" in calibrated.bones


@pytest.mark.parametrize(
    ("step", "pose", "message"),
    [
        ("tpose", user_relaxed(), "T-pose step: the left arm was 58 degrees below horizontal (needs within 25)"),
        ("tpose", arms_pose(50.0, 0.0, 5.0), "T-pose step: the left arm pointed 50 degrees forward of sideways"),
        ("tpose", arms_pose(0.0, 0.0, 60.0), "T-pose step: the left elbow was bent 60 degrees"),
        ("relaxed", user_tpose(), "relaxed arms step: the left arm was 8 degrees below horizontal (needs 40 or more below)"),
        ("relaxed", arms_pose(40.0, -60.0, 90.0), "relaxed arms step: the left elbow was bent 90 degrees"),
    ],
)
def test_steps_reject_the_wrong_pose(step: str, pose: dict, message: str) -> None:
    fold = calibrate_tpose if step == "tpose" else calibrate_relaxed
    with pytest.raises(CalibrationError) as info:
        fold(frames(pose, jitter_deg=0.0, hands=()))
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_steps_need_the_arms_in_view() -> None:
    hidden = frames(user_relaxed(), hands=(), visibility=0.2)
    with pytest.raises(CalibrationError, match=r"relaxed arms step: the left arm \(shoulder and elbow\) was found in 0 of 20 frames"):
        calibrate_relaxed(hidden)
    few = frames(user_tpose(), n=10, hands=())
    with pytest.raises(CalibrationError, match="found in 10 of 10 frames"):
        calibrate_tpose(few)


def test_one_step_alone_calibrates_its_own_zero() -> None:
    only_tpose = calibrate_tpose(frames(user_tpose(), hands=()))
    bones = solve_body(synthetic_landmarks(user_tpose(), hands=()), calibration=only_tpose).bones
    assert math.degrees(geometry.angle_between(bones["LeftUpperArm"], geometry.IDENTITY)) < 1.5
    only_relaxed = calibrate_relaxed(frames(user_relaxed(), hands=()))
    bones = solve_body(synthetic_landmarks(user_relaxed(), hands=()), calibration=only_relaxed).bones
    assert math.degrees(geometry.angle_between(bones["LeftUpperArm"], relaxed_rest()["LeftUpperArm"])) < 1.5


def test_body_table_round_trips_through_the_profile(tmp_path, calibration: BodyCalibration) -> None:
    store.save_user_section("me", "face", {"neutral_rotation": [0.0, 0.0, 0.0, 1.0]}, tmp_path)
    store.save_user_section("me", "body", body_to_table(calibration, ["relaxed", "tpose"]), tmp_path)
    back = store.load_user_section("me", "body", parse_body, tmp_path)
    assert back is not None
    for side, _ in SIDES:
        a, b = calibration.arm(side), back.arm(side)
        for part in ("relaxed", "tpose"):
            pa, pb = getattr(a, part), getattr(b, part)
            assert (pb.flex_deg, pb.abd_deg, pb.elbow_deg) == pytest.approx((pa.flex_deg, pa.abd_deg, pa.elbow_deg), abs=1e-3)
        assert b.upper_arm_ratio == pytest.approx(a.upper_arm_ratio, abs=1e-4)
    assert store.load_user_section("me", "face", lambda t, w: t, tmp_path) == {"neutral_rotation": [0.0, 0.0, 0.0, 1.0]}


BAD_BODY = {
    "tpose_abd_deg = ": ("tpose_abd_deg = 70.0", "[body.left] tpose_abd_deg must be an angle in degrees (-45 to 45), got 70.0"),
    "relaxed_flex_deg = ": ('relaxed_flex_deg = "x"', '[body.left] relaxed_flex_deg must be an angle in degrees (-180 to 180), got "x"'),
    "upper_arm_ratio = ": ("upper_arm_ratio = -1.0", "[body.left] upper_arm_ratio must be a length / shoulder width (0.1-5), got -1.0"),
    "relaxed_abd_deg = ": ("relaxed_abd_deg = -12.0", "[body.left] relaxed_abd_deg must be an angle in degrees (-90 to -20), got -12.0"),
}


@pytest.mark.parametrize("key", sorted(BAD_BODY))
def test_broken_body_fields_are_one_line_naming_file_and_field(tmp_path, calibration: BodyCalibration, key: str, caplog) -> None:
    path = store.save_user_section("me", "body", body_to_table(calibration), tmp_path)
    lines = path.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(key))  # the [body.left] one
    replacement, expected = BAD_BODY[key]
    lines[first] = replacement
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as info:
        store.load_user_section("me", "body", parse_body, tmp_path)
    assert str(info.value) == f"{path}: {expected}"
    with caplog.at_level(logging.WARNING):
        assert store.load_user_section_or_default("me", "body", parse_body, tmp_path) is None
    assert expected in caplog.text


def test_arm_calibration_rejects_inconsistent_poses() -> None:
    with pytest.raises(ValueError, match="at least 15 degrees above"):
        ArmCalibration(relaxed=ArmPose(0.0, -40.0, 10.0), tpose=ArmPose(0.0, -30.0, 0.0))
    with pytest.raises(ValueError, match="relaxed arm's abd"):
        ArmCalibration(relaxed=ArmPose(0.0, -10.0, 10.0))


def test_engine_loads_face_and_body_and_survives_a_broken_section(tmp_path, calibration: BodyCalibration, caplog) -> None:
    """``app.load_face_calibration`` (what ``vtuber run`` hands the engine) carries the [body]
    section to the body solver; a broken section is one warning and defaults for it alone."""
    from vtuber.app import load_face_calibration
    from vtuber.config import EngineConfig, UserConfig
    from vtuber.solve.calibration import calibration_to_table
    from vtuber.solve.eyes import EyeRange
    from vtuber.solve.rig import FaceCalibration

    face = FaceCalibration(left_eye=EyeRange(0.3, 0.08, 0.36))
    store.save_user_section("me", "face", calibration_to_table(face, ["neutral", "wide"]), tmp_path)
    store.save_user_section("me", "body", body_to_table(calibration, ["relaxed", "tpose"]), tmp_path)
    config = EngineConfig(user=UserConfig(profile="me", calibration_dir=str(tmp_path)))
    loaded = load_face_calibration(config)
    assert loaded.left_eye == face.left_eye and loaded.body is not None
    assert loaded.body.left.tpose.abd_deg == pytest.approx(calibration.left.tpose.abd_deg, abs=1e-3)
    path = store.profile_path("user", "me", tmp_path)
    path.write_text(path.read_text().replace("upper_arm_ratio = ", "upper_arm_ratio = -", 1))
    with caplog.at_level(logging.WARNING):
        broken = load_face_calibration(config)
    assert broken.body is None and broken.left_eye == face.left_eye
    assert "[body.left] upper_arm_ratio must be" in caplog.text and "body calibration" in caplog.text
    with caplog.at_level(logging.WARNING):
        missing = load_face_calibration(EngineConfig(user=UserConfig(profile="nobody", calibration_dir=str(tmp_path))))
    assert missing.body is None and missing.left_eye == EyeRange()
    assert caplog.text.count("nobody.toml") == 1  # one line for the missing file, not one per section
