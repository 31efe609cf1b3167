"""``solve_body``: Landmarks -> upper-body and finger bone rotations (pure, no I/O, no clock).

Output rotations are local, relative to the VRM/Unity T-pose rest, in the internal frame (+X the
avatar's own left, +Y up, +Z forward), for the subject's own sides: mirroring (selfie view) is
``vtuber.retarget.retarget.mirror_rig``'s job, later.

Which landmarks drive which bone (MediaPipe pose world landmarks through
``conventions.mediapipe_world_to_internal``; pose index 11 is the subject's LEFT shoulder):

* Hips: the hip line 24 -> 23 (yaw and sideways tilt); only when both hips are visible.
* Spine, Chest, UpperChest: the torso rotation relative to the hips, split ``SPINE_SHARES``. Its
  x axis is the shoulder line 12 -> 11; its forward lean makes the hip-mid -> shoulder-mid chord
  of the skeleton's bent spine match the observed one (solved for the lean angle, since a spine
  bent over three joints tilts its chord less than its top). Without visible hips the torso is
  upright (world up) with the shoulder line's yaw and tilt, and Hips is omitted.
* Shoulder, UpperArm, LowerArm, Hand: ``vtuber.solve.arms`` (shoulder, elbow, wrist and the palm).
* Fingers: ``vtuber.solve.fingers`` (21 hand landmarks).
* Neck and Head are the face solver's. The head pose it measures is relative to the camera, so
  under a rotated torso the lead composes ``head_relative_to_torso(head, solution)`` and splits
  that between Neck and Head (``solve.rig.split_neck_head``).

Confidence gating: a bone is omitted (the smoother eases it to ``relaxed_rest()``) when its
landmarks are not trusted: arms need shoulder and elbow visibility >= ``VISIBILITY_MIN`` (the
forearm also the wrist's, or a tracked hand), the hand and fingers need that hand tracked with
score >= ``HAND_SCORE_MIN``. With a user's body calibration (``body_profile.BodyCalibration``,
from ``vtuber calibrate body``) an upper arm or forearm whose length / shoulder width is far from
the user's own is not trusted either, and the arms are solved relative to the user's measured
relaxed arms and T-pose (``arms.solve_arm``). ``measure_arms`` gives the calibration its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber import conventions, geometry
from vtuber.records import HandLandmarks, Landmarks, Quaternion, Side, Vector3
from vtuber.retarget import skeleton
from vtuber.solve import limits
from vtuber.solve.arms import solve_arm
from vtuber.solve.body_profile import (
    AVATAR_RELAXED_ABD_DEG,
    AVATAR_RELAXED_ELBOW_DEG,
    AVATAR_RELAXED_FLEX_DEG,
    ArmPose,
    BodyCalibration,
)
from vtuber.solve.fingers import finger_rotations, hand_points_internal, palm_rotation, solve_hands
from vtuber.solve.kinematics import axis_angle_matrix, cross3, swing_matrix, unit3

F64 = NDArray[np.float64]

VISIBILITY_MIN = 0.5  # MediaPipe's own drawing threshold for pose landmarks
HAND_SCORE_MIN = 0.5  # handedness/presence score below which a hand is treated as not tracked
# Share of the torso rotation per joint, Spine -> UpperChest: the thoracic spine does most of the
# axial turn, the lumbar less (White & Panjabi, Clinical Biomechanics of the Spine, 1990).
SPINE_SHARES = (0.25, 0.35, 0.40)
_LEAN_ITERATIONS = 3

_POSE = {"left": (11, 13, 15), "right": (12, 14, 16)}
_HIPS = (23, 24)
_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True, slots=True)
class BodySolution:
    """The body solver's result for one frame.

    Attributes:
        bones: HumanBodyBones name -> local rotation (xyzw, relative to T-pose, internal frame).
            Only observed bones are present (see the module docstring's gating).
        tracked: ``pose``, ``left_arm``, ``right_arm``, ``left_hand``, ``right_hand`` -> whether
            that part was solved this frame.
        torso: world rotation of the UpperChest (Hips * Spine * Chest * UpperChest): the frame the
            neck hangs from; identity when no pose was tracked.
        hips_position: not estimated (None): a webcam sees no floor to place the hips on.
    """

    bones: Mapping[str, Quaternion]
    tracked: Mapping[str, bool]
    torso: Quaternion = field(default_factory=lambda: geometry.IDENTITY.copy())
    hips_position: Vector3 | None = None


def solve_body(
    landmarks: Landmarks, *, previous: Mapping[str, ArrayLike] | None = None, calibration: BodyCalibration | None = None
) -> BodySolution:
    """Upper-body and finger bones of one frame.

    Args:
        landmarks: the tracker's output (pose world landmarks and hands; the face is not read).
        previous: the previous frame's ``bones`` (solved or smoothed), to hold twists that this
            frame cannot observe (a straight arm's humeral rotation, a lost hand's forearm).
        calibration: the user's body calibration (``vtuber calibrate body``), or None.
    """
    bones: dict[str, Quaternion] = {}
    tracked = {"pose": False, "left_arm": False, "right_arm": False, "left_hand": False, "right_hand": False}
    palms: dict[Side, F64] = {}
    hands = []
    for side, hand in (("left", landmarks.left_hand), ("right", landmarks.right_hand)):
        if hand is not None and hand.score >= HAND_SCORE_MIN:
            found = _palm(hand, landmarks.image_size, side)  # type: ignore[arg-type]
            if found is not None:
                palms[side] = found[1]  # type: ignore[index]
                hands.append((found[0], found[1], side))
                tracked[f"{side}_hand"] = True
    bones.update(solve_hands(hands))  # type: ignore[arg-type]
    torso = geometry.IDENTITY.copy()
    pose = landmarks.pose
    if pose is not None:
        world = conventions.mediapipe_world_to_internal(pose.world)
        vis = np.asarray(pose.visibility, dtype=np.float64)
        m_torso = _solve_torso(world, vis, bones)
        torso = geometry.from_matrix(m_torso)
        tracked["pose"] = True
        width = float(np.linalg.norm(world[11] - world[12]))
        for side, (sh, el, wr) in _POSE.items():
            if vis[sh] < VISIBILITY_MIN or vis[el] < VISIBILITY_MIN:
                continue
            palm = palms.get(side)  # type: ignore[call-overload]
            wrist = world[wr] if vis[wr] >= VISIBILITY_MIN or palm is not None else None
            arm_cal = calibration.arm(side) if calibration is not None else None
            if arm_cal is not None and width > 1e-6:
                upper_ok, fore_ok = arm_cal.lengths_plausible(
                    float(np.linalg.norm(world[el] - world[sh])) / width,
                    None if wrist is None else float(np.linalg.norm(world[wr] - world[el])) / width,
                )
                if not upper_ok:
                    continue
                wrist = wrist if fore_ok else None
            arm = solve_arm(side, m_torso, world[sh], world[el], wrist, palm, previous, arm_cal)  # type: ignore[arg-type]
            bones.update(arm)
            tracked[f"{side}_arm"] = bool(arm)
    return BodySolution(bones=MappingProxyType(bones), tracked=MappingProxyType(tracked), torso=torso)


def head_relative_to_torso(head_rotation: ArrayLike, solution: BodySolution) -> Quaternion:
    """The head rotation (relative to the camera, as ``Rig.head``) expressed under the torso:
    what Neck * Head must rotate so the head ends up where the face solver saw it."""
    return geometry.multiply(geometry.conjugate(solution.torso), head_rotation)


def relaxed_rest() -> dict[str, Quaternion]:
    """A relaxed standing pose for bones that lose tracking (pass as ``RigSmoother(rest=...)``):
    arms hanging 75 degrees below the T-pose, slightly forward, elbows bent 15 degrees, palms
    toward the thighs, fingers gently curled, thumbs a little in; torso and shoulders at rest."""
    out: dict[str, Quaternion] = {}
    rad = math.radians
    curl = {"Proximal": (15.0, 0.0), "Intermediate": (20.0, 0.0), "Distal": (10.0, 0.0)}
    for side, s in (("left", "Left"), ("right", "Right")):
        out[f"{s}Shoulder"] = geometry.IDENTITY.copy()
        out[f"{s}UpperArm"] = limits.bone_rotation(f"{s}UpperArm", flex=rad(AVATAR_RELAXED_FLEX_DEG), abd=rad(AVATAR_RELAXED_ABD_DEG))
        out[f"{s}LowerArm"] = limits.bone_rotation(f"{s}LowerArm", flex=rad(AVATAR_RELAXED_ELBOW_DEG))
        out[f"{s}Hand"] = limits.bone_rotation(f"{s}Hand", flex=rad(5.0))
        angles = {f"{f}{p}": a for f in ("Index", "Middle", "Ring", "Little") for p, a in curl.items()}
        angles.update({"ThumbProximal": (10.0, 0.0), "ThumbIntermediate": (10.0, 0.0), "ThumbDistal": (10.0, 0.0)})
        out.update(finger_rotations(side, angles))  # type: ignore[arg-type]
    for bone in ("Hips", "Spine", "Chest", "UpperChest"):
        out[bone] = geometry.IDENTITY.copy()
    return out


@dataclass(frozen=True, slots=True)
class ArmMeasurement:
    """One arm in one frame, for calibration: its pose (``body_profile.ArmPose`` angles, in the
    chest frame of ``solve_body``'s torso), its bone lengths divided by the shoulder width, and
    whether the wrist was visible (without it ``elbow`` and ``forearm_ratio`` are None)."""

    flex_deg: float
    abd_deg: float
    elbow_deg: float | None
    upper_arm_ratio: float
    forearm_ratio: float | None
    shoulder_width_m: float

    def pose(self) -> ArmPose:
        """The measured angles as an ``ArmPose``."""
        return ArmPose(self.flex_deg, self.abd_deg, self.elbow_deg)


def measure_arms(landmarks: Landmarks) -> dict[Side, ArmMeasurement]:
    """The arms ``solve_body`` would solve this frame (shoulders and elbow visible), measured
    before any calibration or joint limit: what ``vtuber calibrate body`` records."""
    pose = landmarks.pose
    if pose is None:
        return {}
    world = conventions.mediapipe_world_to_internal(pose.world)
    vis = np.asarray(pose.visibility, dtype=np.float64)
    if vis[11] < VISIBILITY_MIN or vis[12] < VISIBILITY_MIN:
        return {}
    chest = _solve_torso(world, vis, {}).T
    width = float(np.linalg.norm(world[11] - world[12]))
    out: dict[Side, ArmMeasurement] = {}
    for side, (sh, el, wr) in _POSE.items():
        if vis[el] < VISIBILITY_MIN or width < 1e-6:
            continue
        u = unit3(chest @ (world[el] - world[sh]))
        if u is None:
            continue
        flex, abd = limits.direction_angles(u, limits.bone_axes("LeftUpperArm" if side == "left" else "RightUpperArm"))
        f = unit3(chest @ (world[wr] - world[el])) if vis[wr] >= VISIBILITY_MIN else None
        elbow = None if f is None else math.degrees(math.acos(min(1.0, max(-1.0, float(u @ f)))))
        out[side] = ArmMeasurement(  # type: ignore[index]
            flex_deg=math.degrees(flex),
            abd_deg=math.degrees(abd),
            elbow_deg=elbow,
            upper_arm_ratio=float(np.linalg.norm(world[el] - world[sh])) / width,
            forearm_ratio=None if f is None else float(np.linalg.norm(world[wr] - world[el])) / width,
            shoulder_width_m=width,
        )
    return out


# Private helpers


def _palm(hand: HandLandmarks, image_size: tuple[int, int], side: Side) -> tuple[F64, F64] | None:
    """(hand points in internal axes, palm world rotation matrix), or None if degenerate."""
    pts = hand_points_internal(hand, image_size)
    if not np.all(np.isfinite(pts)):
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        palm = palm_rotation(pts, side)
    if not np.all(np.isfinite(palm)):
        return None
    return pts, palm


def _pow(q: F64, share: float) -> F64:
    """``share`` of rotation ``q`` about its own axis (q ** share)."""
    x, y, z, w = geometry.canonical(q)
    half = math.atan2(math.sqrt(x * x + y * y + z * z), w)
    if half < 1e-12:
        return geometry.IDENTITY.copy()
    k = math.sin(share * half) / math.sin(half)
    return np.array([x * k, y * k, z * k, math.cos(share * half)])


def _spine_profile() -> tuple[tuple[float, float], ...]:
    """(length, share of the lean) of each hip-mid -> shoulder-mid segment of the rest skeleton."""
    off = skeleton.REST_OFFSETS
    a, b, _ = SPINE_SHARES
    hip_mid = 0.5 * (off["LeftUpperLeg"] + off["RightUpperLeg"])
    return (
        (float(off["Spine"][1] - hip_mid[1]), 0.0),  # turned by Hips only
        (float(off["Chest"][1]), a),  # by Spine
        (float(off["UpperChest"][1]), a + b),  # by Spine * Chest
        (float(off["LeftShoulder"][1]), 1.0),  # by the whole torso (the shoulders' mid height)
    )


_PROFILE = _spine_profile()


def _chord_angle(lean: float) -> float:
    """Tilt of the hip-mid -> shoulder-mid chord when the torso leans ``lean`` radians, spread
    over the spine joints by ``SPINE_SHARES`` (about half the lean: the chord tilts less)."""
    sy = sum(length * math.sin(share * lean) for length, share in _PROFILE)
    cy = sum(length * math.cos(share * lean) for length, share in _PROFILE)
    return math.atan2(sy, cy)


def _lean_for_chord(target: float) -> float:
    """The torso lean whose chord tilts ``target`` radians (Newton on ``_chord_angle``)."""
    lean = target * 2.0
    for _ in range(_LEAN_ITERATIONS):
        slope = (_chord_angle(lean + 1e-4) - _chord_angle(lean - 1e-4)) / 2e-4
        lean += (target - _chord_angle(lean)) / slope
    return lean


def _angle_about(axis: F64, ref: F64, v: F64) -> float:
    return math.atan2(float(cross3(ref, v) @ axis), float(ref @ v))


def _solve_torso(world: F64, vis: F64, bones: dict[str, Quaternion]) -> F64:
    """Adds Hips (if visible) and Spine/Chest/UpperChest to ``bones``; returns the UpperChest's
    world rotation matrix."""
    if vis[11] < VISIBILITY_MIN or vis[12] < VISIBILITY_MIN:
        return np.eye(3)
    hips = np.eye(3)
    line = unit3(world[_HIPS[0]] - world[_HIPS[1]])
    hips_seen = bool(vis[_HIPS[0]] >= VISIBILITY_MIN and vis[_HIPS[1]] >= VISIBILITY_MIN) and line is not None
    if hips_seen:
        hips = swing_matrix(_X, line)  # type: ignore[arg-type]
        bones["Hips"] = geometry.from_matrix(hips)
    x = unit3(hips.T @ (world[11] - world[12]))
    if x is None:
        return hips
    t_rel = swing_matrix(_X, x)
    if hips_seen:
        chord = hips.T @ (0.5 * (world[11] + world[12]) - 0.5 * (world[23] + world[24]))
        lean = _lean_for_chord(_angle_about(x, t_rel[:, 1], chord))
        t_rel = axis_angle_matrix(x, lean) @ t_rel
    q = geometry.from_matrix(t_rel)
    for bone, share in zip(("Spine", "Chest", "UpperChest"), SPINE_SHARES):
        # slices of one rotation about one axis: their product is t_rel
        bones[bone] = _pow(q, share)
    return hips @ t_rel
