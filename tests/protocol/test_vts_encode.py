"""VTube Studio API messages (DenchiSoft/VTubeStudio README): envelope, auth, injection values."""

from __future__ import annotations

import json
import math
from types import MappingProxyType

import numpy as np
import pytest

from vtuber import geometry
from vtuber.encode import vts
from vtuber.records import AvatarPose, BoneTransform, HeadPose

ROOT = BoneTransform(rotation=geometry.IDENTITY.copy(), position=np.zeros(3))


def pose(bs: dict[str, float], head: HeadPose | None = None) -> AvatarPose:
    return AvatarPose(0.0, 0, ROOT, MappingProxyType({}), MappingProxyType({}), head=head, source_blendshapes=MappingProxyType(bs))


def test_envelope_golden() -> None:
    assert json.loads(vts.api_state_request("r1")) == {
        "apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0", "requestID": "r1", "messageType": "APIStateRequest",
    }


def test_token_and_authentication_requests_golden() -> None:
    assert json.loads(vts.token_request("vtuber", "vtuber engine", "t1")) == {
        "apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0", "requestID": "t1",
        "messageType": "AuthenticationTokenRequest", "data": {"pluginName": "vtuber", "pluginDeveloper": "vtuber engine"},
    }
    assert json.loads(vts.authentication_request("vtuber", "vtuber engine", "abc", "a1"))["data"] == {
        "pluginName": "vtuber", "pluginDeveloper": "vtuber engine", "authenticationToken": "abc",
    }


def test_request_rules() -> None:
    with pytest.raises(ValueError, match="requestID"):
        vts.request("APIStateRequest", None, "x" * 65)
    with pytest.raises(ValueError, match="pluginName"):
        vts.token_request("ab", "developer", "r")


def test_inject_request_golden() -> None:
    text = vts.inject_request({"FaceAngleX": 12.31, "MouthOpen": 0.5}, face_found=True, request_id="i7")
    assert json.loads(text) == {
        "apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0", "requestID": "i7",
        "messageType": "InjectParameterDataRequest",
        "data": {"faceFound": True, "mode": "set", "parameterValues": [
            {"id": "FaceAngleX", "value": 12.31}, {"id": "MouthOpen", "value": 0.5}]},
    }


def test_neutral_face_parameters() -> None:
    bs = {n: 0.0 for n in ("jawOpen", "mouthSmileLeft", "mouthSmileRight", "eyeBlinkLeft", "eyeBlinkRight",
                           "eyeLookInLeft", "eyeLookInRight", "browDownLeft", "browDownRight", "browInnerUp",
                           "cheekPuff", "tongueOut", "mouthLeft", "mouthRight")}
    p = vts.tracking_parameters(pose(bs, HeadPose(geometry.IDENTITY.copy(), np.array([0.0, 0.0, -0.6]))))
    expected = {
        "FaceAngleX": 0, "FaceAngleY": 0, "FaceAngleZ": 0, "FacePositionX": 0, "FacePositionY": 0, "FacePositionZ": 0,
        "MouthOpen": 0, "MouthSmile": 0.5, "MouthX": 0, "EyeOpenLeft": 1, "EyeOpenRight": 1,
        "EyeLeftX": 0, "EyeLeftY": 0, "EyeRightX": 0, "EyeRightY": 0,
        "BrowLeftY": 0.5, "BrowRightY": 0.5, "Brows": 0.5, "CheekPuff": 0, "TongueOut": 0,
    }
    assert p == pytest.approx(expected)


def test_expressive_face_parameters() -> None:
    head = HeadPose(geometry.from_yaw_pitch_roll(math.radians(20), math.radians(-10), 0.0), np.array([0.05, 0.0, -0.5]))
    bs = {"jawOpen": 0.8, "mouthSmileLeft": 1.0, "mouthSmileRight": 1.0, "eyeBlinkLeft": 1.0, "eyeBlinkRight": 0.25,
          "eyeLookOutLeft": 0.5, "eyeLookInRight": 0.5, "eyeLookUpLeft": 0.2, "eyeLookUpRight": 0.2,
          "browOuterUpLeft": 1.0, "browDownRight": 1.0}
    p = vts.tracking_parameters(pose(bs, head))
    # Turned 20 deg to its own left = screen right (+X), looking 10 deg up (+Y), 5 cm left, 10 cm closer.
    assert (p["FaceAngleX"], p["FaceAngleY"], p["FaceAngleZ"]) == pytest.approx((20, 10, 0), abs=1e-6)
    assert (p["FacePositionX"], p["FacePositionZ"]) == pytest.approx((5, 10))
    assert p["MouthOpen"] == pytest.approx(0.8)
    assert p["MouthSmile"] == pytest.approx(1.0)
    assert (p["EyeOpenLeft"], p["EyeOpenRight"]) == pytest.approx((0.0, 0.75))
    # Both eyes look to the subject's left = the screen's right, and up.
    assert (p["EyeLeftX"], p["EyeLeftY"], p["EyeRightX"], p["EyeRightY"]) == pytest.approx((0.5, 0.2, 0.5, 0.2))
    assert (p["BrowLeftY"], p["BrowRightY"]) == pytest.approx((1.0, 0.0))


def test_missing_channels_are_left_out() -> None:
    assert vts.tracking_parameters(pose({})) == {}
    assert set(vts.tracking_parameters(pose({"jawOpen": 0.1}))) == {"MouthOpen"}


def test_parse_response() -> None:
    msg = '{"apiName":"VTubeStudioPublicAPI","apiVersion":"1.0","timestamp":1,"requestID":"x","messageType":"APIError","data":{"errorID":50}}'
    assert vts.parse_response(msg) == ("APIError", "x", {"errorID": 50})
    with pytest.raises(ValueError):
        vts.parse_response("nope")
