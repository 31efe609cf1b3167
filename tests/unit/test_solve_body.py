"""solve_body: round trips through forward kinematics, limits, gating, relaxed rest, mirroring.

Round trip: a known skeleton pose -> ``forward_kinematics`` -> ``synthetic_landmarks`` (MediaPipe
pose world points, hand points) -> ``solve_body`` -> the same local rotations. "Per joint" is the
full local rotation of every solved bone (swing and twist: ``geometry.angle_between``), which
the landmarks determine because the known poses stay in the solver's model: the upper arm's twist
is observable through a bent elbow (> 35 degrees), the forearm's through the palm, fingers follow
the hinge/knuckle model of ``vtuber.solve.limits`` and the torso's share split ``SPINE_SHARES``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtuber import conventions, geometry
from vtuber.records import HandLandmarks, Landmarks, PoseLandmarks, Rig
from vtuber.retarget.retarget import mirror_rig
from vtuber.solve import limits
from vtuber.solve.arms import elbow_flexion_deg
from vtuber.solve.body import SPINE_SHARES, head_relative_to_torso, relaxed_rest, solve_body
from vtuber.solve.fingers import finger_curl, finger_rotations
from vtuber.solve.kinematics import SyntheticCamera, forward_kinematics, synthetic_landmarks

ROUND_TRIP_TOL_DEG = 3.0
R = math.radians
B = limits.bone_rotation
# A weak-perspective camera (far and long) for the image-point hand path: Holistic's hand points
# are image x, y plus a relative z, which is metric only up to perspective.
FAR_CAMERA = SyntheticCamera(position=(0.0, 1.2, 25.0), focal_px=9000.0)

FINGERS = {
    "ThumbProximal": (20, 15), "ThumbIntermediate": (30, 5), "ThumbDistal": (40, 0),
    "IndexProximal": (10, 15), "IndexIntermediate": (30, 0), "IndexDistal": (20, 0),
    "MiddleProximal": (45, 5), "MiddleIntermediate": (60, 0), "MiddleDistal": (30, 0),
    "RingProximal": (70, -10), "RingIntermediate": (80, 0), "RingDistal": (50, 0),
    "LittleProximal": (85, -20), "LittleIntermediate": (90, 0), "LittleDistal": (60, 0),
}


def _torso(yaw: float, roll: float, lean: float) -> dict[str, np.ndarray]:
    x = np.array([math.cos(yaw), math.sin(roll), -math.sin(yaw)])
    x /= np.linalg.norm(x)
    total = geometry.multiply(geometry.from_axis_angle(x, lean), geometry.rotation_between((1, 0, 0), x))
    return {b: geometry.slerp(geometry.IDENTITY, total, s) for b, s in zip(("Spine", "Chest", "UpperChest"), SPINE_SHARES)}


def known_pose() -> dict[str, np.ndarray]:
    pose = {"Hips": geometry.from_axis_angle((0, 1, 0), R(10))}
    pose.update(_torso(R(12), R(5), R(8)))
    pose["LeftUpperArm"] = B("LeftUpperArm", R(30), R(-40), R(20))
    pose["LeftLowerArm"] = B("LeftLowerArm", R(70), 0.0, R(-60))
    pose["LeftHand"] = B("LeftHand", R(20), R(10))
    pose["RightUpperArm"] = B("RightUpperArm", R(50), R(20), R(-30))
    pose["RightLowerArm"] = B("RightLowerArm", R(100), 0.0, R(120))  # supinated 120: + on the right
    pose["RightHand"] = B("RightHand", R(-30), R(-15))
    pose.update(finger_rotations("left", FINGERS))
    pose.update(finger_rotations("right", FINGERS))
    return pose


def random_pose(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random pose inside the limits and inside the observable model. Twists are drawn in the
    left arm's (anatomical) ranges and negated on the right (mirroring negates twist)."""
    u = rng.uniform
    pose = {"Hips": geometry.from_axis_angle((0, 1, 0), R(u(-20, 20)))}
    pose.update(_torso(R(u(-20, 20)), R(u(-8, 8)), R(u(-10, 15))))
    for s in ("Left", "Right"):
        sign = 1.0 if s == "Left" else -1.0
        pose[f"{s}UpperArm"] = B(f"{s}UpperArm", R(u(-30, 100)), R(u(-70, 60)), sign * R(u(-60, 60)))
        pose[f"{s}LowerArm"] = B(f"{s}LowerArm", R(u(40, 140)), 0.0, sign * R(u(-150, 20)))
        pose[f"{s}Hand"] = B(f"{s}Hand", R(u(-60, 70)), R(u(-25, 15)))
        fingers = {}
        for finger in ("Thumb", "Index", "Middle", "Ring", "Little"):
            for phalanx in ("Proximal", "Intermediate", "Distal"):
                lim = limits.finger_limit(finger, phalanx)
                fingers[f"{finger}{phalanx}"] = (u(lim.flex[0] + 2, lim.flex[1] - 2), u(lim.abd[0], lim.abd[1]))
        pose.update(finger_rotations("left" if s == "Left" else "right", fingers))
    return pose


