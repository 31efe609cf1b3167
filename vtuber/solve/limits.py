"""Anatomical joint limits for the body and finger solvers, in degrees, with their sources.

Every limited bone is parametrised the same way (``BoneAxes``, ``bone_axes``): in its parent's
frame the bone's direction ``d`` is described by

* ``flex``: the angle of ``d`` toward the bone's *bend direction* ``p`` (finger and wrist: the
  palm side; elbow: forward, the way a T-pose elbow bends; thumb: across the palm),
* ``abd``: the angle of ``d`` out of the bend plane toward the *side direction* ``t`` (fingers and
  wrist: the thumb side, so + is radial; shoulder: up),
* ``twist``: rotation about the bone's own rest axis (from its joint toward its child), + by the
  right-hand rule about that axis.

The right side's axes are the left's mirror image (x negated, ``bone_axes``). Mirroring keeps
``flex`` and ``abd`` but negates ``twist``: the right arm's rest axis is -X, so the same anatomical
forearm or humeral rotation is a twist of the opposite sign. The ranges below are written for the
LEFT side (anatomical); ``JointLimit.for_bone`` gives a bone's range in its own angles, mirroring
the twist range (-hi, -lo) for a Right bone.

Angles are relative to the VRM T-pose rest (arms out, palms down, fingers straight, thumb 45
degrees forward), so a range is the clinical range shifted to that rest. Clamps act on these
angles; a joint whose range is zero on an axis (finger PIP/DIP ``abd``) is a pure hinge.

Sources:
* AAOS: American Academy of Orthopaedic Surgeons, *Joint Motion: Method of Measuring and
  Recording* (1965), the normal ranges reprinted in Greene & Heckman, *The Clinical Measurement of
  Joint Motion* (1994): elbow flexion 0-150, forearm pronation 0-80 / supination 0-80, wrist
  flexion 0-80 / extension 0-70 / radial deviation 0-20 / ulnar deviation 0-30, finger MCP
  flexion 0-90 (hyperextension 0-45), PIP 0-100, DIP 0-90 (hyperextension 0-10), thumb MCP 0-50,
  thumb IP 0-80 (hyperextension 0-20), shoulder internal rotation 0-70 / external 0-90.
* Hume et al., *Functional range of motion of the joints of the hand*, J Hand Surg 1990: finger
  abduction at the MCP about 20 degrees for index and little, less for middle and ring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber import geometry

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class JointLimit:
    """Allowed ranges in degrees (min, max) of one bone's flex, abd and twist (see module doc)."""

    flex: tuple[float, float]
    abd: tuple[float, float] = (0.0, 0.0)
    twist: tuple[float, float] = (0.0, 0.0)

    def for_bone(self, bone: str) -> JointLimit:
        """This limit (written for the left side) in ``bone``'s own angles: unchanged for a Left
        bone; for a Right bone the twist range mirrored to (-max, -min), since mirroring negates
        twist (module doc). Flex and abd ranges are the same on both sides."""
        if bone.startswith("Left"):
            return self
        return JointLimit(self.flex, self.abd, (-self.twist[1], -self.twist[0]))

    def radians(self) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
        """(flex, abd, twist) ranges in radians."""
        r = math.radians
        return ((r(self.flex[0]), r(self.flex[1])), (r(self.abd[0]), r(self.abd[1])),
                (r(self.twist[0]), r(self.twist[1])))


UNLIMITED = (-180.0, 180.0)

# Upper arm (ball joint): flex is the arm swinging forward from the T-pose, abd raising it up.
# Extension behind the frontal plane past 60 degrees is not a human pose (AAOS extension 0-60);
# forward and across the body up to 150 (AAOS flexion 180 counts from arm-down). Twist is humeral
# rotation, left arm (the right's is mirrored, ``JointLimit.for_bone``): + internal (forearm toward
# the belly when the elbow is bent), - external (forearm up).
# AAOS gives internal 70 / external 90 measured in abduction; in adduction internal rotation
# reaches the belly (about 90), so the range is widened to (-90, 100).
UPPER_ARM = JointLimit(flex=(-60.0, 150.0), abd=(-90.0, 90.0), twist=(-90.0, 100.0))

# Elbow: a hinge, flexion 0-145 (AAOS 0-150, minus the soft-tissue stop of a real forearm) and no
# hyperextension: an elbow never bends backwards. Twist is forearm rotation: the T-pose palm-down
# rest is nearly full pronation (80), so supination reaches 160 from it (palm up) and pronation
# only a few degrees past it; for the left arm - is supination (it supinates about -X); the right
# arm's twist axis is -X, so there + is supination and its range is (-30, 170) (``for_bone``).
LOWER_ARM = JointLimit(flex=(0.0, 145.0), abd=(0.0, 0.0), twist=(-170.0, 30.0))

# Wrist: palmar flexion 80, extension 70, radial deviation 20, ulnar 30 (AAOS). Its twist is the
# forearm's (above), so the hand bone itself carries none.
HAND = JointLimit(flex=(-70.0, 80.0), abd=(-30.0, 20.0), twist=(0.0, 0.0))

