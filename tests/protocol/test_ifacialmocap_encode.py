"""iFacialMocap text format (www.ifacialmocap.com/for-developer/, anchors.md section 5).

Expected strings are written from the format description: ``name-value|`` with ARKit names,
``_L``/``_R`` side suffixes, integer 0-100 values, then ``=head#rx,ry,rz,px,py,pz|``,
``rightEye#x,y,z|``, ``leftEye#x,y,z|`` with angles in degrees.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import pytest

from vtuber import geometry
from vtuber.encode import ifacialmocap
from vtuber.encode.ifacialmocap import ARKIT_52, encode_ifacialmocap, wire_name
from vtuber.records import AvatarPose, BoneTransform, HeadPose

ROOT = BoneTransform(rotation=geometry.IDENTITY.copy(), position=np.zeros(3))

# All 52 wire names, in Apple's order, spelled by hand from the iFacialMocap page's rules.
EXPECTED_WIRE_NAMES = ["eyeBlink_L", "eyeLookDown_L", "eyeLookIn_L", "eyeLookOut_L", "eyeLookUp_L", "eyeSquint_L", "eyeWide_L", "eyeBlink_R", "eyeLookDown_R", "eyeLookIn_R", "eyeLookOut_R", "eyeLookUp_R", "eyeSquint_R", "eyeWide_R", "jawForward", "jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmile_L", "mouthSmile_R", "mouthFrown_L", "mouthFrown_R", "mouthDimple_L", "mouthDimple_R", "mouthStretch_L", "mouthStretch_R", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPress_L", "mouthPress_R", "mouthLowerDown_L", "mouthLowerDown_R", "mouthUpperUp_L", "mouthUpperUp_R", "browDown_L", "browDown_R", "browInnerUp", "browOuterUp_L", "browOuterUp_R", "cheekPuff", "cheekSquint_L", "cheekSquint_R", "noseSneer_L", "noseSneer_R", "tongueOut"]


def pose(blendshapes: dict[str, float], head: HeadPose | None = None, bones: dict | None = None) -> AvatarPose:
    return AvatarPose(
        t=0.0, index=0, root=ROOT, bones=MappingProxyType(bones or {}), blendshapes=MappingProxyType({}),
        head=head, source_blendshapes=MappingProxyType(blendshapes),
    )


def test_there_are_52_names_and_their_wire_spellings() -> None:
    assert len(ARKIT_52) == 52 == len(set(ARKIT_52))
    assert [wire_name(n) for n in ARKIT_52] == EXPECTED_WIRE_NAMES


def test_neutral_frame_golden_text() -> None:
    text = encode_ifacialmocap(pose({})).decode("utf-8")
    expected = "".join(f"{n}-0|" for n in EXPECTED_WIRE_NAMES)
    expected += "=head#0.00,0.00,0.00,0.0000,0.0000,0.0000|rightEye#0.00,0.00,0.00|leftEye#0.00,0.00,0.00|"
    assert text == expected


def test_values_are_rounded_percent_integers_and_clamped() -> None:
    text = encode_ifacialmocap(pose({"eyeBlinkLeft": 0.504, "mouthSmileRight": 0.125, "jawOpen": 1.7, "mouthLeft": -0.2})).decode()
    fields = dict(part.split("-") for part in text.split("=")[0].split("|") if part)
    assert fields["eyeBlink_L"] == "50"
    assert fields["mouthSmile_R"] == "12"  # round-half-even of 12.5 -> 12; any integer 0-100 is valid
    assert fields["jawOpen"] == "100"
    assert fields["mouthLeft"] == "0"
    assert all(v.isdigit() and 0 <= int(v) <= 100 for v in fields.values())


def test_head_rotation_and_position_in_arkit_frame() -> None:
    # Known rotation: yaw 20 deg toward the face's own left, pitch 10 deg down, roll 5 deg.
    q = geometry.from_yaw_pitch_roll(math.radians(20), math.radians(10), math.radians(5))
    text = encode_ifacialmocap(pose({}, HeadPose(q, np.array([0.0307, -0.1029, -0.6584])))).decode()
    tail = text.split("=", 1)[1]
    assert tail.startswith("head#10.00,20.00,5.00,0.0307,-0.1029,-0.6584|rightEye#")


def test_eye_rotation_from_blendshapes_per_side() -> None:
    # Both eyes look fully toward the subject's left and half down.
    bs = {"eyeLookOutLeft": 1.0, "eyeLookInRight": 1.0, "eyeLookDownLeft": 0.5, "eyeLookDownRight": 0.5}
    tail = encode_ifacialmocap(pose(bs)).decode().split("=", 1)[1]
    parts = dict(p.split("#") for p in tail.split("|") if p)
    # VMagicMirror reads leftEye y > 0 as LookOut and x > 0 as LookDown.
    pitch = ifacialmocap.EYE_PITCH_MAX_DEG / 2
    yaw = ifacialmocap.EYE_YAW_MAX_DEG
    assert [float(v) for v in parts["leftEye"].split(",")] == pytest.approx([pitch, yaw, 0], abs=0.01)
    assert [float(v) for v in parts["rightEye"].split(",")] == pytest.approx([pitch, yaw, 0], abs=0.01)


def test_eye_bones_win_over_blendshapes() -> None:
    q = geometry.from_axis_angle((1, 0, 0), math.radians(-7))  # looking up
    tail = encode_ifacialmocap(pose({"eyeLookDownLeft": 1.0}, bones={"LeftEye": BoneTransform(q)})).decode().split("=", 1)[1]
    assert "leftEye#-7.00,0.00,0.00|" in tail


def test_frame_parses_like_a_receiver_does() -> None:
    # VMagicMirror's parser: split on '=', blendshapes split on '|' then '-', rotations on '#'.
    text = encode_ifacialmocap(pose({"jawOpen": 0.3})).decode("ascii")
    left, right = text.split("=")
    items = [b.split("-") for b in left.split("|") if b]
    assert len(items) == 52 and all(len(i) == 2 for i in items)
    rot = [r.split("#") for r in right.split("|") if r]
    assert [r[0] for r in rot] == ["head", "rightEye", "leftEye"]
    assert [len(r[1].split(",")) for r in rot] == [6, 3, 3]
