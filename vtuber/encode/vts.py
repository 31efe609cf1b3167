"""AvatarPose -> VTube Studio public API messages (DenchiSoft/VTubeStudio README, API 1.0).

Pure: no sockets, no clock; request IDs are passed in. Every message is the documented envelope::

    {"apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0", "requestID": "...",
     "messageType": "...", "data": {...}}

``tracking_parameters`` computes VTube Studio's *default tracking input parameters* from a pose
(the ones its own face tracking fills, so every model's existing mapping just works):

==================  ===========  ==============================================================
parameter           range        from
==================  ===========  ==============================================================
FaceAngleX/Y/Z      -90..90 deg  ``conventions.internal_to_vts_face_angles(head.rotation)``
FacePositionX/Y/Z   -10..10      ``conventions.internal_to_vts_face_position(head.position)``
MouthOpen           0..1         jawOpen
MouthSmile          0..1         0.5 + (mean smile - mean frown) / 2 (0.5 = neutral mouth form)
MouthX              -1..1        screen-right is +: mouthLeft (the subject's left) - mouthRight
EyeOpenLeft/Right   0..1         1 - eyeBlink (the subject's sides)
EyeLeftX/Y ...      -1..1        eyeLook* via ``conventions.eye_look_to_internal`` and
                                 ``internal_eye_to_vts`` (X + = screen right, Y + = up)
Brows, BrowLeftY,   0..1         0.5 + (outer/inner up - down) / 2 (0.5 = neutral)
BrowRightY
CheekPuff           0..1         cheekPuff
TongueOut           0..1         tongueOut
==================  ===========  ==============================================================

VTube Studio's README only lists FaceAngleX (-30..30) and FacePositionX (-10..10) as examples;
the rest follow the VTS wiki's parameter table and Live2D's standard parameter list. Users map
inputs to model parameters in VTS, so the ranges only need to be the ones VTS itself uses.
A parameter whose source channel is absent from the pose is left out (VTS keeps its own value).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vtuber import conventions
from vtuber.records import AvatarPose

API_NAME = "VTubeStudioPublicAPI"
API_VERSION = "1.0"
DEFAULT_URL = "ws://localhost:8001"
"""VTube Studio's default API address (user-changeable in its settings)."""

ERROR_USER_DENIED_TOKEN = 50
"""``APIError`` errorID when the user clicks "Deny" on the plugin popup (ErrorID.cs)."""

FACE_PARAMETERS = ("FaceAngleX", "FaceAngleY", "FaceAngleZ", "FacePositionX", "FacePositionY", "FacePositionZ")
DECIMALS = 4
"""Digits kept: 1e-4 degree or unit is far below anything VTube Studio's smoothing shows."""


# ---------------------------------------------------------------------------------------------
# Public API: envelope and requests
# ---------------------------------------------------------------------------------------------


def request(message_type: str, data: Mapping[str, Any] | None, request_id: str) -> str:
    """The JSON text of one API request.

    Raises:
        ValueError: ``request_id`` is not 1-64 ASCII characters (the API's rule).
    """
    if not 1 <= len(request_id) <= 64 or not request_id.isascii():
        raise ValueError(f"requestID must be 1-64 ASCII characters, got {request_id!r}")
    envelope: dict[str, Any] = {
        "apiName": API_NAME,
        "apiVersion": API_VERSION,
        "requestID": request_id,
        "messageType": message_type,
    }
    if data is not None:
        envelope["data"] = dict(data)
    return json.dumps(envelope, separators=(",", ":"))


def api_state_request(request_id: str) -> str:
    """``APIStateRequest``: is the API active, is this session authenticated."""
    return request("APIStateRequest", None, request_id)


def token_request(plugin_name: str, plugin_developer: str, request_id: str, icon_b64: str | None = None) -> str:
    """``AuthenticationTokenRequest``: VTube Studio shows the user an Allow/Deny popup.

    Raises:
        ValueError: a name is not 3-32 characters (the API's rule).
    """
    data = _plugin(plugin_name, plugin_developer)
    if icon_b64:
        data["pluginIcon"] = icon_b64
    return request("AuthenticationTokenRequest", data, request_id)


def authentication_request(plugin_name: str, plugin_developer: str, token: str, request_id: str) -> str:
    """``AuthenticationRequest`` with a stored token, once per session."""
    data = _plugin(plugin_name, plugin_developer)
    data["authenticationToken"] = token
    return request("AuthenticationRequest", data, request_id)