def max_error(pose: dict[str, np.ndarray], solved: dict[str, np.ndarray]) -> tuple[str, float]:
    errors = {b: math.degrees(geometry.angle_between(pose.get(b, geometry.IDENTITY), q)) for b, q in solved.items()}
    worst = max(errors, key=errors.__getitem__)
    return worst, errors[worst]


@pytest.mark.parametrize("hand_world", [True, False], ids=["hand-world", "hand-image"])
def test_round_trip_known_pose(hand_world: bool) -> None:
    pose = known_pose()
    camera = SyntheticCamera() if hand_world else FAR_CAMERA
    solution = solve_body(synthetic_landmarks(pose, hand_world=hand_world, camera=camera))
    missing = set(pose) - set(solution.bones)
    assert not missing
    bone, err = max_error(pose, dict(solution.bones))
    assert err < ROUND_TRIP_TOL_DEG, f"{bone}: {err:.2f} degrees"
    assert all(solution.tracked.values())


@pytest.mark.parametrize("seed", range(6))
def test_round_trip_random_poses(seed: int) -> None:
    pose = random_pose(np.random.default_rng(seed))
    solution = solve_body(synthetic_landmarks(pose, hand_world=True))
    bone, err = max_error(pose, dict(solution.bones))
    assert err < ROUND_TRIP_TOL_DEG, f"seed {seed}: {bone} off by {err:.2f} degrees"


def test_elbow_bent_backwards_is_clamped_straight() -> None:
    pose = {"LeftLowerArm": B("LeftLowerArm", R(-40)), "RightLowerArm": B("RightLowerArm", R(-25))}
    solution = solve_body(synthetic_landmarks(pose, hands=()))
    for side in ("left", "right"):
        assert elbow_flexion_deg(solution.bones[f"{side.title()}LowerArm"], side) == pytest.approx(0.0, abs=1e-6)


def test_elbow_flexion_clamped_at_145_degrees() -> None:
    # beyond the flexion range, forced through the landmarks (no skeleton would do it)
    pose = {"LeftUpperArm": B("LeftUpperArm", 0.0, R(-60)), "LeftLowerArm": B("LeftLowerArm", R(170))}
    solution = solve_body(synthetic_landmarks(pose, hands=()))
    assert elbow_flexion_deg(solution.bones["LeftLowerArm"], "left") == pytest.approx(145.0, abs=1e-6)


def test_wrist_beyond_its_range_is_clamped() -> None:
    pose = {"LeftLowerArm": B("LeftLowerArm", R(60)), "LeftHand": B("LeftHand", R(120), R(40))}
    solution = solve_body(synthetic_landmarks(pose, hand_world=True, hands=("left",)))
    flex, abd, _ = limits.rotation_angles("LeftHand", solution.bones["LeftHand"])
    assert math.degrees(flex) == pytest.approx(limits.HAND.flex[1], abs=0.5)
    assert math.degrees(abd) == pytest.approx(limits.HAND.abd[1], abs=0.5)


def test_lost_hand_omits_hand_and_fingers_and_keeps_the_arm() -> None:
    pose = known_pose()
    solution = solve_body(synthetic_landmarks(pose, hand_world=True, hands=("left",)))
    assert solution.tracked["left_hand"] and not solution.tracked["right_hand"]
    assert not any(b.startswith("Right") and ("Hand" in b or "Proximal" in b or "Distal" in b) for b in solution.bones)
    assert "RightLowerArm" in solution.bones and "LeftIndexDistal" in solution.bones


def test_low_visibility_arm_is_omitted() -> None:
    lm = synthetic_landmarks(known_pose(), hands=())
    assert lm.pose is not None
    vis = lm.pose.visibility.copy()
    vis[14] = 0.1  # the subject's right elbow
    lm2 = Landmarks(lm.t, lm.index, lm.image_size, pose=PoseLandmarks(lm.pose.points, lm.pose.world, vis))
    solution = solve_body(lm2)
    assert "RightUpperArm" not in solution.bones and not solution.tracked["right_arm"]
    assert "LeftUpperArm" in solution.bones and solution.tracked["left_arm"]


