"""Every change of axes, handedness, units or quaternion order in the engine. Nothing else flips a sign.

Frames (all quaternions scalar-last ``(x, y, z, w)``):

``mediapipe_image``
    MediaPipe normalised image coordinates: x right, y down, in [0, 1] of width and height;
    z relative depth on the scale of x, smaller = closer.
``opencv_camera``
    OpenCV's camera frame: right-handed, x right, y down, z forward (into the scene), metres.
``canonical_face``
    MediaPipe's canonical face model: right-handed, centimetres, x to the subject's left,
    y up, z out of the face (toward a camera the face looks into).
``internal``
    The engine's frame: right-handed, metres, +Y up, +Z forward out of the avatar's face,
    +X to the avatar's own left (glTF / VRM 1.0 / three-vrm normalised humanoid). A person
    facing the camera squarely has identity head rotation; the camera looks along -Z.
``unity``
    Unity / VMC: left-handed, metres, +Y up, +Z forward, +X to the avatar's right.
``bvh``
    What Blender's BVH importer expects with its defaults (Y up, -Z forward): right-handed,
    +Y up, the character faces +Z in the file (so -Z is "forward" for the importer's axis
    conversion), +X to the character's left; the same axes as ``internal``, in centimetres.

Mirroring (selfie view) reflects the internal frame across its YZ plane and swaps left/right
names; it is applied once, in retargeting, through ``mirror_*`` below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber import geometry

F64 = NDArray[np.float64]

# opencv_camera -> internal, as a rotation: 180 degrees about X (y down -> up, z forward -> back).
OPENCV_TO_INTERNAL: F64 = np.diag([1.0, -1.0, -1.0])
OPENCV_TO_INTERNAL.setflags(write=False)

CENTIMETRES_PER_METRE = 100.0


# ---------------------------------------------------------------------------------------------
# Camera / tracker frames -> internal
# ---------------------------------------------------------------------------------------------


def mediapipe_to_pixels(points: ArrayLike, image_size: tuple[int, int]) -> F64:
    """(N, 3) MediaPipe normalised points -> (N, 2) pixel coordinates (x right, y down)."""
    p = np.asarray(points, dtype=np.float64)
    w, h = image_size
    return np.stack([p[:, 0] * w, p[:, 1] * h], axis=1)


def mediapipe_to_opencv_camera_scaled(points: ArrayLike, image_size: tuple[int, int]) -> F64:
    """(N, 3) MediaPipe normalised points -> pixel-scaled (x, y, z) in OpenCV axes.

    MediaPipe's z is on the scale of x (normalised by width), so multiplying every axis by the
    pixel width gives a roughly isotropic, camera-aligned point cloud (weak perspective).
    """
    p = np.asarray(points, dtype=np.float64)
    w, h = image_size
    return np.stack([p[:, 0] * w, p[:, 1] * h, p[:, 2] * w], axis=1)


def opencv_camera_to_internal_position(p: ArrayLike) -> F64:
    """Camera-frame point(s) (metres) -> internal frame (metres)."""
    return np.asarray(p, dtype=np.float64) @ OPENCV_TO_INTERNAL.T


def canonical_face_pose_to_internal(rotation_matrix: ArrayLike, translation_cm: ArrayLike) -> tuple[F64, F64]:
    """A solvePnP pose of the canonical face (model -> OpenCV camera) -> internal head pose.

    The canonical face's axes already equal the internal frame's at rest, so the head rotation
    is ``C @ R`` with ``C`` the camera->internal change; identity when the face looks straight
    into the camera.

    Returns:
        (rotation quaternion xyzw, position in metres) in the internal frame.
    """
    rotation, position = canonical_face_pose_to_internal_floats(
        np.asarray(rotation_matrix, dtype=np.float64).tolist(), np.asarray(translation_cm, dtype=np.float64).reshape(3).tolist()
    )
    return np.array(rotation), np.array(position)


def canonical_face_pose_to_internal_floats(
    rotation_matrix: Sequence[Sequence[float]], translation_cm: Sequence[float]
) -> tuple[tuple[float, float, float, float], tuple[float, float, float]]:
    """``canonical_face_pose_to_internal`` on Python floats: the rotation as three rows of three
    floats and the translation (cm) in; (quaternion x y z w, position in metres) out. The same
    numbers: ``OPENCV_TO_INTERNAL`` only negates the y and z rows."""
    r0, r1, r2 = rotation_matrix
    tx, ty, tz = translation_cm
    rotation = geometry.from_matrix_floats((r0, [-v for v in r1], [-v for v in r2]))
    cm = CENTIMETRES_PER_METRE
    return rotation, (tx / cm, -ty / cm, -tz / cm)


def internal_head_to_opencv_pose(rotation: ArrayLike, position_m: ArrayLike) -> tuple[F64, F64]:
    """Inverse of ``canonical_face_pose_to_internal``: (3x3 model->camera rotation, t in cm).

    Used by the synthetic renderer to place the canonical face in front of a camera, and by the
    face solvers every frame (so on floats: ``OPENCV_TO_INTERNAL`` negates the y and z rows of
    ``geometry.to_matrix``'s matrix, the same numbers without a numpy call per step).
    """
    position = np.asarray(position_m, dtype=np.float64)
    if position.shape != (3,):  # e.g. a column: the general matrix product
        return OPENCV_TO_INTERNAL @ geometry.to_matrix(rotation), OPENCV_TO_INTERNAL @ (position * CENTIMETRES_PER_METRE)
    r0, r1, r2 = geometry.to_matrix_floats(rotation)
    cm = CENTIMETRES_PER_METRE
    px, py, pz = position.tolist()
    return np.array((r0, [-v for v in r1], [-v for v in r2])), np.array([px * cm, -(py * cm), -(pz * cm)])


def mediapipe_world_to_internal(points: ArrayLike) -> F64:
    """MediaPipe pose/hand world landmarks (x image-right, y down, z away from the camera,
    metres) -> internal frame, for a subject facing the camera."""
    return opencv_camera_to_internal_position(points)


# ---------------------------------------------------------------------------------------------
# Internal -> Unity / VMC
# ---------------------------------------------------------------------------------------------


def internal_to_unity_position(p: ArrayLike) -> F64:
    """Internal (right-handed, +X avatar-left) -> Unity (left-handed, +X avatar-right): negate x."""
    a = np.array(p, dtype=np.float64)
    a[..., 0] = -a[..., 0]
    return a


def internal_to_unity_quaternion(q: ArrayLike) -> F64:
    """Internal -> Unity rotation(s) (..., 4). The x-axis reflection maps (x, y, z, w) to
    (x, -y, -z, w)."""
    a = np.array(q, dtype=np.float64)
    if a.shape[-1:] != (4,):
        raise ValueError(f"quaternions must have shape (..., 4), got {a.shape}")
    a[..., 1:3] = -a[..., 1:3]
    return a


def unity_to_internal_position(p: ArrayLike) -> F64:
    """Inverse of ``internal_to_unity_position`` (the reflection is its own inverse)."""
    return internal_to_unity_position(p)


def unity_to_internal_quaternion(q: ArrayLike) -> F64:
    """Inverse of ``internal_to_unity_quaternion``."""
    return internal_to_unity_quaternion(q)


# ---------------------------------------------------------------------------------------------
# Internal -> BVH (Blender importer defaults)
# ---------------------------------------------------------------------------------------------


def internal_to_bvh_position(p: ArrayLike) -> F64:
    """Internal metres -> BVH centimetres, same axes (Y up, character facing +Z)."""
    return np.asarray(p, dtype=np.float64) * CENTIMETRES_PER_METRE


def internal_to_bvh_quaternion(q: ArrayLike) -> F64:
    """Internal -> BVH rotation: the frames share their axes (only the unit of length differs),
    so the quaternion is unchanged. Scalar-last (x, y, z, w)."""
    return np.array(q, dtype=np.float64).reshape(4)


# ---------------------------------------------------------------------------------------------
# Mirroring (selfie view)
# ---------------------------------------------------------------------------------------------


def mirror_quaternion(q: ArrayLike) -> F64:
    """Reflect a rotation across the internal YZ plane (left <-> right): (x, -y, -z, w)."""
    x, y, z, w = np.asarray(q, dtype=np.float64)
    return np.array([x, -y, -z, w])


def mirror_position(p: ArrayLike) -> F64:
    """Reflect a point across the internal YZ plane: negate x."""
    a = np.array(p, dtype=np.float64)
    a[..., 0] = -a[..., 0]
    return a


def mirror_name(name: str) -> str:
    """Swap Left/Right in a bone or blendshape name (``LeftHand`` <-> ``RightHand``,
    ``eyeBlinkLeft`` <-> ``eyeBlinkRight``, ``Blink_L`` <-> ``Blink_R``)."""
    swaps = (("Left", "Right"), ("left", "right"), ("_L", "_R"))
    for a, b in swaps:
        if a in name:
            return name.replace(a, "\0").replace(b, a).replace("\0", b)
        if b in name:
            return name.replace(b, a)
    return name


# ---------------------------------------------------------------------------------------------
# Camera intrinsics defaults
# ---------------------------------------------------------------------------------------------


def focal_length_from_fov(image_width_px: int, horizontal_fov_deg: float) -> float:
    """Pinhole focal length in pixels for a horizontal field of view."""
    return (image_width_px / 2.0) / math.tan(math.radians(horizontal_fov_deg) / 2.0)


# ---------------------------------------------------------------------------------------------
# Internal -> receiver angles (VTube Studio, iFacialMocap, generic OSC, VMC root presets)
#
# Angles use ``geometry.to_yaw_pitch_roll``'s decomposition ``R = Ry(yaw) Rx(pitch) Rz(roll)``
# (the order Unity's ``Quaternion.Euler`` composes, so receivers that rebuild a rotation with it
# get the same rotation back). In the internal frame, for an avatar facing the viewer:
# yaw > 0 turns the face toward the avatar's own left (the viewer's right), pitch > 0 tips the
# face down, roll > 0 tilts the top of the head toward the avatar's own right shoulder.
# ---------------------------------------------------------------------------------------------

VTS_FACE_ANGLE_LIMIT_DEG = 90.0
"""FaceAngleX/Y/Z are clamped to +-90 degrees: beyond that the Euler split is meaningless."""
VTS_FACE_POSITION_LIMIT = 10.0
"""FacePositionX/Y/Z are clamped to +-10, the range VTube Studio lists (anchors.md section 4)."""


def internal_head_angles_deg(q: ArrayLike) -> tuple[float, float, float]:
    """Internal rotation -> ``(yaw, pitch, roll)`` in degrees, signs as in the section comment."""
    yaw, pitch, roll = geometry.to_yaw_pitch_roll(q)
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def internal_to_vts_face_angles(q: ArrayLike) -> tuple[float, float, float]:
    """Internal head rotation -> VTube Studio ``(FaceAngleX, FaceAngleY, FaceAngleZ)`` degrees.

    VTube Studio feeds these into Live2D's ParamAngleX/Y/Z, whose standard meaning is "+ turns
    to the right of the screen", "+ turns up", "+ leans to the right of the screen"
    (docs.live2d.com standard parameter list). The avatar faces the viewer, so its own left is
    the screen's right: X = yaw, Y = -pitch, Z = -roll, each clamped to +-90.
    """
    yaw, pitch, roll = internal_head_angles_deg(q)
    lim = VTS_FACE_ANGLE_LIMIT_DEG
    return _clamp(yaw, lim) + 0.0, _clamp(-pitch, lim) + 0.0, _clamp(-roll, lim) + 0.0


def internal_to_vts_face_position(
    p: ArrayLike, reference_distance_m: float = 0.6
) -> tuple[float, float, float]:
    """Internal head position (metres, relative to the camera) -> VTube Studio
    ``(FacePositionX, FacePositionY, FacePositionZ)``.

    Units are centimetres from a head centred in front of the camera at
    ``reference_distance_m``: X > 0 toward the screen's right (the avatar's own left), Y > 0 up,
    Z > 0 closer than the reference distance. Each is clamped to +-10.
    """
    x, y, z = (float(v) for v in np.asarray(p, dtype=np.float64).reshape(3))
    lim = VTS_FACE_POSITION_LIMIT
    cm = CENTIMETRES_PER_METRE
    return _clamp(x * cm, lim), _clamp(y * cm, lim), _clamp((z + reference_distance_m) * cm, lim)


def eye_look_to_internal(
    look_in: float, look_out: float, look_up: float, look_down: float, side: str
) -> tuple[float, float]:
    """ARKit ``eyeLook*`` weights of one eye -> ``(yaw, pitch)`` in [-1, 1] of the internal frame.

    ``side`` is the subject's ``"left"`` or ``"right"`` eye. Yaw > 0 looks toward the subject's
    own left (+X): for the left eye that is "out", for the right eye "in". Pitch > 0 looks down.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    yaw = (look_out - look_in) if side == "left" else (look_in - look_out)
    return _clamp(yaw, 1.0), _clamp(look_down - look_up, 1.0)


