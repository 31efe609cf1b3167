"""AvatarPose -> VMC protocol (OSC 1.0 over UDP) bundles, Performer -> Marionette direction.

Pure: no sockets, no clock, no globals. ``time_s`` is passed in. The wire format is specified in
``docs/protocol.md`` ("VMC"); the reference is sh-akira/VirtualMotionCaptureProtocol V3.1
(see ``/work/shared/reference/anchors.md`` section 3).

What goes on the wire, in this order, packed greedily into OSC bundles of at most
``max_bundle_bytes`` (1500 by default, the spec's limit, so each bundle fits one Ethernet-MTU
UDP datagram after the spec's own accounting):

1. ``/VMC/Ext/Root/Pos``  ``s "root", f px py pz, f qx qy qz qw``
2. ``/VMC/Ext/Bone/Pos``  ``s name, f px py pz, f qx qy qz qw`` for every bone in ``pose.bones``
   (local position = rest offset from the parent in metres, local rotation), in
   ``skeleton.BONES`` order (parents first), unknown-order names after them sorted.
3. ``/VMC/Ext/Blend/Val`` ``s name, f value`` for every blendshape (profile names, case kept).
4. ``/VMC/Ext/Blend/Apply`` (no args), always in the same bundle as the last Val.
5. ``/VMC/Ext/OK`` ``i loaded=1, i calibState=3, i calibMode=0, i trackingStatus``
6. ``/VMC/Ext/T`` ``f time_s``

All positions and rotations go through ``vtuber.conventions.internal_to_unity_*`` (Unity:
left-handed, +Y up, +Z forward, +X the avatar's right, metres, quaternion x y z w). Floats are
OSC ``f`` (big-endian float32) and ints ``i`` (int32): EVMC4U rejects ``d``. Bundle time tags
are ``1`` (OSC "immediately").

The OSC bytes are written here with ``struct`` rather than python-osc's builders: the builders
re-parse every message they build and cost ~1.6 ms per 55-bone frame against ~0.2 ms here;
tests decode the output with python-osc's parser as the independent check.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from vtuber import conventions
from vtuber.records import AvatarPose
from vtuber.retarget import skeleton

# ---------------------------------------------------------------------------------------------
# Protocol constants
# ---------------------------------------------------------------------------------------------

ADDRESS_ROOT_POS = "/VMC/Ext/Root/Pos"
ADDRESS_BONE_POS = "/VMC/Ext/Bone/Pos"
ADDRESS_BLEND_VAL = "/VMC/Ext/Blend/Val"
ADDRESS_BLEND_APPLY = "/VMC/Ext/Blend/Apply"
ADDRESS_OK = "/VMC/Ext/OK"
ADDRESS_TIME = "/VMC/Ext/T"

ROOT_NAME = "root"
"""The spec fixes the Root/Pos name argument to ``"root"``."""

DEFAULT_PORT = 39539
"""Marionette (receiver) port from the VMC spec."""

MAX_BUNDLE_BYTES = 1500
"""The spec's bundle size limit."""

OK_LOADED = 1
OK_CALIB_STATE_CALIBRATED = 3
OK_CALIB_MODE_NORMAL = 0

_BUNDLE_HEADER = b"#bundle\x00" + struct.pack(">Q", 1)  # time tag 1 = "immediately"
_ELEMENT_SIZE = struct.Struct(">i")
_SEVEN_FLOATS = struct.Struct(">7f")
_ONE_FLOAT = struct.Struct(">f")
_FOUR_INTS = struct.Struct(">4i")
_BONE_ORDER = {name: i for i, name in enumerate(skeleton.BONES)}


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def encode_vmc(
    pose: AvatarPose,
    *,
    time_s: float,
    bones: bool = True,
    bone_positions: bool = True,
    blendshapes: bool = True,
    status: bool = True,
    rest_offsets: Mapping[str, ArrayLike] | None = None,
    max_bundle_bytes: int = MAX_BUNDLE_BYTES,
) -> list[bytes]:
    """Encode one frame as VMC OSC bundles, each at most ``max_bundle_bytes`` long.

    Args:
        pose: the retargeted pose, internal frame.
        time_s: sender-relative time in seconds for ``/VMC/Ext/T`` (the engine's clock).
        bones: send ``/VMC/Ext/Bone/Pos`` for every bone in ``pose.bones``.
        bone_positions: when True a bone's position is ``BoneTransform.position`` if set; when
            False per-frame positions are ignored. Either way the fallback is the bone's rest
            offset (``rest_offsets`` then ``skeleton.REST_OFFSETS``), never zeros: EVMC4U applies
            received positions as ``localPosition`` and zeros crumple the avatar.
        blendshapes: send ``/VMC/Ext/Blend/Val`` per blendshape plus one ``/VMC/Ext/Blend/Apply``.
        status: send ``/VMC/Ext/OK`` and ``/VMC/Ext/T``.
        rest_offsets: bone -> rest offset (metres, internal frame) of the real avatar, overriding
            ``skeleton.REST_OFFSETS`` for the bones it names.
        max_bundle_bytes: bundle size limit in bytes.

    Returns:
        OSC bundles (``#bundle`` datagrams) to send in order, one per UDP datagram.

    Raises:
        ValueError: a bone has no position and no known rest offset, or one message alone is
            larger than ``max_bundle_bytes``.
    """
    units: list[list[bytes]] = [[_root_message(pose)]]
    if bones:
        units.extend([m] for m in _bone_messages(pose, bone_positions, rest_offsets))
    if blendshapes:
        vals = [_blend_val(name, value) for name, value in pose.blendshapes.items()]
        apply = _message(ADDRESS_BLEND_APPLY, "", b"")
        units.extend([m] for m in vals[:-1])
        units.append(vals[-1:] + [apply])  # Apply travels with the last Val
    if status:
        tracking = 1 if pose.tracked.get("face", False) else 0
        units.append([ok_message(tracking), time_message(time_s)])
    return pack_bundles(units, max_bundle_bytes)