# Finger MCP (proximal phalanx): flexion 0-90 with 30 of hyperextension (AAOS allows 45; 30 keeps
# noisy tracking from bending fingers back); abduction + toward the thumb. Index and little spread
# outward about 20-25 (Hume 1990), middle and ring a few degrees either way.
FINGER_MCP: Mapping[str, JointLimit] = MappingProxyType(
    {
        "Index": JointLimit(flex=(-30.0, 90.0), abd=(-10.0, 25.0)),
        "Middle": JointLimit(flex=(-30.0, 90.0), abd=(-12.0, 12.0)),
        "Ring": JointLimit(flex=(-30.0, 90.0), abd=(-18.0, 8.0)),
        "Little": JointLimit(flex=(-30.0, 90.0), abd=(-28.0, 8.0)),
    }
)
FINGER_PIP = JointLimit(flex=(-5.0, 100.0))  # AAOS PIP 0-100; a hinge (no sideways bend)
FINGER_DIP = JointLimit(flex=(-10.0, 90.0))  # AAOS DIP 0-90, hyperextension 10; a hinge

# Thumb, relative to the 45-degree rest. CMC (ThumbProximal) is a saddle: it curls across the palm
# (flexion/opposition) about 60 and extends/abducts away about 45; its out-of-plane motion
# (palmar abduction) is about 40 each way from this rest. MCP 0-50 (AAOS) with a little play
# sideways; IP 0-80 with 20 hyperextension (AAOS), a hinge.
THUMB_CMC = JointLimit(flex=(-45.0, 70.0), abd=(-40.0, 40.0))
THUMB_MCP = JointLimit(flex=(-10.0, 60.0), abd=(-10.0, 10.0))
THUMB_IP = JointLimit(flex=(-20.0, 80.0))


def finger_limit(finger: str, phalanx: str) -> JointLimit:
    """The limit of one finger bone (finger in Thumb..Little, phalanx in Proximal..Distal)."""
    if finger == "Thumb":
        return {"Proximal": THUMB_CMC, "Intermediate": THUMB_MCP, "Distal": THUMB_IP}[phalanx]
    if phalanx == "Proximal":
        return FINGER_MCP[finger]
    return FINGER_PIP if phalanx == "Intermediate" else FINGER_DIP


# ---------------------------------------------------------------------------------------------
# The angle parametrisation the limits are expressed in
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoneAxes:
    """Three orthonormal directions in a bone's parent frame (= its own frame at rest).

    Attributes:
        rest: the bone's rest direction (joint -> child joint).
        bend: the direction ``flex`` turns it toward.
        side: the direction ``abd`` turns it toward (out of the bend plane).
    """

    rest: F64
    bend: F64
    side: F64


_S = math.sqrt(0.5)
# Left-side axes; the right side is their mirror image (x negated), so equal flex and abd and
# opposite twist on both sides are mirror-image poses (``conventions.mirror_quaternion``).
_LEFT_AXES = {
    # Fingers and wrist, palm down: bend toward the palm (-Y), side toward the thumb (+Z).
    "finger": ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    # Thumb at 45 degrees forward: it curls across the palm and palmward; side is the remaining
    # direction, toward the back of the hand and the fingers.
    "thumb": ((_S, 0.0, _S), (0.5, -_S, -0.5), (0.5, _S, -0.5)),
    # Arms: a T-pose elbow bends forward (+Z); the arm's side direction is up.
    "arm": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
}


@cache
def bone_axes(bone: str) -> BoneAxes:
    """The ``BoneAxes`` of an arm, hand or finger bone (e.g. ``"RightIndexProximal"``)."""
    kind = "thumb" if "Thumb" in bone else "arm" if "Arm" in bone else "finger"
    sign = np.array([1.0 if bone.startswith("Left") else -1.0, 1.0, 1.0])
    r, p, t = (np.array(v) * sign for v in _LEFT_AXES[kind])
    for v in (r, p, t):
        v.setflags(write=False)
    return BoneAxes(r, p, t)


def direction_angles(d: ArrayLike, axes: BoneAxes) -> tuple[float, float]:
    """(flex, abd) radians of unit direction ``d`` (parent frame) in ``axes``."""
    v = np.asarray(d, dtype=np.float64)
    flex = math.atan2(float(v @ axes.bend), float(v @ axes.rest))
    abd = math.asin(min(1.0, max(-1.0, float(v @ axes.side))))
    return flex, abd


def angles_direction(flex: float, abd: float, axes: BoneAxes) -> F64:
    """Inverse of ``direction_angles``: the unit direction for (flex, abd) radians."""
    ca = math.cos(abd)
    return ca * (math.cos(flex) * axes.rest + math.sin(flex) * axes.bend) + math.sin(abd) * axes.side


def bone_rotation(bone: str, flex: float = 0.0, abd: float = 0.0, twist: float = 0.0) -> F64:
    """Local rotation (xyzw) of ``bone`` for angles in radians: the shortest swing of its rest
    direction onto ``angles_direction(flex, abd)``, after a ``twist`` about the rest direction."""
    axes = bone_axes(bone)
    swing = geometry.rotation_between(axes.rest, angles_direction(flex, abd, axes))
    return geometry.multiply(swing, geometry.from_axis_angle(axes.rest, twist))


def rotation_angles(bone: str, q: ArrayLike) -> tuple[float, float, float]:
    """Inverse of ``bone_rotation``: (flex, abd, twist) radians of a local rotation."""
    axes = bone_axes(bone)
    a = np.asarray(q, dtype=np.float64)
    flex, abd = direction_angles(geometry.rotate(a, axes.rest), axes)
    # the twist part of q about the rest axis: its vector part projected on the axis (the same
    # for q = swing * twist as for twist * swing)
    twist = 2.0 * math.atan2(float(a[:3] @ axes.rest), float(a[3]))
    return flex, abd, math.remainder(twist, 2.0 * math.pi)


def clamp(value: float, bounds: tuple[float, float]) -> float:
    """``value`` clamped to the (min, max) radians ``bounds``."""
    return min(bounds[1], max(bounds[0], value))