def internal_eye_to_vts(yaw: float, pitch: float) -> tuple[float, float]:
    """Internal eye ``(yaw, pitch)`` in [-1, 1] -> VTube Studio ``(EyeX, EyeY)`` in [-1, 1]:
    X > 0 looks to the screen's right (the avatar's own left, Live2D ParamEyeBallX), Y > 0 up."""
    return _clamp(yaw, 1.0) + 0.0, _clamp(-pitch, 1.0) + 0.0


def internal_to_ifacialmocap_rotation(q: ArrayLike) -> tuple[float, float, float]:
    """Internal rotation -> iFacialMocap Euler ``(x, y, z)`` degrees.

    iFacialMocap streams ARKit's face frame, which is the internal frame (right-handed, +X the
    face's own left, +Y up, +Z out of the face), as Euler X, Y, Z = pitch, yaw, roll.
    VMagicMirror's receiver confirms the eye signs: ``leftEye`` y > 0 is "look out", x > 0 is
    "look down" (``iFacialMocapReceiver.cs``).
    """
    yaw, pitch, roll = internal_head_angles_deg(q)
    return pitch + 0.0, yaw + 0.0, roll + 0.0


def internal_to_ifacialmocap_position(p: ArrayLike) -> tuple[float, float, float]:
    """Internal head position (metres) -> iFacialMocap head position: ARKit axes, metres."""
    x, y, z = (float(v) for v in np.asarray(p, dtype=np.float64).reshape(3))
    return x + 0.0, y + 0.0, z + 0.0


