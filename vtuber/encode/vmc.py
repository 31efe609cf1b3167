"""AvatarPose -> VMC protocol (OSC 1.0 over UDP) bundles, Performer -> Marionette direction.

Pure: no sockets, no clock, no globals. ``time_s`` is passed in. The wire format is specified in
``docs/protocol.md`` ("VMC"); the reference is sh-akira/VirtualMotionCaptureProtocol V3.1
(see ``/work/shared/reference/anchors.md`` section 3).

What goes on the wire, in this order, packed greedily into OSC bundles of at most
``max_bundle_bytes`` (1472 by default: within the spec's 1500-byte limit, and the largest UDP
payload a 1500-byte Ethernet MTU carries unfragmented after the IPv4 and UDP headers, 20 + 8
bytes; a fragmented datagram is lost whole when any fragment is):

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
from numpy.typing import ArrayLike, NDArray

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

MAX_BUNDLE_BYTES = 1472
"""Bundle size limit: 1500-byte Ethernet MTU - 20 (IPv4 header) - 8 (UDP header); the spec's
own limit is 1500 bytes of bundle, which would fragment on such a link."""

OK_LOADED = 1
OK_CALIB_STATE_CALIBRATED = 3
OK_CALIB_MODE_NORMAL = 0

_BUNDLE_HEADER = b"#bundle\x00" + struct.pack(">Q", 1)  # time tag 1 = "immediately"
_ELEMENT_SIZE = struct.Struct(">i")
_ONE_FLOAT = struct.Struct(">f")
_FOUR_INTS = struct.Struct(">4i")
_BONE_ORDER = {name: i for i, name in enumerate(skeleton.BONES)}
_OK_PREFIX = b"/VMC/Ext/OK\x00"


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
    bone_names = _bone_order(tuple(pose.bones)) if bones else ()
    blend_names = tuple(pose.blendshapes) if blendshapes else ()
    layout = _layout(bone_names, blend_names, blendshapes, status, max_bundle_bytes)
    # every number on Python floats first, then one array: root, bones (position, rotation),
    # blendshapes, time
    root = pose.root
    numbers = _floats(root.position, 3) if root.position is not None else [0.0, 0.0, 0.0]
    numbers += _floats(root.rotation, 4)
    table = pose.bones
    for name in bone_names:
        b = table[name]
        position = b.position if bone_positions and b.position is not None else _rest_offset(name, rest_offsets)
        numbers += _floats(position, 3)
        numbers += _floats(b.rotation, 4)
    if blend_names:
        numbers += pose.blendshapes.values()
    if status:
        numbers.append(time_s)
    values = np.array(numbers, dtype=np.float64)
    values *= layout.unity_signs  # conventions.internal_to_unity_position / _quaternion: sign flips
    values += 0.0  # -0.0 (a negated zero) -> +0.0: stable, readable bytes
    tracking = 1 if status and pose.tracked.get("face", False) else 0
    return layout.fill(values, tracking)


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
# Private helpers: frame layouts
# ---------------------------------------------------------------------------------------------


class _Layout:
    """The bytes of every frame with the same bone names, blendshape names and options.

    Each bundle is a template holding everything constant (headers, sizes, addresses, type tags,
    names) and zeros where the frame's numbers go; every number is a 4-byte OSC ``f`` (or the one
    ``i`` tracking status) at a 4-byte-aligned offset, so a frame is the template with its float32
    words overwritten. Values come in one vector: root (7), bones (7 each), blendshapes, time.
    """

    __slots__ = ("_bundles", "status_word", "unity_signs", "value_count")

    def __init__(
        self,
        bundles: list[tuple[bytes, list[int], int, int]],
        value_count: int,
        status_word: tuple[int, int] | None,
        transform_count: int,
    ) -> None:
        # per bundle: template bytes, word index of each value it holds, first value, end value
        self._bundles = [(np.frombuffer(t, dtype=np.uint8), np.array(w, dtype=np.intp), lo, hi) for t, w, lo, hi in bundles]
        self.value_count = value_count
        self.status_word = status_word  # (bundle, word) of the OK message's tracking status
        self.unity_signs = _unity_signs(transform_count, value_count)
        """Per value, the factor (+-1) that takes it from the internal frame to Unity's."""

    def fill(self, values: NDArray[np.float64], tracking: int) -> list[bytes]:
        out = []
        for k, (template, words, lo, hi) in enumerate(self._bundles):
            buffer = template.copy()
            if hi > lo:
                buffer.view(">f4")[words] = values[lo:hi]
            if self.status_word is not None and self.status_word[0] == k:
                buffer.view(">i4")[self.status_word[1]] = tracking
            out.append(buffer.tobytes())
        return out


