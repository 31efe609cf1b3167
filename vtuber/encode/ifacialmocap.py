"""AvatarPose -> iFacialMocap UDP text frame (www.ifacialmocap.com/for-developer/), so the
iFacialMocap receivers in VSeeFace, VMagicMirror, Warudo and VNyan take our webcam tracking.

Pure: no sockets, no clock. One frame is one UTF-8 datagram::

    mouthSmile_R-0|eyeLookOut_L-0|...|jawOpen-12|=head#-21.49,-6.04,-6.60,-0.0307,-0.1029,-0.6584|rightEye#6.03,2.44,0.26|leftEye#6.03,-1.67,-0.18|

* The 52 ARKit blendshapes as ``name-value|``, in Apple's order (``ARKIT_52``), value an
  integer 0-100. Names are ARKit's with a ``Left``/``Right`` side suffix written ``_L``/``_R``
  (``eyeBlink_L``, ``browOuterUp_R``); the direction names ``jawLeft``, ``jawRight``,
  ``mouthLeft`` and ``mouthRight`` keep their spelling. Sides are the subject's own.
* ``=head#`` Euler X, Y, Z in degrees then position X, Y, Z (metres), ``rightEye#`` and
  ``leftEye#`` Euler X, Y, Z in degrees, each followed by ``|``. Angles and positions are in
  ARKit's face frame via ``vtuber.conventions.internal_to_ifacialmocap_*``.

Eye rotations come from the pose's ``LeftEye``/``RightEye`` bones when present, else from the
``eyeLook*`` blendshapes scaled to ``EYE_YAW_MAX_DEG``/``EYE_PITCH_MAX_DEG``. A pose without a
head sends a zero head (receivers hold a neutral head rather than freezing on garbage).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vtuber import conventions, geometry
from vtuber.records import AvatarPose

DEFAULT_PORT = 49983
"""The port iFacialMocap streams to on the PC (and listens on for the start handshake)."""

HANDSHAKE = b"iFacialMocap_sahuasouryya9218sauhuiayeta91555dy3719"
"""What a receiver sends to the phone's port 49983 to start a UDP stream (may carry a
``|sendDataVersion=...`` suffix)."""

ARKIT_52: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawRight", "jawLeft", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)  # fmt: skip
"""The 52 ARKit blendshapes in ``ARFaceAnchor.BlendShapeLocation`` order (anchors.md section 5)."""

UNSIDED_DIRECTIONS = frozenset({"jawLeft", "jawRight", "mouthLeft", "mouthRight"})
"""Names whose Left/Right is a direction, not a side: iFacialMocap does not rewrite them."""

EYE_YAW_MAX_DEG = 30.0
"""Eye yaw at ``eyeLook{In,Out}`` = 1: about the human oculomotor range used by face apps."""
EYE_PITCH_MAX_DEG = 25.0
"""Eye pitch at ``eyeLook{Up,Down}`` = 1."""


def wire_name(arkit: str) -> str:
    """ARKit name -> iFacialMocap spelling (``eyeBlinkLeft`` -> ``eyeBlink_L``)."""
    if arkit in UNSIDED_DIRECTIONS:
        return arkit
    if arkit.endswith("Left"):
        return arkit[: -len("Left")] + "_L"
    if arkit.endswith("Right"):
        return arkit[: -len("Right")] + "_R"
    return arkit


def encode_ifacialmocap(pose: AvatarPose) -> bytes:
    """One iFacialMocap UDP datagram (UTF-8) for ``pose``; missing channels are sent as 0."""
    bs = pose.source_blendshapes
    parts = [f"{wire_name(n)}-{_percent(bs.get(n, 0.0))}|" for n in ARKIT_52]
    if pose.head is not None:
        rx, ry, rz = conventions.internal_to_ifacialmocap_rotation(pose.head.rotation)
        px, py, pz = conventions.internal_to_ifacialmocap_position(pose.head.position)
    else:
        rx = ry = rz = px = py = pz = 0.0
    parts.append(f"=head#{_f2(rx)},{_f2(ry)},{_f2(rz)},{_f4(px)},{_f4(py)},{_f4(pz)}|")
    for label, bone, side in (("rightEye", "RightEye", "right"), ("leftEye", "LeftEye", "left")):
        ex, ey, ez = conventions.internal_to_ifacialmocap_rotation(_eye_rotation(pose, bone, side, bs))
        parts.append(f"{label}#{_f2(ex)},{_f2(ey)},{_f2(ez)}|")
    return "".join(parts).encode("utf-8")


def _eye_rotation(pose: AvatarPose, bone: str, side: str, bs: Mapping[str, float]) -> np.ndarray:
    if bone in pose.bones:
        return np.asarray(pose.bones[bone].rotation, dtype=np.float64)
    suffix = side.capitalize()
    yaw, pitch = conventions.eye_look_to_internal(
        bs.get(f"eyeLookIn{suffix}", 0.0), bs.get(f"eyeLookOut{suffix}", 0.0),
        bs.get(f"eyeLookUp{suffix}", 0.0), bs.get(f"eyeLookDown{suffix}", 0.0), side,
    )
    return geometry.from_yaw_pitch_roll(np.radians(yaw * EYE_YAW_MAX_DEG), np.radians(pitch * EYE_PITCH_MAX_DEG), 0.0)


def _percent(value: float) -> int:
    return round(min(1.0, max(0.0, float(value))) * 100.0)


def _f2(v: float) -> str:
    s = f"{v:.2f}"
    return "0.00" if s == "-0.00" else s


def _f4(v: float) -> str:
    s = f"{v:.4f}"
    return "0.0000" if s == "-0.0000" else s
