"""WebSocket JSON encoder, schema 1: fields, coords and names variants, null head, hello.

Browser and Unity clients are written against this shape: a change here bumps SCHEMA_VERSION and
docs/protocol.md in the same commit.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vtuber import conventions, geometry
from vtuber.encode.ws_json import SCHEMA_VERSION, Coords, Names, encode_frame, encode_hello
from vtuber.records import AvatarPose, BoneTransform, HeadPose
from vtuber.retarget import skeleton

TOL = 1e-5
FRAME_KEYS = {
    "type",
    "schema",
    "index",
    "t",
    "sent",
    "tracking",
    "head",
    "root",
    "bones",
    "blendshapes",
}


def make_pose(*, head: bool = True) -> AvatarPose:
    rng = np.random.default_rng(3)
    bones = {
        n: BoneTransform(geometry.normalize(rng.normal(size=4)))
        for n in ("Head", "Neck", "LeftHand")
    }
    head_pose = HeadPose(
        rotation=geometry.from_yaw_pitch_roll(math.radians(30), math.radians(-10), math.radians(5)),
        position=np.array([0.05, 0.1, -0.6]),
    )
    return AvatarPose(
        t=12.3456789,
        index=77,
        root=BoneTransform(geometry.from_axis_angle((0, 1, 0), 0.4), np.array([0.2, 0.0, 0.1])),
        bones=bones,
        blendshapes={"Blink_L": 0.25, "A": 0.5},
        head=head_pose if head else None,
        source_blendshapes={"eyeBlinkLeft": 0.25, "jawOpen": 0.5, "aa": 0.4},
        tracked={"face": True, "left_hand": False},
    )


def frame(pose: AvatarPose, coords: Coords = "unity", names: Names = "profile") -> dict:
    text = encode_frame(pose, coords=coords, names=names, sent_wall_s=1_700_000_000.123456)
    assert "\n" not in text and ": " not in text  # compact
    return json.loads(text)


def test_frame_schema_fields() -> None:
    pose = make_pose()
    msg = frame(pose)
    assert set(msg) == FRAME_KEYS
    assert msg["type"] == "frame" and msg["schema"] == SCHEMA_VERSION == 1
    assert msg["index"] == 77
    assert msg["t"] == pytest.approx(12.345679, abs=1e-6)
    assert msg["sent"] == pytest.approx(1_700_000_000.123456, abs=1e-6)
    assert msg["tracking"] == {"face": True, "left_hand": False}
    assert set(msg["head"]) == {"rotation", "position", "euler_deg"}
    assert set(msg["root"]) == {"rotation", "position"}
    assert set(msg["bones"]) == {"Head", "Neck", "LeftHand"}
    assert all(set(b) == {"rotation"} and len(b["rotation"]) == 4 for b in msg["bones"].values())


def test_unity_coords_go_through_conventions() -> None:
    pose = make_pose()
    msg = frame(pose, coords="unity")
    for name, bone in pose.bones.items():
        np.testing.assert_allclose(
            msg["bones"][name]["rotation"],
            conventions.internal_to_unity_quaternion(bone.rotation),
            atol=TOL,
        )
    np.testing.assert_allclose(
        msg["root"]["rotation"],
        conventions.internal_to_unity_quaternion(pose.root.rotation),
        atol=TOL,
    )
    np.testing.assert_allclose(msg["root"]["position"], [-0.2, 0.0, 0.1], atol=TOL)
    np.testing.assert_allclose(
        msg["head"]["rotation"],
        conventions.internal_to_unity_quaternion(pose.head.rotation),
        atol=TOL,
    )
    np.testing.assert_allclose(msg["head"]["position"], [-0.05, 0.1, -0.6], atol=TOL)


def test_gltf_coords_are_the_internal_frame_unchanged() -> None:
    pose = make_pose()
    msg = frame(pose, coords="gltf")
    for name, bone in pose.bones.items():
        np.testing.assert_allclose(msg["bones"][name]["rotation"], bone.rotation, atol=TOL)
    np.testing.assert_allclose(msg["root"]["rotation"], pose.root.rotation, atol=TOL)
    np.testing.assert_allclose(msg["root"]["position"], [0.2, 0.0, 0.1], atol=TOL)
    np.testing.assert_allclose(msg["head"]["position"], [0.05, 0.1, -0.6], atol=TOL)


def test_euler_degrees_are_internal_and_identical_for_both_coords() -> None:
    pose = make_pose()
    coords: Coords
    for coords in ("unity", "gltf"):
        euler = frame(pose, coords=coords)["head"]["euler_deg"]
        assert euler["yaw"] == pytest.approx(30.0, abs=1e-4)
        assert euler["pitch"] == pytest.approx(-10.0, abs=1e-4)
        assert euler["roll"] == pytest.approx(5.0, abs=1e-4)


def test_names_variants() -> None:
    pose = make_pose()
    assert frame(pose, names="profile")["blendshapes"] == {"Blink_L": 0.25, "A": 0.5}
    assert frame(pose, names="arkit")["blendshapes"] == {
        "eyeBlinkLeft": 0.25,
        "jawOpen": 0.5,
        "aa": 0.4,
    }


def test_null_head_and_face_defaults_to_false() -> None:
    pose = make_pose(head=False)
    pose = AvatarPose(
        t=pose.t,
        index=pose.index,
        root=BoneTransform(geometry.IDENTITY),
        bones=pose.bones,
        blendshapes=pose.blendshapes,
        head=None,
        tracked={},
    )
    msg = frame(pose)
    assert msg["head"] is None
    assert msg["tracking"] == {"face": False}
    assert msg["root"]["position"] == [0.0, 0.0, 0.0]


def test_floats_are_rounded_and_never_negative_zero() -> None:
    pose = make_pose()
    text = encode_frame(pose, coords="unity", names="profile", sent_wall_s=0.0)
    assert "-0.0," not in text and "-0.0]" not in text
    for value in json.loads(text)["bones"]["Head"]["rotation"]:
        assert round(value, 6) == value


def test_unknown_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="coords"):
        encode_frame(make_pose(), coords="unreal", names="profile", sent_wall_s=0.0)  # type: ignore
    with pytest.raises(ValueError, match="names"):
        encode_frame(make_pose(), coords="gltf", names="vrm", sent_wall_s=0.0)  # type: ignore


def test_nan_is_refused_rather_than_sent() -> None:
    pose = make_pose()
    bad = AvatarPose(
        t=pose.t, index=0, root=pose.root, bones=pose.bones, blendshapes={"A": float("nan")}
    )
    with pytest.raises(ValueError):
        encode_frame(bad, coords="unity", names="profile", sent_wall_s=0.0)


def test_hello() -> None:
    msg = json.loads(
        encode_hello(
            engine_version="0.1.0",
            coords="gltf",
            names="arkit",
            avatar_profile="vroid_default",
            bones=skeleton.BONES,
        )
    )
    assert msg == {
        "type": "hello",
        "schema": 1,
        "engine": "vtuber 0.1.0",
        "coords": "gltf",
        "names": "arkit",
        "avatar_profile": "vroid_default",
        "bones": list(skeleton.BONES),
        "rest": {},
    }


def test_hello_rest_is_sent_in_the_clients_coords() -> None:
    """A known rest rotation (90 degrees about the internal +Z) as glTF (the internal frame) and
    as Unity (through the conventions module), rounded like frames."""
    turned = geometry.from_axis_angle([0.0, 0.0, 1.0], np.pi / 2)
    rest = {}
    for coords in ("gltf", "unity"):
        text = encode_hello(engine_version="0.1.0", coords=coords, names="profile", avatar_profile="p", bones=["LeftUpperArm"], rest={"LeftUpperArm": turned})
        rest[coords] = json.loads(text)["rest"]["LeftUpperArm"]
    np.testing.assert_allclose(rest["gltf"], [0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    np.testing.assert_allclose(rest["unity"], conventions.internal_to_unity_quaternion(turned), atol=1e-6)
    assert rest["unity"] != rest["gltf"]


def test_frame_size_of_a_full_pose_is_modest() -> None:
    """55 bones + 52 blendshapes stay around 6 KB (size check; update docs if it grows)."""
    rng = np.random.default_rng(0)
    bones = {n: BoneTransform(geometry.normalize(rng.normal(size=4))) for n in skeleton.BONES}
    pose = AvatarPose(
        t=1.0,
        index=1,
        root=BoneTransform(geometry.IDENTITY),
        bones=bones,
        blendshapes={f"blendshape{i:02d}": float(rng.random()) for i in range(52)},
        head=make_pose().head,
        tracked={"face": True},
    )
    assert 4000 < len(encode_frame(pose, coords="unity", names="profile", sent_wall_s=1.7e9)) < 7000