def test_hidden_hips_give_an_upright_torso_without_hips() -> None:
    lm = synthetic_landmarks({"Spine": geometry.from_axis_angle((0, 1, 0), R(15))}, hands=())
    assert lm.pose is not None
    vis = lm.pose.visibility.copy()
    vis[23:] = 0.05
    solution = solve_body(Landmarks(0.0, 0, lm.image_size, pose=PoseLandmarks(lm.pose.points, lm.pose.world, vis)))
    assert "Hips" not in solution.bones
    yaw, pitch, roll = geometry.to_yaw_pitch_roll(solution.torso)
    assert math.degrees(yaw) == pytest.approx(15.0, abs=0.5)
    assert abs(pitch) < 1e-6 and abs(roll) < 1e-6


def test_nothing_tracked_gives_nothing() -> None:
    solution = solve_body(Landmarks(0.0, 0, (640, 480)))
    assert dict(solution.bones) == {} and not any(solution.tracked.values())
    np.testing.assert_allclose(solution.torso, geometry.IDENTITY)


def test_degenerate_hand_is_ignored() -> None:
    hand = HandLandmarks("left", np.zeros((21, 3), dtype=np.float32))
    solution = solve_body(Landmarks(0.0, 0, (640, 480), left_hand=hand))
    assert not solution.tracked["left_hand"] and dict(solution.bones) == {}


def test_straight_arm_keeps_the_previous_twist() -> None:
    pose = {"LeftUpperArm": B("LeftUpperArm", 0.0, R(-30))}  # elbow straight: twist unobservable
    lm = synthetic_landmarks(pose, hands=())
    previous = {"LeftUpperArm": B("LeftUpperArm", 0.0, R(-30), R(40)), "LeftLowerArm": B("LeftLowerArm", 0.0, 0.0, R(-50))}
    solution = solve_body(lm, previous=previous)
    assert math.degrees(limits.rotation_angles("LeftUpperArm", solution.bones["LeftUpperArm"])[2]) == pytest.approx(40.0, abs=0.5)
    assert math.degrees(limits.rotation_angles("LeftLowerArm", solution.bones["LeftLowerArm"])[2]) == pytest.approx(-50.0, abs=0.5)
    fresh = solve_body(lm)
    assert abs(limits.rotation_angles("LeftUpperArm", fresh.bones["LeftUpperArm"])[2]) < 1e-6


def test_relaxed_rest_hangs_the_arms_and_curls_the_fingers() -> None:
    rest = relaxed_rest()
    posed = forward_kinematics(rest).positions
    for s in ("Left", "Right"):
        assert posed[f"{s}Hand"][1] < posed[f"{s}UpperArm"][1] - 0.35  # hands well below the shoulders
        assert abs(posed[f"{s}Hand"][0]) < abs(posed[f"{s}UpperArm"][0]) + 0.15  # at the sides
    for side in ("left", "right"):
        assert 10.0 < (finger_curl(rest, side) or 0.0) < 30.0  # type: ignore[arg-type]
    for name, q in rest.items():  # mirror-symmetric
        if name.startswith("Left"):
            other = rest[name.replace("Left", "Right")]
            assert geometry.angle_between(conventions.mirror_quaternion(q), other) < 1e-9, name


def test_raised_right_hand_is_the_avatars_left_when_mirrored() -> None:
    pose = {"RightUpperArm": B("RightUpperArm", R(20), R(40)), "RightLowerArm": B("RightLowerArm", R(60)),
            "LeftUpperArm": B("LeftUpperArm", 0.0, R(-75))}
    bones = dict(solve_body(synthetic_landmarks(pose, hands=())).bones)
    direct = forward_kinematics(bones).positions
    assert direct["RightHand"][1] > direct["RightUpperArm"][1] > direct["LeftHand"][1]
    mirrored = forward_kinematics(dict(mirror_rig(Rig(0.0, 0, bones=bones)).bones)).positions
    assert mirrored["LeftHand"][1] > mirrored["LeftUpperArm"][1] > mirrored["RightHand"][1]


