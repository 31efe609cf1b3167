"""The face solvers on the iBUG 68-point layout (dlib, face-alignment's FAN, 300-W annotations).

Layout (0-based, Left/Right = the subject's own sides, so the subject's right eye is the one on
the image's left in a frontal, unmirrored view)::

    0-16 jaw contour (0 at the subject's right ear)   17-21 right brow   22-26 left brow
    27-30 nose bridge   31-35 nostrils                36-41 right eye    42-47 left eye
    48-59 outer lips (48 right corner, 54 left)       60-67 inner lips (60 right corner, 64 left)

Head: PnP of a 68-point 3D model (``vtuber/data/face68_model.npz``: each landmark placed on
MediaPipe's canonical face, derived by ``tools/make_face68_model.py``; same frame, units and
neutral pose as ``vtuber.solve.head``) against the ``RIGID_IDS`` subset. The same guards as
``solve_head`` reject implausible fits.

Eyes: the eye aspect ratio (Soukupova & Cech 2016) per eye,
``EAR = (|p1 - p5| + |p2 - p4|) / (2 |p0 - p3|)`` on the eye's six points, mapped linearly
between an open and a closed EAR to ARKit ``eyeBlinkLeft`` / ``eyeBlinkRight``.

Mouth: inner-lip gap (mean of 61-67, 62-66, 63-65) / mouth width (outer corners 48-54), mapped
linearly to ``jawOpen`` and the viseme ``aa``.

Gaze: 68 points have no iris. ``estimate_pupils`` finds the dark pupil blob inside each eye
contour in the image (after VTuber_Unity's ``misc.py``: a centroid of the darkest pixels),
and ``solve_gaze68`` turns it into ARKit ``eyeLook*`` channels. Both need the image, so the
tracker adapters run them (``attach_gaze68``) and store the ``eyeLook*`` weights in
``FaceLandmarks.blendshapes``, which sessions record: a replay reproduces the gaze.
``solve_eyes68`` (pure, called by ``solve_rig``) reads those weights back into angles
(the inverse of ``gaze.look_weights``: eyeLook*=1 is ``gaze.LOOK_RANGE_DEG``), applies the
MediaPipe path's closed-eye rule and returns the ``eyeLook*`` channels and the
``LeftEye``/``RightEye`` bones. There is no per-user gaze neutral on this path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from vtuber.conventions import mediapipe_to_pixels
from vtuber.records import FaceLandmarks, HeadPose, Quaternion, Side
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.gaze import CLOSED_BLINK, LOOK_RANGE_DEG, EyeGaze, look_weights
from vtuber.solve.head import _accept, _refine_from, _solve_sqpnp

NUM_POINTS = 68

JAW = tuple(range(17))
BROWS = {"right": tuple(range(17, 22)), "left": tuple(range(22, 27))}
NOSE_BRIDGE = (27, 28, 29, 30)
NOSTRILS = (31, 32, 33, 34, 35)
# Per eye, in iBUG order: outer corner, upper outer, upper inner, inner corner, lower inner,
# lower outer for the right eye (36-41); the left eye (42-47) starts at its inner corner.
EYES: dict[Side, tuple[int, ...]] = {"right": (36, 37, 38, 39, 40, 41), "left": (42, 43, 44, 45, 46, 47)}
EYE_CORNERS: dict[Side, tuple[int, int]] = {"right": (36, 39), "left": (45, 42)}  # (outer, inner)
MOUTH_CORNERS = (48, 54)  # subject's right, left (outer lips)
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # (upper, lower)

# Each point's mirror partner (the same landmark on the other side of the face).
MIRROR = np.array(
    [16 - i for i in range(17)]
    + [26, 25, 24, 23, 22, 21, 20, 19, 18, 17]
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65],
    dtype=np.int64,
)

# Points that move with the skull only: nose bridge and nostrils, the four eye corners and the
# upper jaw contour down to the level of the nostrils. Brows, lids, lips and the lower jaw move
# with expressions; the measured comparison against the MediaPipe path is in docs/face68.md.
RIGID_IDS = np.array([0, 1, 2, 14, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45], dtype=np.int64)

MAX_REPROJECTION_ERROR_FRACTION = 0.08  # as in solve_head: RMS residual / face width

# Eye aspect ratio defaults, measured with dlib's predictor on ../shared/media (docs/face68.md).
DEFAULT_OPEN_EAR = 0.28
DEFAULT_CLOSED_EAR = 0.08
# Inner-lip gap / mouth width defaults, measured the same way.
DEFAULT_MOUTH_CLOSED = 0.03
DEFAULT_MOUTH_OPEN = 0.60


@dataclass(frozen=True, slots=True)
class Face68Model:
    """The 68-point 3D face.

    Attributes:
        vertices_cm: (68, 3) centimetres in the canonical face frame (x subject's left, y up,
            z out of the face).
        spread_cm: (68,) median distance of the per-frame placements from the model point
            (how consistently that landmark sits on the canonical face).
    """

    vertices_cm: NDArray[np.float64]
    spread_cm: NDArray[np.float64]


@lru_cache(maxsize=1)
def face68_model() -> Face68Model:
    """The packaged 68-point model (read once; arrays are read-only)."""
    with resources.files("vtuber.data").joinpath("face68_model.npz").open("rb") as fh:
        data = np.load(fh)
        arrays = [np.array(data["vertices_cm"], dtype=np.float64), np.array(data["spread_cm"], dtype=np.float64)]
    for a in arrays:
        a.setflags(write=False)
    return Face68Model(*arrays)


def _check(face: FaceLandmarks) -> None:
    if face.layout != "ibug68":
        raise ValueError(f"expected iBUG 68-point landmarks, got {len(face.points)} points")


def _pixels(face: FaceLandmarks, image_size: tuple[int, int]) -> NDArray[np.float64]:
    return mediapipe_to_pixels(face.points, image_size)


# ---------------------------------------------------------------------------------------------
# Head
# ---------------------------------------------------------------------------------------------


def solve_head68(
    face: FaceLandmarks,
    image_size: tuple[int, int],
    camera: CameraIntrinsics,
    previous: HeadPose | None = None,
    rigid_ids: NDArray[np.int64] = RIGID_IDS,
) -> HeadPose | None:
    """Head pose from 68 landmarks, same frame and conventions as ``solve_head``; None when the
    fit is not trustworthy."""
    _check(face)
    object_points = face68_model().vertices_cm[rigid_ids]
    image_points = _pixels(face, image_size)[rigid_ids]
    cam = camera.scaled_to(*image_size)
    face_width_px = max(float(np.ptp(image_points[:, 0])), 1.0)
    pose = None
    if previous is not None:
        pose = _accept(_refine_from(previous, object_points, image_points, cam), object_points, image_points, cam, face_width_px)
    if pose is None:
        pose = _accept(_solve_sqpnp(object_points, image_points, cam), object_points, image_points, cam, face_width_px)
    return pose


# ---------------------------------------------------------------------------------------------
# Eyes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EyeRange68:
    """Eye aspect ratios of an open and a closed eye (per user, from calibration)."""

    open_ear: float = DEFAULT_OPEN_EAR
    closed_ear: float = DEFAULT_CLOSED_EAR

    def __post_init__(self) -> None:
        if not self.open_ear > self.closed_ear >= 0.0:
            raise ValueError(f"EyeRange68 needs open_ear > closed_ear >= 0, got {self}")


def eye_aspect_ratio(points_px: NDArray[np.float64], side: Side) -> float:
    """EAR of one eye on (68, 2+) pixel points; 0 for a degenerate eye."""
    p = points_px[list(EYES[side]), :2]
    width = float(np.linalg.norm(p[0] - p[3]))
    if width < 1e-6:
        return 0.0
    return float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2.0 * width)


def blink_weight68(ear: float, eye_range: EyeRange68) -> float:
    """EAR -> blink weight in [0, 1] (1 = closed)."""
    value = (eye_range.open_ear - ear) / (eye_range.open_ear - eye_range.closed_ear)
    return float(min(1.0, max(0.0, value)))


def solve_blinks68(
    face: FaceLandmarks, image_size: tuple[int, int], left: EyeRange68 = EyeRange68(), right: EyeRange68 = EyeRange68()
) -> dict[str, float]:
    """ARKit ``eyeBlinkLeft`` / ``eyeBlinkRight`` (subject's sides) from 68 points."""
    _check(face)
    p = _pixels(face, image_size)
    return {
        "eyeBlinkLeft": blink_weight68(eye_aspect_ratio(p, "left"), left),
        "eyeBlinkRight": blink_weight68(eye_aspect_ratio(p, "right"), right),
    }


# ---------------------------------------------------------------------------------------------
# Mouth
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MouthRange68:
    """Inner-lip gap / mouth width of a closed and a wide-open mouth (per user)."""

    closed_ratio: float = DEFAULT_MOUTH_CLOSED
    open_ratio: float = DEFAULT_MOUTH_OPEN

    def __post_init__(self) -> None:
        if not self.open_ratio > self.closed_ratio >= 0.0:
            raise ValueError(f"MouthRange68 needs open_ratio > closed_ratio >= 0, got {self}")


def mouth_open_ratio68(face: FaceLandmarks, image_size: tuple[int, int]) -> float:
    """Mean inner-lip gap / outer mouth width."""
    _check(face)
    p = _pixels(face, image_size)
    width = float(np.linalg.norm(p[MOUTH_CORNERS[0]] - p[MOUTH_CORNERS[1]]))
    if width < 1e-6:
        return 0.0
    gap = np.mean([np.linalg.norm(p[u] - p[d]) for u, d in INNER_LIP_PAIRS])
    return float(gap) / width


def solve_mouth68(face: FaceLandmarks, image_size: tuple[int, int], mouth_range: MouthRange68 = MouthRange68()) -> dict[str, float]:
    """ARKit ``jawOpen`` and the viseme ``aa`` in [0, 1]."""
    ratio = mouth_open_ratio68(face, image_size)
    value = (ratio - mouth_range.closed_ratio) / (mouth_range.open_ratio - mouth_range.closed_ratio)
    weight = float(min(1.0, max(0.0, value)))
    return {"jawOpen": weight, "aa": weight}


# ---------------------------------------------------------------------------------------------
# Gaze from the eye region's pixels
# ---------------------------------------------------------------------------------------------

PUPIL_DARK_QUANTILE = 0.2  # pixels darker than the eye's 80th percentile count, weighted by darkness
MIN_EYE_WIDTH_PX = 8.0  # below this the eye region has too few pixels to find a pupil
GAZE_FULL_SCALE = 0.5  # pupil offset (fraction of the half eye width / lid gap) read as a full look


def estimate_pupils(image_rgb: NDArray[np.uint8], face: FaceLandmarks) -> dict[Side, NDArray[np.float64] | None]:
    """Pupil centre per eye in normalised image coordinates (x, y), or None per eye when the eye
    is too small or shows no contrast. The darkness-weighted centroid of the pixels inside the
    eye contour (36-41 / 42-47) that are darker than its brighter pixels (the sclera); a variant
    of VTuber_Unity's darkest-20 %-centroid that does not depend on the pupil's area."""
    _check(face)
    h, w = image_rgb.shape[:2]
    p = _pixels(face, (w, h))
    out: dict[Side, NDArray[np.float64] | None] = {}
    for side, ids in EYES.items():
        contour = p[list(ids)]
        if float(np.linalg.norm(contour[0] - contour[3])) < MIN_EYE_WIDTH_PX:
            out[side] = None
            continue
        x0, y0 = np.floor(contour.min(axis=0)).astype(int)
        x1, y1 = np.ceil(contour.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 3 or y1 - y0 < 2:
            out[side] = None
            continue
        gray = cv2.cvtColor(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
        mask = np.zeros(gray.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(contour - (x0, y0)).astype(np.int32)], 1)
        values = gray[mask > 0]
        if values.size < 6:
            out[side] = None
            continue
        # darkness-weighted centroid of the pixels darker than the eye's PUPIL_DARK_QUANTILE
        # brightest-side reference: sclera and skin weigh 0, the iris and pupil the most
        reference = float(np.quantile(values, 1.0 - PUPIL_DARK_QUANTILE))
        weights = np.where(mask > 0, np.clip(reference - gray.astype(np.float64), 0.0, None), 0.0)
        total = float(weights.sum())
        if total <= 0.0:  # a uniform eye region: closed, or no contrast
            out[side] = None
            continue
        ys, xs = np.indices(gray.shape)
        centre = np.array([(weights * xs).sum() / total + x0 + 0.5, (weights * ys).sum() / total + y0 + 0.5])
        out[side] = centre / (w, h)
    return out


def solve_gaze68(
    face: FaceLandmarks, image_size: tuple[int, int], pupils: dict[Side, NDArray[np.float64] | None]
) -> dict[str, float]:
    """ARKit ``eyeLook{In,Out,Up,Down}{Left,Right}`` from pupil positions within each eye.

    Horizontal: the pupil's offset from the eye's centre along the corner-to-corner axis, as a
    fraction of half the eye width; vertical: perpendicular to it, as a fraction of the lid gap.
    Eyes without a pupil give no channels.
    """
    _check(face)
    p = _pixels(face, image_size)
    result: dict[str, float] = {}
    for side, pupil in pupils.items():
        if pupil is None:
            continue
        outer, inner = (p[i] for i in EYE_CORNERS[side])
        ids = list(EYES[side])
        centre = p[ids].mean(axis=0)
        axis = inner - outer
        half_width = float(np.linalg.norm(axis)) / 2.0
        if half_width < 1e-6:
            continue
        axis /= 2.0 * half_width
        down = np.array([-axis[1], axis[0]])
        if down[1] < 0:  # perpendicular to the eye axis, pointing down the image
            down = -down
        offset = np.asarray(pupil, dtype=np.float64) * image_size - centre
        gap = max(half_width * 2.0 * eye_aspect_ratio(p, side), 1e-6)
        toward_inner = float(offset @ axis) / half_width / GAZE_FULL_SCALE
        downward = float(offset @ down) / gap / GAZE_FULL_SCALE
        suffix = "Left" if side == "left" else "Right"
        result[f"eyeLookIn{suffix}"] = float(np.clip(toward_inner, 0.0, 1.0))
        result[f"eyeLookOut{suffix}"] = float(np.clip(-toward_inner, 0.0, 1.0))
        result[f"eyeLookDown{suffix}"] = float(np.clip(downward, 0.0, 1.0))
        result[f"eyeLookUp{suffix}"] = float(np.clip(-downward, 0.0, 1.0))
    return result


LOOK_CHANNELS68: tuple[str, ...] = tuple(f"eyeLook{d}{s}" for s in ("Left", "Right") for d in ("In", "Out", "Up", "Down"))
"""The channels ``attach_gaze68`` stores in ``FaceLandmarks.blendshapes``."""


def attach_gaze68(face: FaceLandmarks, image_rgb: NDArray[np.uint8]) -> FaceLandmarks:
    """``face`` with the ``eyeLook*`` weights measured in ``image_rgb`` (the frame the 68 points
    were found in, RGB uint8) added to its ``blendshapes``. For the tracker adapters: the image
    measure happens there, so the record (and a session replaying it) carries the gaze."""
    h, w = image_rgb.shape[:2]
    looks = solve_gaze68(face, (w, h), estimate_pupils(image_rgb, face))
    if not looks:
        return face
    return dataclasses.replace(face, blendshapes=MappingProxyType({**face.blendshapes, **looks}))


def gaze_from_looks(looks: Mapping[str, float], side: Literal["L", "R"]) -> EyeGaze | None:
    """One eye's gaze (degrees, ``gaze.EyeGaze`` convention) from its ``eyeLook*`` weights: the
    inverse of ``gaze.look_weights`` (a weight of 1 is ``gaze.LOOK_RANGE_DEG``); None when the
    eye has none of the four channels."""
    name = "Left" if side == "L" else "Right"
    if not any(f"eyeLook{d}{name}" in looks for d in ("In", "Out", "Up", "Down")):
        return None
    r = LOOK_RANGE_DEG
    outward = looks.get(f"eyeLookOut{name}", 0.0) * r["out"] - looks.get(f"eyeLookIn{name}", 0.0) * r["in"]
    pitch = looks.get(f"eyeLookDown{name}", 0.0) * r["down"] - looks.get(f"eyeLookUp{name}", 0.0) * r["up"]
    return EyeGaze(outward if side == "L" else -outward, pitch)


def solve_eyes68(
    looks: Mapping[str, float], blinks: Mapping[str, float]
) -> tuple[dict[str, float], dict[str, Quaternion]]:
    """(eyeLook* weights, {"LeftEye", "RightEye"} bone rotations) from the ``eyeLook*`` weights a
    68-point tracker attached (``attach_gaze68``) and this frame's blink weights; empty when
    neither eye has a pupil. A closed eye (blink > ``gaze.CLOSED_BLINK``) or one without a pupil
    takes the other eye's gaze; both closed hold neutral (as ``gaze.solve_gaze``)."""
    left, right = gaze_from_looks(looks, "L"), gaze_from_looks(looks, "R")
    if left is None and right is None:
        return {}, {}
    seen_left = left if blinks.get("eyeBlinkLeft", 0.0) <= CLOSED_BLINK else None
    seen_right = right if blinks.get("eyeBlinkRight", 0.0) <= CLOSED_BLINK else None
    neutral = EyeGaze(0.0, 0.0)
    left = seen_left if seen_left is not None else (seen_right if seen_right is not None else neutral)
    right = seen_right if seen_right is not None else (seen_left if seen_left is not None else neutral)
    return {**look_weights(left, "L"), **look_weights(right, "R")}, {"LeftEye": left.rotation(), "RightEye": right.rotation()}


# ---------------------------------------------------------------------------------------------
# All of the above, for solve_rig
# ---------------------------------------------------------------------------------------------


def solve_face68(
    face: FaceLandmarks,
    image_size: tuple[int, int],
    camera: CameraIntrinsics,
    previous: HeadPose | None = None,
    left_eye: EyeRange68 = EyeRange68(),
    right_eye: EyeRange68 = EyeRange68(),
    mouth: MouthRange68 = MouthRange68(),
) -> tuple[HeadPose | None, dict[str, float]]:
    """Head pose (camera-relative, like ``solve_head``) and the blink/mouth channels."""
    head = solve_head68(face, image_size, camera, previous)
    shapes = solve_blinks68(face, image_size, left_eye, right_eye)
    shapes.update(solve_mouth68(face, image_size, mouth))
    return head, shapes


__all__ = [
    "EYES",
    "LOOK_CHANNELS68",
    "MIRROR",
    "RIGID_IDS",
    "EyeRange68",
    "Face68Model",
    "MouthRange68",
    "attach_gaze68",
    "blink_weight68",
    "estimate_pupils",
    "eye_aspect_ratio",
    "face68_model",
    "gaze_from_looks",
    "mouth_open_ratio68",
    "solve_blinks68",
    "solve_eyes68",
    "solve_face68",
    "solve_gaze68",
    "solve_head68",
]