def inject_request(
    parameters: Mapping[str, float], *, face_found: bool, request_id: str, weight: float | None = None
) -> str:
    """``InjectParameterDataRequest`` in ``"set"`` mode with the given parameter values."""
    values: list[dict[str, Any]] = []
    for name, value in parameters.items():
        item: dict[str, Any] = {"id": name, "value": round(float(value), DECIMALS) + 0.0}
        if weight is not None:
            item["weight"] = weight
        values.append(item)
    data = {"faceFound": bool(face_found), "mode": "set", "parameterValues": values}
    return request("InjectParameterDataRequest", data, request_id)


def parse_response(text: str | bytes) -> tuple[str, str, dict[str, Any]]:
    """``(messageType, requestID, data)`` of a response; ValueError if it is not one."""
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(message, dict) or not isinstance(message.get("messageType"), str):
        raise ValueError("not a VTube Studio API message (no messageType)")
    data = message.get("data")
    return message["messageType"], str(message.get("requestID", "")), data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------------------------
# Public API: pose -> default tracking parameters
# ---------------------------------------------------------------------------------------------


def tracking_parameters(pose: AvatarPose, *, reference_distance_m: float = 0.6) -> dict[str, float]:
    """VTube Studio's default tracking input parameters for one pose (table in the module doc)."""
    out: dict[str, float] = {}
    if pose.head is not None:
        ax, ay, az = conventions.internal_to_vts_face_angles(pose.head.rotation)
        px, py, pz = conventions.internal_to_vts_face_position(pose.head.position, reference_distance_m)
        out.update(zip(FACE_PARAMETERS, (ax, ay, az, px, py, pz)))
    bs = pose.source_blendshapes
    if not bs:
        return out
    g = bs.get
    if "jawOpen" in bs:
        out["MouthOpen"] = _unit(g("jawOpen", 0.0))
    if "mouthSmileLeft" in bs or "mouthSmileRight" in bs:
        smile = (g("mouthSmileLeft", 0.0) + g("mouthSmileRight", 0.0)) / 2.0
        frown = (g("mouthFrownLeft", 0.0) + g("mouthFrownRight", 0.0)) / 2.0
        out["MouthSmile"] = _unit(0.5 + (smile - frown) / 2.0)
    if "mouthLeft" in bs or "mouthRight" in bs:
        # mouthLeft moves the mouth to the subject's left = the screen's right for the avatar.
        out["MouthX"] = _signed(g("mouthLeft", 0.0) - g("mouthRight", 0.0))
    for side, suffix in (("Left", "Left"), ("Right", "Right")):
        if f"eyeBlink{suffix}" in bs:
            out[f"EyeOpen{side}"] = _unit(1.0 - g(f"eyeBlink{suffix}", 0.0))
        if any(f"eyeLook{d}{suffix}" in bs for d in ("In", "Out", "Up", "Down")):
            yaw, pitch = conventions.eye_look_to_internal(
                g(f"eyeLookIn{suffix}", 0.0), g(f"eyeLookOut{suffix}", 0.0),
                g(f"eyeLookUp{suffix}", 0.0), g(f"eyeLookDown{suffix}", 0.0), suffix.lower(),
            )
            out[f"Eye{side}X"], out[f"Eye{side}Y"] = conventions.internal_eye_to_vts(yaw, pitch)
    brows = {}
    for side in ("Left", "Right"):
        if f"browDown{side}" in bs or f"browOuterUp{side}" in bs or "browInnerUp" in bs:
            up = max(g(f"browOuterUp{side}", 0.0), g("browInnerUp", 0.0))
            brows[side] = _unit(0.5 + (up - g(f"browDown{side}", 0.0)) / 2.0)
            out[f"Brow{side}Y"] = brows[side]
    if brows:
        out["Brows"] = sum(brows.values()) / len(brows)
    for arkit, vts in (("cheekPuff", "CheekPuff"), ("tongueOut", "TongueOut")):
        if arkit in bs:
            out[vts] = _unit(g(arkit, 0.0))
    return out


# ---------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------


def _plugin(name: str, developer: str) -> dict[str, Any]:
    for field, value in (("pluginName", name), ("pluginDeveloper", developer)):
        if not 3 <= len(value) <= 32:
            raise ValueError(f"{field} must be 3-32 characters, got {value!r}")
    return {"pluginName": name, "pluginDeveloper": developer}


def _unit(v: float) -> float:
    return float(min(1.0, max(0.0, v)))


def _signed(v: float) -> float:
    return float(min(1.0, max(-1.0, v)))
