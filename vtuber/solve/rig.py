"""``solve_rig``: Landmarks -> Rig, the solvers in one call (pure).

Face: head pose by PnP (``head``), per-eye blink (``eyes``), mouth (``mouth``). When the tracker
delivered MediaPipe's 52 blendshapes (Tasks FaceLandmarker) they are the base and the geometric
solvers fill the channels they lack. The head rotation is shared between the Neck and Head bones
(``NECK_SHARE``) the way a real neck turns, so avatars do not pivot at the skull only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from vtuber import geometry
from vtuber.records import HeadPose, Landmarks, Quaternion, Rig
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.eyes import EyeRange, solve_blinks
from vtuber.solve.head import solve_head
from vtuber.solve.mouth import MouthRange, solve_mouth

NECK_SHARE = 0.3  # the cervical spine takes about a third of a head turn; the skull joint the rest


@dataclass(frozen=True, slots=True)
class FaceCalibration:
    """A user's neutral face: the zero of head rotation and the ranges of eyes and mouth.

    Attributes:
        neutral_rotation: head rotation (internal frame, xyzw) measured while looking "straight";
            solved rotations are expressed relative to it.
        left_eye, right_eye: the subject's eyes' open/closed ratios.
        mouth: closed/open mouth ratios.
    """

    neutral_rotation: Quaternion = field(default_factory=lambda: geometry.IDENTITY.copy())
    left_eye: EyeRange = EyeRange()
    right_eye: EyeRange = EyeRange()
    mouth: MouthRange = MouthRange()


def solve_rig(
    landmarks: Landmarks,
    camera: CameraIntrinsics,
    calibration: FaceCalibration = FaceCalibration(),
    previous_head: HeadPose | None = None,
) -> Rig:
    """Solve one frame.

    Args:
        landmarks: the tracker's output.
        camera: intrinsics of the source camera (any resolution; rescaled to the frame).
        calibration: the user's neutral face.
        previous_head: the previous frame's unsmoothed ``Rig.head`` (relative to neutral, as
            this function returns it), to seed PnP.
    """
    blendshapes: dict[str, float] = {}
    bones: dict[str, Quaternion] = {}
    head = None
    face = landmarks.face
    if face is not None and face.layout == "mediapipe":
        seed = None
        if previous_head is not None:  # back to the camera-relative pose PnP works in
            seed = HeadPose(geometry.multiply(calibration.neutral_rotation, previous_head.rotation), previous_head.position)
        head = solve_head(face, landmarks.image_size, camera, seed)
        blendshapes.update(solve_blinks(face, landmarks.image_size, calibration.left_eye, calibration.right_eye))
        blendshapes.update(solve_mouth(face, landmarks.image_size, calibration.mouth))
        blendshapes.update(face.blendshapes)  # MediaPipe's learned coefficients win where present
        blendshapes.setdefault("aa", blendshapes["jawOpen"])
    if head is not None:
        relative = geometry.multiply(geometry.conjugate(calibration.neutral_rotation), head.rotation)
        head = HeadPose(relative, head.position, head.reprojection_error_px)
        bones.update(split_neck_head(relative))
    tracked = {
        "face": head is not None,
        "pose": landmarks.pose is not None,
        "left_hand": landmarks.left_hand is not None,
        "right_hand": landmarks.right_hand is not None,
    }
    return Rig(
        t=landmarks.t,
        index=landmarks.index,
        head=head,
        blendshapes=MappingProxyType(blendshapes),
        bones=MappingProxyType(bones),
        tracked=MappingProxyType(tracked),
    )


def split_neck_head(rotation: Quaternion) -> dict[str, Quaternion]:
    """Local Neck and Head rotations whose composition (Neck then Head) equals ``rotation``."""
    neck = geometry.slerp(geometry.IDENTITY, rotation, NECK_SHARE)
    head = geometry.multiply(geometry.conjugate(neck), rotation)
    return {"Neck": neck, "Head": np.asarray(head)}
