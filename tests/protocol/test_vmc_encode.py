"""VMC encoder: bundle sizes, round trip through python-osc's parser, order, types, golden bytes.

If a change here changes the bytes on the wire, update docs/protocol.md in the same commit.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.parsing import osc_types

from vtuber import conventions, geometry
from vtuber.encode import vmc
from vtuber.encode.vmc import encode_vmc
from vtuber.records import AvatarPose, BoneTransform, HeadPose
from vtuber.retarget import skeleton

TOL = 1e-4

# ARKit-like names of realistic length, 60 of them.
BLEND_NAMES = [
    f"{base}{side}"
    for base in (
        "eyeBlink",
        "eyeLookDown",
        "eyeLookIn",
        "eyeLookOut",
        "eyeLookUp",
        "eyeSquint",
        "eyeWide",
        "browDown",
        "browOuterUp",
        "cheekSquint",
        "mouthSmile",
        "mouthFrown",
        "mouthDimple",
        "mouthStretch",
        "mouthPress",
        "mouthLowerDown",
        "mouthUpperUp",
        "noseSneer",
        "jawSide",
        "mouthSide",
    )
    for side in ("Left", "Right")
] + [
    "jawOpen",
    "jawForward",
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "browInnerUp",
    "cheekPuff",
    "tongueOut",
    "aa",
    "ih",
    "ou",
    "ee",
    "oh",
    "Neutral",
    "Joy",
    "Sorrow",
]


# ---------------------------------------------------------------------------------------------
# Fixtures and an independent decoder (python-osc's parser)
# ---------------------------------------------------------------------------------------------


def full_pose(face: bool = True) -> AvatarPose:
    """All 55 bones with random rotations (half with explicit positions) and 60 blendshapes."""
    rng = np.random.default_rng(7)
    bones = {}
    for i, name in enumerate(skeleton.BONES):
        q = geometry.normalize(rng.normal(size=4))
        position = rng.normal(size=3) * 0.1 if i % 2 else None
        bones[name] = BoneTransform(rotation=q, position=position)
    assert len(BLEND_NAMES) == 60
    blend = {name: float(rng.random()) for name in BLEND_NAMES}
    root = BoneTransform(geometry.normalize(rng.normal(size=4)), np.array([0.1, 0.0, -0.2]))
    head = HeadPose(rotation=geometry.IDENTITY, position=np.array([0.0, 0.0, -0.6]))
    return AvatarPose(
        t=12.5,
        index=42,
        root=root,
        bones=bones,
        blendshapes=blend,
        head=head,
        tracked={"face": face},
    )


def decode(bundle: bytes) -> list[tuple[str, str, list]]:
    """(address, type tags without the comma, params) of every message in one bundle."""
    assert OscBundle.dgram_is_bundle(bundle)
    parsed = OscBundle(bundle)
    assert parsed.timestamp == osc_types.IMMEDIATELY
    out = []
    for msg in parsed:
        _, index = osc_types.get_string(msg.dgram, 0)
        tags, _ = osc_types.get_string(msg.dgram, index)
        out.append((msg.address, tags[1:], list(msg.params)))
    return out


def decode_all(bundles: list[bytes]) -> list[tuple[int, str, str, list]]:
    return [(i, *m) for i, b in enumerate(bundles) for m in decode(b)]


def f32(x: float) -> float:
    return struct.unpack(">f", struct.pack(">f", x))[0]


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_bundles_fit_one_unfragmented_datagram_and_round_trip_every_bone_and_blendshape() -> None:
    pose = full_pose()
    bundles = encode_vmc(pose, time_s=3.25)
    assert vmc.MAX_BUNDLE_BYTES == 1500 - 20 - 8 and all(len(b) <= vmc.MAX_BUNDLE_BYTES for b in bundles)
    assert 4 <= len(bundles) <= 7  # 55 bones ~ 4 bundles, 60 blendshapes ~ 2
    messages = decode_all(bundles)

    root = [m for m in messages if m[1] == vmc.ADDRESS_ROOT_POS]
    assert len(root) == 1 and messages[0] == root[0]
    _, _, tags, params = root[0]
    assert tags == "sfffffff" and params[0] == "root"
    np.testing.assert_allclose(
        conventions.unity_to_internal_position(params[1:4]), pose.root.position, atol=TOL
    )
    np.testing.assert_allclose(
        conventions.unity_to_internal_quaternion(params[4:8]), pose.root.rotation, atol=TOL
    )

    bones = {m[3][0]: m[3][1:] for m in messages if m[1] == vmc.ADDRESS_BONE_POS}
    assert len([m for m in messages if m[1] == vmc.ADDRESS_BONE_POS]) == 55
    assert set(bones) == set(skeleton.BONES)
    for name, bone in pose.bones.items():
        expected_p = bone.position if bone.position is not None else skeleton.REST_OFFSETS[name]
        got_p = conventions.unity_to_internal_position(bones[name][0:3])
        got_q = conventions.unity_to_internal_quaternion(bones[name][3:7])
        np.testing.assert_allclose(got_p, expected_p, atol=TOL, err_msg=name)
        np.testing.assert_allclose(got_q, bone.rotation, atol=TOL, err_msg=name)

    vals = {m[3][0]: m[3][1] for m in messages if m[1] == vmc.ADDRESS_BLEND_VAL}
    assert vals.keys() == pose.blendshapes.keys()
    for name, value in pose.blendshapes.items():
        assert vals[name] == pytest.approx(value, abs=TOL)

    ok = [m for m in messages if m[1] == vmc.ADDRESS_OK]
    t = [m for m in messages if m[1] == vmc.ADDRESS_TIME]
    assert [(m[2], m[3]) for m in ok] == [("iiii", [1, 3, 0, 1])]
    assert [(m[2], m[3]) for m in t] == [("f", [3.25])]


def test_apply_once_after_all_vals_in_the_last_blend_bundle() -> None:
    messages = decode_all(encode_vmc(full_pose(), time_s=0.0))
    addresses = [m[1] for m in messages]
    assert addresses.count(vmc.ADDRESS_BLEND_APPLY) == 1
    apply_at = addresses.index(vmc.ADDRESS_BLEND_APPLY)
    last_val_at = max(i for i, a in enumerate(addresses) if a == vmc.ADDRESS_BLEND_VAL)
    assert apply_at == last_val_at + 1
    assert messages[apply_at][0] == messages[last_val_at][0]  # same bundle
    assert messages[apply_at][2:] == ("", [])
    # Order of kinds: root, bones, vals, apply, OK, T.
    kinds = [a for i, a in enumerate(addresses) if i == 0 or a != addresses[i - 1]]
    assert kinds == [
        vmc.ADDRESS_ROOT_POS,
        vmc.ADDRESS_BONE_POS,
        vmc.ADDRESS_BLEND_VAL,
        vmc.ADDRESS_BLEND_APPLY,
        vmc.ADDRESS_OK,
        vmc.ADDRESS_TIME,
    ]


def test_only_f_i_s_types_on_the_wire() -> None:
    for _, _, tags, _ in decode_all(encode_vmc(full_pose(), time_s=1.0)):
        assert set(tags) <= {"f", "i", "s"}


def test_bones_come_parents_first_in_skeleton_order() -> None:
    messages = decode_all(encode_vmc(full_pose(), time_s=1.0))
    names = [m[3][0] for m in messages if m[1] == vmc.ADDRESS_BONE_POS]
    assert names == list(skeleton.BONES)


def test_tracking_status_follows_face() -> None:
    messages = decode_all(encode_vmc(full_pose(face=False), time_s=1.0))
    assert [m[3] for m in messages if m[1] == vmc.ADDRESS_OK] == [[1, 3, 0, 0]]


def test_position_fallbacks_are_rest_offsets_never_zero() -> None:
    q = geometry.IDENTITY
    pose = AvatarPose(
        t=0.0,
        index=0,
        root=BoneTransform(q),
        blendshapes={},
        bones={"LeftHand": BoneTransform(q, np.array([0.3, 0.0, 0.0])), "Neck": BoneTransform(q)},
    )

    def positions(**kwargs: object) -> dict[str, np.ndarray]:
        msgs = decode_all(encode_vmc(pose, time_s=0.0, **kwargs))  # type: ignore[arg-type]
        return {
            m[3][0]: conventions.unity_to_internal_position(m[3][1:4])
            for m in msgs
            if m[1] == vmc.ADDRESS_BONE_POS
        }

    got = positions()
    np.testing.assert_allclose(got["LeftHand"], [0.3, 0.0, 0.0], atol=TOL)
    np.testing.assert_allclose(got["Neck"], skeleton.REST_OFFSETS["Neck"], atol=TOL)
    assert np.linalg.norm(got["Neck"]) > 0.05

    got = positions(bone_positions=False)
    np.testing.assert_allclose(got["LeftHand"], skeleton.REST_OFFSETS["LeftHand"], atol=TOL)

    got = positions(rest_offsets={"Neck": np.array([0.0, 0.2, 0.01])})
    np.testing.assert_allclose(got["Neck"], [0.0, 0.2, 0.01], atol=TOL)


def test_options_leave_out_parts() -> None:
    addresses = {
        m[1]
        for m in decode_all(encode_vmc(full_pose(), time_s=0.0, bones=False, blendshapes=False))
    }
    assert addresses == {vmc.ADDRESS_ROOT_POS, vmc.ADDRESS_OK, vmc.ADDRESS_TIME}
    addresses = {m[1] for m in decode_all(encode_vmc(full_pose(), time_s=0.0, status=False))}
    assert vmc.ADDRESS_OK not in addresses and vmc.ADDRESS_TIME not in addresses


def test_unknown_bone_without_position_is_an_error() -> None:
    pose = AvatarPose(
        t=0.0,
        index=0,
        root=BoneTransform(geometry.IDENTITY),
        blendshapes={},
        bones={"Tail": BoneTransform(geometry.IDENTITY)},
    )
    with pytest.raises(ValueError, match="Tail"):
        encode_vmc(pose, time_s=0.0)


def test_too_small_bundle_limit_is_an_error() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        encode_vmc(full_pose(), time_s=0.0, max_bundle_bytes=64)


# ---------------------------------------------------------------------------------------------
# Golden bytes
# ---------------------------------------------------------------------------------------------

# fmt: off
GOLDEN_TINY = b"".join([
    b"#bundle\x00", b"\x00\x00\x00\x00\x00\x00\x00\x01",          # header, time tag 1 = immediately
    b"\x00\x00\x00\x44",                                           # 68-byte message:
    b"/VMC/Ext/Root/Pos\x00\x00\x00", b",sfffffff\x00\x00\x00", b"root\x00\x00\x00\x00",
    b"\x00\x00\x00\x00" * 6, b"\x3f\x80\x00\x00",                  # pos 0 0 0, quat 0 0 0 1
    b"\x00\x00\x00\x44",                                           # 68-byte message:
    b"/VMC/Ext/Bone/Pos\x00\x00\x00", b",sfffffff\x00\x00\x00", b"Head\x00\x00\x00\x00",
    b"\xbe\x80\x00\x00", b"\x3f\x00\x00\x00", b"\x00\x00\x00\x00", # pos -0.25 0.5 0 (x negated)
    b"\x00\x00\x00\x00", b"\xbf\x19\x99\x9a", b"\x00\x00\x00\x00", # quat 0 -0.6 0 (y, z negated)
    b"\x3f\x4c\xcc\xcd",                                           # w 0.8
    b"\x00\x00\x00\x24",                                           # 36-byte message:
    b"/VMC/Ext/Blend/Val\x00\x00", b",sf\x00", b"Blink\x00\x00\x00", b"\x3f\x00\x00\x00",
    b"\x00\x00\x00\x1c",                                           # 28-byte message:
    b"/VMC/Ext/Blend/Apply\x00\x00\x00\x00", b",\x00\x00\x00",
    b"\x00\x00\x00\x24",                                           # 36-byte message:
    b"/VMC/Ext/OK\x00", b",iiii\x00\x00\x00",
    b"\x00\x00\x00\x01", b"\x00\x00\x00\x03", b"\x00\x00\x00\x00", b"\x00\x00\x00\x01",
    b"\x00\x00\x00\x14",                                           # 20-byte message:
    b"/VMC/Ext/T\x00\x00", b",f\x00\x00", b"\x40\x00\x00\x00",     # time 2.0
])
# fmt: on


def tiny_pose() -> AvatarPose:
    head = BoneTransform(
        rotation=np.array([0.0, 0.6, 0.0, 0.8]), position=np.array([0.25, 0.5, 0.0])
    )
    return AvatarPose(
        t=0.0,
        index=0,
        root=BoneTransform(geometry.IDENTITY),
        bones={"Head": head},
        blendshapes={"Blink": 0.5},
        tracked={"face": True},
    )


def test_golden_bytes_of_a_tiny_pose() -> None:
    assert encode_vmc(tiny_pose(), time_s=2.0) == [GOLDEN_TINY]


def test_golden_bytes_decode_to_the_tiny_pose() -> None:
    assert decode(GOLDEN_TINY) == [
        (vmc.ADDRESS_ROOT_POS, "sfffffff", ["root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]),
        (
            vmc.ADDRESS_BONE_POS,
            "sfffffff",
            ["Head", -0.25, 0.5, 0.0, 0.0, f32(-0.6), 0.0, f32(0.8)],
        ),
        (vmc.ADDRESS_BLEND_VAL, "sf", ["Blink", 0.5]),
        (vmc.ADDRESS_BLEND_APPLY, "", []),
        (vmc.ADDRESS_OK, "iiii", [1, 3, 0, 1]),
        (vmc.ADDRESS_TIME, "f", [2.0]),
    ]


def test_bundle_sizes_are_stable() -> None:
    """Size/shape is stable: if this changes, update docs/protocol.md (and unity_bridge/)."""
    sizes = [len(b) for b in encode_vmc(full_pose(), time_s=0.0)]
    assert sizes == [
        1452,
        1412,
        1452,
        1432,
        1456,
        300,
    ]  # root+18 bones, 17, 17, 3 bones+24 vals, 31 vals, 5 vals+Apply+OK+T
