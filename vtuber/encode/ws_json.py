"""AvatarPose -> WebSocket JSON messages, schema 1 (spec: ``docs/protocol.md``, "WebSocket").

Pure: no sockets, no clock, no globals; wall-clock times are passed in. Two messages exist:

* ``hello``, once per connection: which engine, frame and name vocabulary the client gets.
* ``frame``, once per engine frame.

Clients choose a *variant*:

* ``coords="unity"``: positions and rotations through ``vtuber.conventions.internal_to_unity_*``
  (left-handed, +Y up, +Z forward, +X the avatar's right, metres).
* ``coords="gltf"``: the internal frame unchanged (right-handed, +Y up, +Z forward out of the
  face, +X the avatar's left, metres: glTF / VRM 1.0 / three-vrm's normalised humanoid).
* ``names="profile"``: ``pose.blendshapes`` (the avatar profile's names).
* ``names="arkit"``: ``pose.source_blendshapes`` (ARKit-52 names plus visemes aa ih ou ee oh).

Quaternions are ``[x, y, z, w]``. ``head.euler_deg`` is always computed from the *internal*
rotation with ``geometry.to_yaw_pitch_roll`` (R = Ry(yaw) Rx(pitch) Rz(roll)), whatever
``coords`` says: yaw > 0 turns the face toward the avatar's own left, pitch > 0 tips the face
down, roll > 0 tilts the top of the head toward the avatar's own right.

Any change to a field's name or meaning bumps ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike

from vtuber import conventions, geometry
from vtuber.records import AvatarPose

SCHEMA_VERSION = 1
"""Bumped on any change to a field's name or meaning."""

Coords = Literal["unity", "gltf"]
Names = Literal["profile", "arkit"]
COORDS: tuple[str, ...] = get_args(Coords)
NAMES: tuple[str, ...] = get_args(Names)
DEFAULT_COORDS: Coords = "unity"
DEFAULT_NAMES: Names = "profile"

DECIMALS = 6
"""Digits kept after the point: 1e-6 of a unit quaternion or a micrometre; keeps frames small."""

_SEPARATORS = (",", ":")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def encode_hello(
    *,
    engine_version: str,
    coords: Coords,
    names: Names,
    avatar_profile: str,
    bones: Sequence[str],
    rest: Mapping[str, ArrayLike] | None = None,
) -> str:
    """The ``hello`` message sent once when a client connects.

    Args:
        engine_version: the engine's version string (``"0.1.0"``); sent as ``"vtuber <version>"``.
        coords, names: the variant this client gets.
        avatar_profile: the avatar profile's name.
        bones: HumanBodyBones names the engine sends in frames.
        rest: bone -> rotation (internal frame, relative to the T-pose) a client should hold a
            bone at until a frame carries it (``relaxed_rest()``: arms down instead of the
            T-pose); sent as ``"rest": {name: [x, y, z, w]}`` in ``coords``.
    """
    _check_variant(coords, names)
    unity = coords == "unity"
    message = {
        "type": "hello",
        "schema": SCHEMA_VERSION,
        "engine": f"vtuber {engine_version}",
        "coords": coords,
        "names": names,
        "avatar_profile": avatar_profile,
        "bones": list(bones),
        "rest": {name: _rotation(q, unity) for name, q in (rest or {}).items()},
    }
    return json.dumps(message, separators=_SEPARATORS)


def encode_frame(pose: AvatarPose, *, coords: Coords, names: Names, sent_wall_s: float) -> str:
    """The ``frame`` message for one engine frame.

    Args:
        pose: the retargeted pose, internal frame.
        coords: ``"unity"`` or ``"gltf"`` (see module docstring).
        names: ``"profile"`` or ``"arkit"`` blendshape vocabulary.
        sent_wall_s: wall-clock Unix time in seconds when the engine sends this frame.

    Raises:
        ValueError: unknown ``coords`` or ``names``.
    """
    _check_variant(coords, names)
    unity = coords == "unity"
    tracking: dict[str, bool] = {"face": bool(pose.tracked.get("face", False))}
    tracking.update((k, bool(v)) for k, v in pose.tracked.items())
    blend = pose.blendshapes if names == "profile" else pose.source_blendshapes
    root_position = pose.root.position if pose.root.position is not None else np.zeros(3)
    message: dict[str, Any] = {
        "type": "frame",
        "schema": SCHEMA_VERSION,
        "index": int(pose.index),
        "t": _round(pose.t),
        "sent": round(float(sent_wall_s), DECIMALS),
        "tracking": tracking,
        "head": _head(pose, unity),
        "root": {
            "rotation": _rotation(pose.root.rotation, unity),
            "position": _position(root_position, unity),
        },
        "bones": _bone_rotations(pose, unity),
        "blendshapes": {name: round(float(v), DECIMALS) + 0.0 for name, v in blend.items()},
    }
    return json.dumps(message, separators=_SEPARATORS, allow_nan=False)


# ---------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------


def _check_variant(coords: str, names: str) -> None:
    if coords not in COORDS:
        raise ValueError(f"coords must be one of {COORDS}, got {coords!r}")
    if names not in NAMES:
        raise ValueError(f"names must be one of {NAMES}, got {names!r}")


def _head(pose: AvatarPose, unity: bool) -> dict[str, Any] | None:
    if pose.head is None:
        return None
    yaw, pitch, roll = geometry.to_yaw_pitch_roll(pose.head.rotation)
    return {
        "rotation": _rotation(pose.head.rotation, unity),
        "position": _position(pose.head.position, unity),
        "euler_deg": {
            "yaw": _round(math.degrees(yaw)),
            "pitch": _round(math.degrees(pitch)),
            "roll": _round(math.degrees(roll)),
        },
    }


def _bone_rotations(pose: AvatarPose, unity: bool) -> dict[str, dict[str, list[float]]]:
    """``{name: {"rotation": [x, y, z, w]}}`` of every bone: one array conversion for all bones
    (the per-bone path was most of a frame's encoding time), the same rounding as ``_round``."""
    if not pose.bones:
        return {}
    q = np.array([b.rotation for b in pose.bones.values()], dtype=np.float64)
    if unity:
        q = conventions.internal_to_unity_quaternion(q)
    flat = [round(v, DECIMALS) + 0.0 for v in q.ravel().tolist()]
    return {name: {"rotation": flat[4 * i : 4 * i + 4]} for i, name in enumerate(pose.bones)}


def _rotation(q: ArrayLike, unity: bool) -> list[float]:
    values = (
        conventions.internal_to_unity_quaternion(q) if unity else np.asarray(q, dtype=np.float64)
    )
    return [_round(v) for v in values]


def _position(p: ArrayLike, unity: bool) -> list[float]:
    values = conventions.internal_to_unity_position(p) if unity else np.asarray(p, dtype=np.float64)
    return [_round(v) for v in values]


def _round(value: float) -> float:
    """Round to ``DECIMALS``; ``-0.0`` becomes ``0.0`` so equal frames give equal text."""
    return round(float(value), DECIMALS) + 0.0