def ok_message(tracking_status: int) -> bytes:
    """``/VMC/Ext/OK i 1, i 3, i 0, i tracking_status`` (loaded, calibrated, normal mode)."""
    args = _FOUR_INTS.pack(
        OK_LOADED, OK_CALIB_STATE_CALIBRATED, OK_CALIB_MODE_NORMAL, tracking_status
    )
    return _message(ADDRESS_OK, "iiii", args)


def time_message(time_s: float) -> bytes:
    """``/VMC/Ext/T f time_s``."""
    return _message(ADDRESS_TIME, "f", _ONE_FLOAT.pack(time_s))


def pack_bundles(
    units: Iterable[Sequence[bytes]], max_bundle_bytes: int = MAX_BUNDLE_BYTES
) -> list[bytes]:
    """Pack OSC messages into bundles greedily, in order, never splitting a unit.

    Args:
        units: groups of encoded OSC messages; each group lands in a single bundle.
        max_bundle_bytes: limit for a whole bundle (header, size prefixes and messages).

    Raises:
        ValueError: one unit does not fit in an empty bundle.
    """
    bundles: list[bytes] = []
    parts: list[bytes] = [_BUNDLE_HEADER]
    size = len(_BUNDLE_HEADER)
    for unit in units:
        unit_size = sum(4 + len(m) for m in unit)
        if len(_BUNDLE_HEADER) + unit_size > max_bundle_bytes:
            raise ValueError(
                f"an OSC message group of {unit_size} bytes exceeds {max_bundle_bytes}"
            )
        if size + unit_size > max_bundle_bytes:
            bundles.append(b"".join(parts))
            parts, size = [_BUNDLE_HEADER], len(_BUNDLE_HEADER)
        for m in unit:
            parts.append(_ELEMENT_SIZE.pack(len(m)))
            parts.append(m)
        size += unit_size
    if len(parts) > 1:
        bundles.append(b"".join(parts))
    return bundles


# ---------------------------------------------------------------------------------------------
# Private helpers: messages
# ---------------------------------------------------------------------------------------------


def _root_message(pose: AvatarPose) -> bytes:
    position = pose.root.position if pose.root.position is not None else np.zeros(3)
    return _transform_message(ADDRESS_ROOT_POS, ROOT_NAME, position, pose.root.rotation)


def _bone_messages(
    pose: AvatarPose, bone_positions: bool, rest_offsets: Mapping[str, ArrayLike] | None
) -> list[bytes]:
    names = sorted(pose.bones, key=lambda n: (_BONE_ORDER.get(n, len(_BONE_ORDER)), n))
    out = []
    for name in names:
        bone = pose.bones[name]
        position = bone.position if bone_positions else None
        if position is None:
            position = _rest_offset(name, rest_offsets)
        out.append(_transform_message(ADDRESS_BONE_POS, name, position, bone.rotation))
    return out


def _rest_offset(name: str, rest_offsets: Mapping[str, ArrayLike] | None) -> ArrayLike:
    if rest_offsets is not None and name in rest_offsets:
        return rest_offsets[name]
    try:
        return skeleton.REST_OFFSETS[name]
    except KeyError:
        raise ValueError(f"bone {name!r} has no position and no rest offset to send") from None


def _transform_message(address: str, name: str, position: ArrayLike, rotation: ArrayLike) -> bytes:
    # "+ 0.0" turns the -0.0 a negated zero would become into +0.0: stable, readable bytes.
    p = conventions.internal_to_unity_position(position) + 0.0
    q = conventions.internal_to_unity_quaternion(rotation) + 0.0
    px, py, pz = p.tolist()
    qx, qy, qz, qw = q.tolist()
    return _transform_prefix(address, name) + _SEVEN_FLOATS.pack(px, py, pz, qx, qy, qz, qw)


def _blend_val(name: str, value: float) -> bytes:
    return _blend_prefix(name) + _ONE_FLOAT.pack(value)


@lru_cache(maxsize=4096)
def _transform_prefix(address: str, name: str) -> bytes:
    """Address, type tags and name of a ``sfffffff`` transform message (the same every frame)."""
    return _message(address, "sfffffff", _osc_string(name))


@lru_cache(maxsize=4096)
def _blend_prefix(name: str) -> bytes:
    """Address, type tags and name of a ``/VMC/Ext/Blend/Val`` message (the same every frame)."""
    return _message(ADDRESS_BLEND_VAL, "sf", _osc_string(name))


# ---------------------------------------------------------------------------------------------
# Private helpers: OSC 1.0 encoding
# ---------------------------------------------------------------------------------------------


def _osc_string(text: str) -> bytes:
    """UTF-8, NUL-terminated, padded with NULs to a multiple of 4 bytes (OSC 1.0 string)."""
    raw = text.encode("utf-8") + b"\x00"
    return raw + b"\x00" * (-len(raw) % 4)


def _message(address: str, type_tags: str, args: bytes) -> bytes:
    """An OSC message: address, type tag string (``,`` + tags), already-encoded arguments."""
    return _osc_string(address) + _osc_string("," + type_tags) + args
