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
    r = OPENCV_TO_INTERNAL @ np.asarray(rotation_matrix, dtype=np.float64)
    t = OPENCV_TO_INTERNAL @ np.asarray(translation_cm, dtype=np.float64).reshape(3)
    return geometry.from_matrix(r), t / CENTIMETRES_PER_METRE


def internal_head_to_opencv_pose(rotation: ArrayLike, position_m: ArrayLike) -> tuple[F64, F64]:
    """Inverse of ``canonical_face_pose_to_internal``: (3x3 model->camera rotation, t in cm).

    Used by the synthetic renderer to place the canonical face in front of a camera.
    """
    r = OPENCV_TO_INTERNAL @ geometry.to_matrix(rotation)
    t = OPENCV_TO_INTERNAL @ (np.asarray(position_m, dtype=np.float64) * CENTIMETRES_PER_METRE)
    return r, t


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
    """Internal -> Unity rotation. The x-axis reflection maps (x, y, z, w) to (x, -y, -z, w)."""
    x, y, z, w = np.asarray(q, dtype=np.float64)
    return np.array([x, -y, -z, w])


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
