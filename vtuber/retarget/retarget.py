"""Rig -> AvatarPose: mirroring, avatar blendshape names and rest-pose bone offsets (pure).

Mirroring (selfie view) happens here and only here: every rotation is reflected across the
internal YZ plane and every Left/Right name swapped, through ``vtuber.conventions``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import numpy as np

from vtuber import conventions, geometry
from vtuber.records import AvatarPose, BoneTransform, HeadPose, Rig
from vtuber.retarget.profile import AvatarProfile
from vtuber.retarget.skeleton import REST_OFFSETS

_ROOT = BoneTransform(rotation=geometry.IDENTITY.copy(), position=np.zeros(3))


def map_blendshapes(channels: Mapping[str, float], profile: AvatarProfile) -> dict[str, float]:
    """The profile's blendshape names with weights from ``channels`` (missing channels -> 0)."""
    out: dict[str, float] = {}
    get = channels.get
    for target, channel in profile.blendshapes.items():
        value = channel.gain * get(channel.source, 0.0)
        # min(1.0, max(0.0, value)) as comparisons (NaN -> 0.0 as there)
        out[target] = value if 0.0 < value < 1.0 else (1.0 if value >= 1.0 else 0.0)
    return out


def mirror_rig(rig: Rig) -> Rig:
    """The rig as seen in a mirror: rotations reflected, left and right swapped."""
    head = None
    if rig.head is not None:
        head = HeadPose(
            conventions.mirror_quaternion(rig.head.rotation),
            conventions.mirror_position(rig.head.position),
            rig.head.reprojection_error_px,
        )
    return Rig(
        t=rig.t,
        index=rig.index,
        head=head,
        blendshapes=MappingProxyType({conventions.mirror_name(k): v for k, v in rig.blendshapes.items()}),
        bones=MappingProxyType({conventions.mirror_name(k): conventions.mirror_quaternion(q) for k, q in rig.bones.items()}),
        tracked=MappingProxyType({conventions.mirror_name(k): v for k, v in rig.tracked.items()}),
        held=frozenset(conventions.mirror_name(k) for k in rig.held),
    )


def retarget(rig: Rig, profile: AvatarProfile, *, mirror: bool = False) -> AvatarPose:
    """Map a (smoothed) rig onto an avatar profile.

    Args:
        rig: the smoothed rig (internal frame, subject's sides).
        profile: the avatar's blendshape vocabulary.
        mirror: selfie view: the avatar moves like the user's mirror image.
    """
    if mirror:
        rig = mirror_rig(rig)
    rest = REST_OFFSETS.get
    bones = {}
    for name, q in rig.bones.items():
        bones[name] = BoneTransform(q, rest(name))  # (rotation, position)
    return AvatarPose(
        t=rig.t,
        index=rig.index,
        root=_ROOT,
        bones=MappingProxyType(bones),
        blendshapes=MappingProxyType(map_blendshapes(rig.blendshapes, profile)),
        head=rig.head,
        source_blendshapes=rig.blendshapes,
        tracked=rig.tracked,
    )
