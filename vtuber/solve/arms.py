"""One arm's Shoulder, UpperArm, LowerArm and Hand local rotations from pose and palm.

Inputs (internal frame, see ``vtuber.solve.body``): the world rotation of the UpperChest (the
arm's parent chain), the shoulder, elbow and wrist positions of MediaPipe's pose world landmarks
(11/13/15 for the subject's left, 12/14/16 right) and, when the hand was tracked, the palm's
world rotation (``fingers.palm_rotation``).

* Shoulder (clavicle): identity. The 33 pose points have no sternoclavicular joint, so a shrug
  cannot be separated from the arm; the upper arm carries the whole direction.
* UpperArm: the shortest swing of its rest direction (+-X) onto shoulder->elbow in the chest
  frame, clamped (``limits.UPPER_ARM``), then a twist about its own axis (humeral rotation). The
  twist is observable only through the elbow: the forearm must lie in the plane the elbow hinge
  allows (forward at rest), so the twist turns that plane onto the observed one. Below 15 degrees
  of elbow bend that plane is noise, so the twist eases (15 -> 35 degrees) to the previous
  frame's twist (``previous``) or zero. A plane that would need a humeral twist outside its
  range is read the other way round: an elbow bent backwards, which the hinge clamps straight.
  Twist ranges are anatomical: the right arm's (rest axis -X) are the left's mirrored
  (``limits.JointLimit.for_bone``), so mirror-image motions solve to mirror-image rotations.
* LowerArm: elbow flexion only (a hinge, 0-145 degrees, never backwards), then the forearm twist
  (pronation/supination) that makes the palm face the observed way: the twist part about the
  forearm axis of what remains between the bent forearm and the palm (swing-twist split),
  clamped (``limits.LOWER_ARM``). Without a tracked hand the twist holds ``previous`` or zero.
* Hand: the palm's remaining swing (wrist flexion/extension and deviation, ``limits.HAND``); the
  wrist itself has no twist (the forearm has it).
* A user's body calibration (``body_profile.ArmCalibration``), when given, first maps the
  observed upper-arm direction so the user's measured relaxed arm and T-pose land on the
  avatar's (turning the forearm and palm with it), and remaps the elbow bend the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber import geometry
from vtuber.records import Quaternion, Side
from vtuber.solve import limits
from vtuber.solve.body_profile import ArmCalibration
from vtuber.solve.kinematics import axis_angle_matrix, cross3, swing_matrix, unit3

F64 = NDArray[np.float64]

TWIST_OBSERVABLE_DEG = (15.0, 35.0)  # elbow bend over which the elbow plane takes over the twist
# Per side ("Left"/"Right"), in each bone's own angles: the right arm's twist ranges are the
# left's mirrored (``limits.JointLimit.for_bone``).
_UPPER = {s: limits.UPPER_ARM.for_bone(f"{s}UpperArm").radians() for s in ("Left", "Right")}
_LOWER = {s: limits.LOWER_ARM.for_bone(f"{s}LowerArm").radians() for s in ("Left", "Right")}
_HAND = {s: limits.HAND.for_bone(f"{s}Hand").radians() for s in ("Left", "Right")}
_TWIST_LO, _TWIST_HI = (math.radians(a) for a in TWIST_OBSERVABLE_DEG)


def _smoothstep(x: float) -> float:
    u = min(1.0, max(0.0, x))
    return u * u * (3.0 - 2.0 * u)


def _twist_about(q: ArrayLike, axis: F64) -> float:
    """Angle (radians, wrapped) of the twist part of quaternion ``q`` about unit ``axis`` (the
    same for q = swing * twist and q = twist * swing)."""
    a = np.asarray(q, dtype=np.float64)
    return math.remainder(2.0 * math.atan2(float(a[:3] @ axis), float(a[3])), 2.0 * math.pi)


def _previous_twist(bone: str, axis: F64, previous: Mapping[str, ArrayLike] | None) -> float:
    if previous is None or bone not in previous:
        return 0.0
    return _twist_about(previous[bone], axis)


def _clamped_direction(d: F64, axes: limits.BoneAxes, lim: tuple[tuple[float, float], ...]) -> F64:
    flex, abd = limits.direction_angles(d, axes)
    return limits.angles_direction(limits.clamp(flex, lim[0]), limits.clamp(abd, lim[1]), axes)


def solve_arm(
    side: Side,
    torso: F64,
    shoulder: F64,
    elbow: F64,
    wrist: F64 | None,
    hand_rotation: F64 | None = None,
    previous: Mapping[str, ArrayLike] | None = None,
    calibration: ArmCalibration | None = None,
) -> dict[str, Quaternion]:
    """Local rotations of one arm.

    Args:
        side: the subject's side.
        torso: 3x3 world rotation of the UpperChest (the arm chain's parent).
        shoulder, elbow: joint positions (internal frame, any common origin and scale).
        wrist: wrist position, or None when it is not trusted (then only the upper arm is solved).
        hand_rotation: 3x3 world rotation of the Hand bone from the palm, or None.
        previous: the previous frame's bones, used for twists that are unobservable this frame.
        calibration: the user's calibration of this arm (relaxed and T-pose zeros), or None.

    Returns:
        ``{S}Shoulder``, ``{S}UpperArm`` and, with a wrist, ``{S}LowerArm`` and, with a palm too,
        ``{S}Hand`` (S = Left/Right).
    """
    s = "Left" if side == "left" else "Right"
    ua, la, hand = f"{s}UpperArm", f"{s}LowerArm", f"{s}Hand"
    upper_lim, lower_lim, hand_lim = _UPPER[s], _LOWER[s], _HAND[s]
    axes = limits.bone_axes(ua)  # the lower arm's axes are the same
    to_chest = torso.T
    u = unit3(to_chest @ (elbow - shoulder))
    if u is None:
        return {}
    correction = None  # chest-frame rotation of the whole arm onto the calibrated direction
    if calibration is not None and calibration.remaps:
        mapped = calibration.map_direction(u, side)
        # from the rest-swing frame of the observed direction to that of the mapped one: the
        # humeral twist (measured against the swing from rest) and the elbow plane are kept
        correction = swing_matrix(axes.rest, mapped) @ swing_matrix(axes.rest, u).T
        u = mapped
    u = _clamped_direction(u, axes, upper_lim)
    swing = swing_matrix(axes.rest, u)
    out: dict[str, Quaternion] = {f"{s}Shoulder": geometry.IDENTITY.copy()}
    twist = _previous_twist(ua, axes.rest, previous)
    f = None if wrist is None else unit3(to_chest @ (wrist - elbow))
    if f is not None and correction is not None:
        f = correction @ f
    if f is not None:
        uf = float(u @ f)
        weight = _smoothstep((math.acos(min(1.0, max(-1.0, uf))) - _TWIST_LO) / (_TWIST_HI - _TWIST_LO))
        plane = unit3(f - uf * u)
        if weight > 0.0 and plane is not None:
            rest_bend = swing @ axes.bend
            observed = math.atan2(float(cross3(rest_bend, plane) @ u), float(rest_bend @ plane))
            if not upper_lim[2][0] <= observed <= upper_lim[2][1]:
                # no humerus turns that far: read it as the elbow bent backwards instead (the
                # same landmarks), which the hinge below then clamps straight
                observed = math.remainder(observed + math.pi, 2.0 * math.pi)
            twist += weight * math.remainder(observed - twist, 2.0 * math.pi)
    twist = limits.clamp(twist, upper_lim[2])
    m_upper = swing @ axis_angle_matrix(axes.rest, twist)
    out[ua] = geometry.from_matrix(m_upper)
    if f is None:
        return out
    f_local = m_upper.T @ f
    observed_flex = math.atan2(float(f_local @ axes.bend), float(f_local @ axes.rest))
    hinge_axis = cross3(axes.rest, axes.bend)
    palm = None if hand_rotation is None else to_chest @ hand_rotation
    if palm is not None and correction is not None:
        palm = correction @ palm
    if calibration is not None and calibration.remaps:
        remapped = calibration.remap_elbow(observed_flex)
        if palm is not None and remapped != observed_flex:  # the hand turns with the forearm
            palm = m_upper @ axis_angle_matrix(hinge_axis, remapped - observed_flex) @ m_upper.T @ palm
        observed_flex = remapped
    flex = limits.clamp(observed_flex, lower_lim[0])
    m_hinge = axis_angle_matrix(hinge_axis, flex)
    if palm is None:
        forearm_twist = _previous_twist(la, axes.rest, previous)
    else:
        remaining = (m_upper @ m_hinge).T @ palm
        forearm_twist = _twist_about(geometry.from_matrix(remaining), axes.rest)
    forearm_twist = limits.clamp(forearm_twist, lower_lim[2])
    m_lower = m_hinge @ axis_angle_matrix(axes.rest, forearm_twist)
    out[la] = geometry.from_matrix(m_lower)
    if palm is not None:
        h_axes = limits.bone_axes(hand)
        d = _clamped_direction((m_upper @ m_lower).T @ palm @ h_axes.rest, h_axes, hand_lim)
        out[hand] = geometry.from_matrix(swing_matrix(h_axes.rest, d))
    return out


def elbow_flexion_deg(lower_arm: ArrayLike, side: Side) -> float:
    """Elbow flexion in degrees of a LowerArm local rotation (negative = bent backwards)."""
    bone = "LeftLowerArm" if side == "left" else "RightLowerArm"
    return math.degrees(limits.rotation_angles(bone, lower_arm)[0])