@lru_cache(maxsize=64)
def _bone_order(names: tuple[str, ...]) -> tuple[str, ...]:
    """Parents first in ``skeleton.BONES`` order, unknown names after them sorted."""
    return tuple(sorted(names, key=lambda n: (_BONE_ORDER.get(n, len(_BONE_ORDER)), n)))


@lru_cache(maxsize=64)
def _layout(
    bone_names: tuple[str, ...], blend_names: tuple[str, ...], apply: bool, status: bool, max_bundle_bytes: int
) -> _Layout:
    """Messages with zeroed numbers, grouped in units that share a bundle, packed greedily."""
    seven = bytes(28)
    units: list[list[tuple[bytes, int]]] = [[(_transform_prefix(ADDRESS_ROOT_POS, ROOT_NAME) + seven, 7)]]
    units.extend([[(_transform_prefix(ADDRESS_BONE_POS, name) + seven, 7)] for name in bone_names])
    if apply:
        vals = [(_blend_prefix(name) + bytes(4), 1) for name in blend_names]
        units.extend([m] for m in vals[:-1])
        units.append(vals[-1:] + [(_message(ADDRESS_BLEND_APPLY, "", b""), 0)])  # Apply travels with the last Val
    if status:
        units.append([(ok_message(0), 0), (time_message(0.0), 1)])
    bundles: list[tuple[bytes, list[int], int, int]] = []
    packed = pack_bundles([[m for m, _ in unit] for unit in units], max_bundle_bytes)
    value = 0
    unit_iter = iter(units)
    pending: list[tuple[bytes, int]] = []
    status_word = None
    for k, bundle in enumerate(packed):
        offset = len(_BUNDLE_HEADER)
        words: list[int] = []
        lo = value
        while offset < len(bundle):
            if not pending:
                pending = list(next(unit_iter))
            message, count = pending.pop(0)
            offset += 4  # the element size prefix
            end = offset + len(message)
            words.extend(range((end - 4 * count) // 4, end // 4))
            if message.startswith(_OK_PREFIX):
                status_word = (k, end // 4 - 1)
            value += count
            offset = end
        bundles.append((bundle, words, lo, value))
    return _Layout(bundles, value, status_word, 1 + len(bone_names))


def _unity_signs(transform_count: int, value_count: int) -> NDArray[np.float64]:
    """(value_count,) factors: for each of the first ``transform_count`` transforms (position
    x y z, rotation x y z w) the signs of ``conventions.internal_to_unity_position`` and
    ``internal_to_unity_quaternion`` (both reflect the x axis), 1 for the values after them."""
    signs = np.ones(value_count)
    transforms = signs[: 7 * transform_count].reshape(-1, 7)
    transforms[:, :3] = conventions.internal_to_unity_position(transforms[:, :3])
    transforms[:, 3:] = conventions.internal_to_unity_quaternion(transforms[:, 3:])
    signs.setflags(write=False)
    return signs


# ---------------------------------------------------------------------------------------------
# Private helpers: messages
# ---------------------------------------------------------------------------------------------


def _floats(v: ArrayLike, size: int) -> list[float]:
    """A position (``size`` 3) or rotation (4) as a list of Python floats; ValueError for another
    shape."""
    a = v if type(v) is np.ndarray else np.asarray(v, dtype=np.float64)
    if a.shape != (size,):
        raise ValueError(f"expected {size} numbers, got shape {a.shape}")
    return a.tolist()  # type: ignore[no-any-return]


def _rest_offset(name: str, rest_offsets: Mapping[str, ArrayLike] | None) -> ArrayLike:
    if rest_offsets is not None and name in rest_offsets:
        return rest_offsets[name]
    try:
        return skeleton.REST_OFFSETS[name]
    except KeyError:
        raise ValueError(f"bone {name!r} has no position and no rest offset to send") from None


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
