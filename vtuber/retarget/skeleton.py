"""The humanoid skeleton: Unity ``HumanBodyBones`` names, their parents and default rest offsets.

Rest pose is the VRM / Unity T-pose: standing, arms straight out sideways, palms down, fingers
straight along the arm, every bone's rest rotation the identity (VRM normalised humanoid), so a
bone's local rotation is directly its rotation away from T-pose.

Offsets are metres in the internal frame (+X the avatar's left, +Y up, +Z forward), each bone's
head relative to its parent's head; proportions of a 1.6 m VRoid Studio-style avatar. Avatar
profiles may replace them with the real model's.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import numpy as np
from numpy.typing import NDArray

FINGERS = ("Thumb", "Index", "Middle", "Ring", "Little")
PHALANGES = ("Proximal", "Intermediate", "Distal")
SIDES = ("Left", "Right")

# One side's offsets (left; right is the mirror image, x negated). Comments give the reason.
_CENTRE: dict[str, tuple[str | None, tuple[float, float, float]]] = {
    "Hips": (None, (0.0, 0.95, 0.0)),  # hip height of a 1.6 m figure
    "Spine": ("Hips", (0.0, 0.07, 0.0)),
    "Chest": ("Spine", (0.0, 0.11, 0.0)),
    "UpperChest": ("Chest", (0.0, 0.11, 0.0)),
    "Neck": ("UpperChest", (0.0, 0.12, 0.0)),
    "Head": ("Neck", (0.0, 0.09, 0.0)),
    "Jaw": ("Head", (0.0, -0.02, 0.03)),
}
_LEFT: dict[str, tuple[str, tuple[float, float, float]]] = {
    "LeftEye": ("Head", (0.032, 0.07, 0.08)),  # 64 mm interpupillary distance
    "LeftShoulder": ("UpperChest", (0.02, 0.09, 0.0)),
    "LeftUpperArm": ("LeftShoulder", (0.08, 0.0, 0.0)),
    "LeftLowerArm": ("LeftUpperArm", (0.25, 0.0, 0.0)),
    "LeftHand": ("LeftLowerArm", (0.23, 0.0, 0.0)),
    "LeftUpperLeg": ("Hips", (0.09, -0.05, 0.0)),
    "LeftLowerLeg": ("LeftUpperLeg", (0.0, -0.42, 0.0)),
    "LeftFoot": ("LeftLowerLeg", (0.0, -0.42, 0.0)),
    "LeftToes": ("LeftFoot", (0.0, -0.06, 0.12)),
}
# Finger roots on the hand (palm down: +Y is the back of the hand, +Z the thumb side) and
# phalanx lengths (proximal->intermediate, intermediate->distal, distal->tip).
_FINGER_ROOTS: dict[str, tuple[float, float, float]] = {
    "Thumb": (0.02, -0.01, 0.025),
    "Index": (0.085, 0.0, 0.025),
    "Middle": (0.088, 0.0, 0.008),
    "Ring": (0.085, 0.0, -0.01),
    "Little": (0.078, 0.0, -0.027),
}
FINGER_LENGTHS: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {
        "Thumb": (0.035, 0.03, 0.025),
        "Index": (0.04, 0.025, 0.022),
        "Middle": (0.045, 0.028, 0.024),
        "Ring": (0.042, 0.026, 0.022),
        "Little": (0.032, 0.02, 0.018),
    }
)
# The thumb leaves the palm toward the front at about 45 degrees in a relaxed T-pose hand.
_THUMB_DIRECTION = np.array([1.0, 0.0, 1.0]) / np.sqrt(2.0)


def _left_fingers() -> dict[str, tuple[str, tuple[float, float, float]]]:
    out: dict[str, tuple[str, tuple[float, float, float]]] = {}
    for finger in FINGERS:
        direction = _THUMB_DIRECTION if finger == "Thumb" else np.array([1.0, 0.0, 0.0])
        parent = "LeftHand"
        offset = _FINGER_ROOTS[finger]
        for i, phalanx in enumerate(PHALANGES):
            name = f"Left{finger}{phalanx}"
            out[name] = (parent, offset)
            parent = name
            offset = tuple(float(v) for v in direction * FINGER_LENGTHS[finger][i])  # type: ignore[assignment]
    return out


def _build() -> tuple[Mapping[str, str | None], Mapping[str, NDArray[np.float64]]]:
    parents: dict[str, str | None] = {}
    offsets: dict[str, NDArray[np.float64]] = {}
    for name, (parent, off) in _CENTRE.items():
        parents[name] = parent
        offsets[name] = np.array(off)
    for name, (parent, off) in {**_LEFT, **_left_fingers()}.items():
        right = name.replace("Left", "Right")
        parents[name] = parent
        parents[right] = parent.replace("Left", "Right")
        offsets[name] = np.array(off)
        offsets[right] = np.array((-off[0], off[1], off[2]))
    for v in offsets.values():
        v.setflags(write=False)
    return MappingProxyType(parents), MappingProxyType(offsets)


PARENTS, REST_OFFSETS = _build()
"""``PARENTS[bone]`` is its parent (None for Hips); ``REST_OFFSETS[bone]`` its rest offset."""

BONES: tuple[str, ...] = tuple(PARENTS)
"""All 55 HumanBodyBones names, parents before children."""

FINGER_BONES: tuple[str, ...] = tuple(
    f"{side}{finger}{phalanx}" for side in SIDES for finger in FINGERS for phalanx in PHALANGES
)


def children(bone: str) -> tuple[str, ...]:
    """Direct children of ``bone`` in ``BONES`` order."""
    return tuple(b for b in BONES if PARENTS[b] == bone)


def finger_tip_offset(bone: str) -> NDArray[np.float64]:
    """Offset from a distal phalanx to its fingertip (BVH End Site, forward kinematics)."""
    side = "Left" if bone.startswith("Left") else "Right"
    finger = next(f for f in FINGERS if f in bone)
    direction = _THUMB_DIRECTION if finger == "Thumb" else np.array([1.0, 0.0, 0.0])
    tip = direction * FINGER_LENGTHS[finger][2]
    return tip if side == "Left" else tip * np.array([-1.0, 1.0, 1.0])
