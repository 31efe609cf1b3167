"""Head pose by PnP: the canonical face model fitted to the tracked 2D landmarks.

Input: MediaPipe face landmarks (normalised image coordinates), the camera intrinsics and the
previous frame's pose (or None). Output: ``HeadPose`` in the internal frame (rotation relative to
looking straight into the camera, position in metres), or None when no trustworthy pose exists.

Only the 33 rigid landmarks MediaPipe itself uses for Procrustes alignment enter the fit, so
blinks, brows and the jaw do not move the head. Robustness: the fit is solved from scratch
refined from the previous frame's pose when there is one (cheap Levenberg-Marquardt steps) and
solved from scratch (SQPnP, a global solver) otherwise or when that refinement fails; a pose that puts the face behind the
camera, turns it away from the camera, or reprojects badly is rejected (the smoother then holds
the last good pose) rather than flipping the head.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from vtuber import geometry
from vtuber.conventions import canonical_face_pose_to_internal, internal_head_to_opencv_pose, mediapipe_to_pixels
from vtuber.records import FaceLandmarks, HeadPose
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.face_model import canonical_face

MAX_REPROJECTION_ERROR_FRACTION = 0.08  # RMS residual above 8% of the face width is not a face fit
MAX_HEAD_ANGLE_RAD = math.radians(100.0)  # beyond this the face points away: a flipped solution


def solve_head(
    face: FaceLandmarks,
    image_size: tuple[int, int],
    camera: CameraIntrinsics,
    previous: HeadPose | None = None,
) -> HeadPose | None:
    """Fit the canonical face to ``face``; None when the fit is not trustworthy.

    Args:
        face: MediaPipe-layout landmarks (468 or 478 points) of one face.
        image_size: (width, height) the landmarks are normalised to.
        camera: intrinsics for that image size.
        previous: last frame's pose, used as a starting guess.
    """
    if face.layout != "mediapipe":
        raise ValueError("solve_head expects MediaPipe-layout landmarks (468 or 478 points)")
    model = canonical_face()
    ids = model.rigid_ids
    object_points = model.vertices_cm[ids]
    image_points = mediapipe_to_pixels(face.points[ids], image_size)
    cam = camera.scaled_to(*image_size)
    face_width_px = max(float(np.ptp(image_points[:, 0])), 1.0)
    pose = None
    if previous is not None:  # cheap: a few LM steps from last frame's pose
        pose = _accept(_refine_from(previous, object_points, image_points, cam), object_points, image_points, cam, face_width_px)
    if pose is None:  # first frame, or the refinement went wrong: solve globally
        pose = _accept(_solve_sqpnp(object_points, image_points, cam), object_points, image_points, cam, face_width_px)
    return pose


def _accept(
    candidate: tuple[NDArray[np.float64], NDArray[np.float64]] | None,
    object_points: NDArray[np.float64],
    image_points: NDArray[np.float64],
    cam: CameraIntrinsics,
    face_width_px: float,
) -> HeadPose | None:
    """The candidate as a HeadPose, or None if it reprojects badly or is physically absurd."""
    if candidate is None:
        return None
    rvec, tvec = candidate
    error = _rms_reprojection(object_points, image_points, rvec, tvec, cam)
    rotation_matrix, _ = cv2.Rodrigues(rvec)
    rotation, position = canonical_face_pose_to_internal(rotation_matrix, tvec)
    if position[2] >= 0.0:  # the face cannot be behind the camera
        return None
    if geometry.to_axis_angle(rotation)[1] > MAX_HEAD_ANGLE_RAD:
        return None
    if error > MAX_REPROJECTION_ERROR_FRACTION * face_width_px:
        return None
    return HeadPose(rotation=rotation, position=position, reprojection_error_px=error)


def _solve_sqpnp(
    object_points: NDArray[np.float64], image_points: NDArray[np.float64], cam: CameraIntrinsics
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    ok, rvec, tvec = cv2.solvePnP(
        object_points, image_points, cam.matrix, cam.distortion_array, flags=cv2.SOLVEPNP_SQPNP
    )
    if not ok:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(object_points, image_points, cam.matrix, cam.distortion_array, rvec, tvec)
    return rvec.reshape(3), tvec.reshape(3)


def _refine_from(
    previous: HeadPose,
    object_points: NDArray[np.float64],
    image_points: NDArray[np.float64],
    cam: CameraIntrinsics,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    rotation_matrix, tvec = internal_head_to_opencv_pose(previous.rotation, previous.position)
    rvec, _ = cv2.Rodrigues(rotation_matrix)
    ok, rvec, tvec = cv2.solvePnP(
        object_points,
        image_points,
        cam.matrix,
        cam.distortion_array,
        rvec=rvec.copy(),
        tvec=tvec.reshape(3, 1).copy(),
        useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok:
        return None
    return rvec.reshape(3), tvec.reshape(3)


def _rms_reprojection(
    object_points: NDArray[np.float64],
    image_points: NDArray[np.float64],
    rvec: NDArray[np.float64],
    tvec: NDArray[np.float64],
    cam: CameraIntrinsics,
) -> float:
    projected, _ = cv2.projectPoints(object_points, rvec, tvec, cam.matrix, cam.distortion_array)
    return float(np.sqrt(np.mean(np.sum((projected.reshape(-1, 2) - image_points) ** 2, axis=1))))