def turn_around_y(q: ArrayLike, p: ArrayLike) -> tuple[F64, F64]:
    """Turn a transform 180 degrees about the internal +Y axis: rotation ``Ry(pi) * q``,
    position ``(-x, y, -z)``. Used by the Warudo VMC preset for the root (XR Animator does the
    same for Warudo, anchors.md section 3)."""
    turn = np.array([0.0, 1.0, 0.0, 0.0])
    pos = np.array(p, dtype=np.float64).reshape(3)
    return geometry.multiply(turn, q), np.array([-pos[0], pos[1], -pos[2]]) + 0.0


def _clamp(value: float, limit: float) -> float:
    return float(min(limit, max(-limit, value)))


# ---------------------------------------------------------------------------------------------
# Eye gaze -> eye bone rotation
# ---------------------------------------------------------------------------------------------


def eye_rotation_from_gaze(yaw: float, pitch: float) -> F64:
    """An eye bone's local rotation (internal frame, relative to the Head, whose rest looks along
    +Z) for a gaze of ``yaw`` / ``pitch`` radians in the head's convention: positive yaw turns the
    line of sight from +Z toward +X (the subject's left), positive pitch (about +X) toward -Y
    (looking down). ``R = Ry(yaw) Rx(pitch)``, so the line of sight is
    ``(sin(yaw) cos(pitch), -sin(pitch), cos(yaw) cos(pitch))``."""
    return geometry.from_yaw_pitch_roll(yaw, pitch, 0.0)