def test_head_relative_to_torso_undoes_the_torso() -> None:
    pose = _torso(R(20), 0.0, 0.0)
    solution = solve_body(synthetic_landmarks(pose, hands=()))
    head = geometry.from_axis_angle((0, 1, 0), R(30))  # the face solver's camera-relative head
    relative = head_relative_to_torso(head, solution)
    assert math.degrees(geometry.to_yaw_pitch_roll(relative)[0]) == pytest.approx(10.0, abs=0.5)
    chain = forward_kinematics({**solution.bones, "Neck": relative}).rotations["Neck"]
    assert geometry.angle_between(chain, head) < 1e-6


def test_synthetic_landmarks_follow_mediapipe_conventions() -> None:
    lm = synthetic_landmarks({}, hands=("left",))
    assert lm.pose is not None and lm.left_hand is not None
    world = lm.pose.world
    assert world[11, 0] > world[12, 0]  # the subject's left shoulder is on the image right
    assert world[0, 1] < world[11, 1]  # y down: the nose is above the shoulders
    assert lm.pose.points[11, 0] > 0.5 > lm.pose.points[12, 0]
    np.testing.assert_allclose(0.5 * (world[23] + world[24]), 0.0, atol=1e-6)  # hip-centred
    assert lm.left_hand.points[0, 2] == pytest.approx(0.0)  # hand z relative to the wrist


def random_left_arm(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random left arm, hand and fingers over the arm's whole twist ranges (a few degrees in from
    each end), plus a random torso; everything else at rest. Elbows bent past 45 degrees, so the
    humeral twist is observable."""
    u = rng.uniform
    pose = {"Hips": geometry.from_axis_angle((0, 1, 0), R(u(-20, 20)))}
    pose.update(_torso(R(u(-20, 20)), R(u(-8, 8)), R(u(-10, 15))))
    up, low = limits.UPPER_ARM.twist, limits.LOWER_ARM.twist
    pose["LeftUpperArm"] = B("LeftUpperArm", R(u(-30, 100)), R(u(-70, 60)), R(u(up[0] + 10, up[1] - 10)))
    pose["LeftLowerArm"] = B("LeftLowerArm", R(u(45, 140)), 0.0, R(u(low[0] + 5, low[1] - 5)))
    pose["LeftHand"] = B("LeftHand", R(u(-60, 70)), R(u(-25, 15)))
    fingers = {}
    for finger in ("Thumb", "Index", "Middle", "Ring", "Little"):
        for phalanx in ("Proximal", "Intermediate", "Distal"):
            lim = limits.finger_limit(finger, phalanx)
            fingers[f"{finger}{phalanx}"] = (u(lim.flex[0] + 2, lim.flex[1] - 2), u(lim.abd[0], lim.abd[1]))
    pose.update(finger_rotations("left", fingers))
    return pose


def mirrored(bones: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {conventions.mirror_name(b): conventions.mirror_quaternion(q) for b, q in bones.items()}


def test_mirror_image_poses_solve_to_mirror_images() -> None:
    """A left-arm pose and its exact mirror (the right arm doing the same motion) through the full
    landmarks -> solve path give mirrored bones: the limits treat both arms anatomically alike."""
    rng = np.random.default_rng(7)
    worst: tuple[float, str, int] = (0.0, "", -1)
    for i in range(10):
        pose = random_left_arm(rng)
        left = dict(solve_body(synthetic_landmarks(pose, hand_world=True, hands=("left",))).bones)
        right = dict(solve_body(synthetic_landmarks(mirrored(pose), hand_world=True, hands=("right",))).bones)
        expected = mirrored(left)
        assert set(expected) == set(right), i
        for bone, q in right.items():
            err = math.degrees(geometry.angle_between(expected[bone], q))
            worst = max(worst, (err, bone, i))
    assert worst[0] < 0.1, f"pose {worst[2]}: {worst[1]} differs from the mirrored left by {worst[0]:.2f} degrees"


def test_right_forearm_supinates_like_the_left() -> None:
    """Supination 120 degrees with the elbow bent 70: - twist on the left, + on the right (its
    rest axis is -X); both solve exactly, neither is clamped."""
    for s, sign in (("Left", -1.0), ("Right", 1.0)):
        pose = {f"{s}LowerArm": B(f"{s}LowerArm", R(70), 0.0, sign * R(120))}
        side = "left" if s == "Left" else "right"
        solved = solve_body(synthetic_landmarks(pose, hand_world=True, hands=(side,))).bones
        assert math.degrees(geometry.angle_between(solved[f"{s}LowerArm"], pose[f"{s}LowerArm"])) < 1.0, s
