"""``solve_rig``: Landmarks -> Rig, the solvers in one call (pure).

Face, in order:

1. Head pose (``head``: depth-aware fit of the canonical face, PnP without depth), relative to the
   calibrated neutral rotation; shared between the Neck and Head bones (``NECK_SHARE``) the way a
   real neck turns.
2. The landmarks aligned to the canonical face (``arkit.align_face``) and measured there
   (``arkit.face_features``): every expression measure is free of head rotation and distance.
3. Per-eye blink (``eyes``; each eye on its own, so winks work) and eyeWide; gaze per eye from the
   iris (``gaze``) as ``LeftEye``/``RightEye`` bones and ARKit eyeLook*; brows (``brows``); mouth
   open (``mouth``) and the other mouth shapes; cheeks and nose (``arkit.geometric_shapes``);
   vowels aa/ih/ou/ee/oh (``vowels``).
4. When the tracker delivered MediaPipe's learned blendshapes (Tasks FaceLandmarker) they replace
   the geometric estimates of the same names after a per-shape gain/curve (``arkit.TASKS_CURVES``)
   and the user's neutral offsets, except ``LANDMARK_CHANNELS`` (blinks, gaze), which stay
   geometric: per-eye lids and iris-from-landmarks do winks and head-turn-free gaze better than the
   learned coefficients (measured in ``vtuber bench face``, docs/benchmarks.md).

68-point landmarks (dlib, FAN: ``face.layout == "ibug68"``) take ``vtuber.solve.face68``'s
head, blinks and mouth, and the gaze their tracker measured in the image (``eyeLook*`` in
``FaceLandmarks.blendshapes``, turned into eye bones by ``face68.solve_eyes68``); the
MediaPipe-made face calibration is not applied to them.

Body (``vtuber.solve.body``) is added by the lead to the same Rig; this module only fills the face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

import numpy as np

from vtuber import geometry
from vtuber.conventions import internal_head_to_opencv_pose
from vtuber.records import HeadPose, Landmarks, Quaternion, Rig
from vtuber.solve.arkit import (
    TASKS_CURVES,
    ShapeCurve,
    align_face,
    apply_curves,
    face_features,
    fuse_mouth,
    geometric_shapes,
    measure_posed,
    neutral_features,
)
from vtuber.solve.body import head_relative_to_torso, solve_body
from vtuber.solve.body_profile import BodyCalibration
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.face68 import solve_eyes68, solve_face68
from vtuber.solve.eyes import EyeRange, blink_weight, eye_openness_ratio, lid_gap_ratio, wide_weight
from vtuber.solve.gaze import solve_gaze
from vtuber.solve.head import solve_head
from vtuber.solve.mouth import LIP_GAP_OPEN_CM, MouthRange, mouth_open_weight, mouth_width_change
from vtuber.solve.vowels import PROTOTYPES, vowel_weights

NECK_SHARE = 0.3  # the cervical spine takes about a third of a head turn; the skull joint the rest

LANDMARK_CHANNELS: frozenset[str] = frozenset(
    {"eyeBlinkLeft", "eyeBlinkRight"}
    | {f"eyeLook{d}{s}" for d in ("In", "Out", "Up", "Down") for s in ("Left", "Right")}
)
"""Channels always solved from landmark geometry, even when MediaPipe's blendshapes exist."""

_EMPTY: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FaceCalibration:
    """A user's neutral face: the zero of head rotation and the ranges of eyes, brows and mouth.

    Build one with ``vtuber.solve.calibration.calibrate_neutral`` (a few seconds of neutral face;
    the guided ``vtuber calibrate face`` steps then add ``calibrate_eyes_closed``,
    ``calibrate_eyes_wide`` and ``calibrate_mouth_wide``) and save/load it with
    ``save_calibration`` / ``load_calibration``.

    Attributes:
        neutral_rotation: head rotation (internal frame, xyzw) measured while looking "straight";
            solved rotations are expressed relative to it.
        left_eye, right_eye: the subject's eyes' open/closed (and wide) lid-gap ratios
            (``eyes.blink_weight``, ``eyes.wide_weight``).
        mouth: closed/open inner-lip-gap / mouth-width ratios (``mouth.solve_mouth``).
        lip_gap_open_cm: the inner-lip gap (canonical face frame, cm) of the user's widest open
            mouth, where the geometric jawOpen reaches 1 (``mouth.mouth_open_weight``).
        neutral: ``arkit.face_features`` measured on the user's neutral face (brow heights, lip
            gap, mouth width, mouth corners, iris offsets...); missing names fall back to the
            canonical face's values.
        tasks_offsets: the resting level of each MediaPipe blendshape on the user's neutral face,
            subtracted before the gain curve.
        vowels: the user's own (open, width change) of each vowel, measured by
            ``calibration.calibrate_vowels``; empty = ``vowels.PROTOTYPES``.
        tasks_tops: the level of a MediaPipe blendshape (eyeWideLeft/Right, jawOpen) at the
            user's own extreme (eyes wide, mouth wide open): ``tasks_curves`` makes it reach 1.
        body: the user's body calibration (``vtuber.solve.body_profile``; ``vtuber calibrate
            body``), which ``solve_rig`` hands to the body solver; None = uncalibrated. It rides
            here because the engine hands one user calibration to ``solve_rig``.
    """

    neutral_rotation: Quaternion = field(default_factory=lambda: geometry.IDENTITY.copy())
    left_eye: EyeRange = EyeRange()
    right_eye: EyeRange = EyeRange()
    mouth: MouthRange = MouthRange()
    neutral: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    tasks_offsets: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    vowels: Mapping[str, tuple[float, float]] = field(default_factory=lambda: _EMPTY)  # type: ignore[assignment]
    lip_gap_open_cm: float = LIP_GAP_OPEN_CM
    tasks_tops: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    body: BodyCalibration | None = None

    def tasks_curves(self) -> Mapping[str, ShapeCurve]:
        """``arkit.TASKS_CURVES`` with the channels of ``tasks_tops`` rescaled so the user's top
        reaches 1: gain ``1 / (top - offset)``, offset the user's resting level (or the curve's)."""
        if not self.tasks_tops:
            return TASKS_CURVES
        return _user_curves(tuple(sorted(self.tasks_tops.items())), tuple(sorted(self.tasks_offsets.items())))

    def vowel_prototypes(self) -> Mapping[str, tuple[float, float]]:
        """``vowels.PROTOTYPES`` overridden by the user's calibrated vowels."""
        if not self.vowels:
            return PROTOTYPES
        return {**PROTOTYPES, **self.vowels}

    def neutral_features(self) -> dict[str, float]:
        """The canonical neutral features overridden by the user's."""
        n = neutral_features()
        n.update(self.neutral)
        return n


@lru_cache(maxsize=8)
def _user_curves(tops: tuple[tuple[str, float], ...], offsets: tuple[tuple[str, float], ...]) -> Mapping[str, ShapeCurve]:
    curves = dict(TASKS_CURVES)
    rest = dict(offsets)
    for name, top in tops:
        base = curves.get(name, ShapeCurve())
        off = rest.get(name, base.offset)
        if top - off > 1e-3:
            curves[name] = ShapeCurve(gain=1.0 / (top - off), offset=off, exponent=base.exponent)
    return MappingProxyType(curves)


# id(calibration.neutral) -> (that mapping, its ``neutral_features``). The entry keeps a reference
# to the mapping and must match it by identity: while cached it cannot be freed, and a new
# mapping that reuses a freed one's id never matches a stale entry.
_DEFAULT_NEUTRAL: dict[int, tuple[Mapping[str, float], dict[str, float]]] = {}


def _neutral_of(calibration: FaceCalibration) -> dict[str, float]:
    """``calibration.neutral_features()``, memoised per ``calibration.neutral`` object."""
    neutral = calibration.neutral
    entry = _DEFAULT_NEUTRAL.get(id(neutral))
    if entry is None or entry[0] is not neutral:
        if len(_DEFAULT_NEUTRAL) > 8:
            _DEFAULT_NEUTRAL.clear()
        entry = _DEFAULT_NEUTRAL[id(neutral)] = (neutral, calibration.neutral_features())
    return entry[1]


def solve_face_shapes(
    points: np.ndarray,
    image_size: tuple[int, int],
    calibration: FaceCalibration,
    tasks: Mapping[str, float] | None = None,
    head: HeadPose | None = None,
    camera: CameraIntrinsics | None = None,
    mouth_points: np.ndarray | None = None,
) -> tuple[dict[str, float], dict[str, Quaternion]]:
    """All face blendshapes (ARKit names + visemes) and the eye bones of one face. ``head`` is the
    camera-relative PnP pose (before the neutral rotation is removed) and ``camera`` its
    intrinsics; without them the landmarks are aligned by a similarity fit. ``mouth_points``
    (the hybrid back end's Tasks points, ``FaceLandmarks.head_points``) are measured too and
    their lip measures averaged in (``arkit.fuse_mouth``); eyes and iris stay on ``points``."""
    hybrid = mouth_points is not None and len(mouth_points) == len(points)  # the back end's second tracker
    if head is not None and camera is not None:  # only the rows the measures read get aligned
        rotation, tvec = internal_head_to_opencv_pose(head.rotation, head.position)
        f, left_eye, right_eye = measure_posed(points, image_size, rotation, tvec, camera)
        if hybrid:
            f = fuse_mouth(f, measure_posed(mouth_points, image_size, rotation, tvec, camera)[0])  # type: ignore[arg-type]
        ratios = (lid_gap_ratio(left_eye), lid_gap_ratio(right_eye))
    else:
        a = align_face(points, image_size)
        f = face_features(a)
        if hybrid:
            f = fuse_mouth(f, face_features(align_face(mouth_points, image_size)))  # type: ignore[arg-type]
        ratios = (eye_openness_ratio(a, "left"), eye_openness_ratio(a, "right"))
    n = _neutral_of(calibration)
    shapes: dict[str, float] = {}
    for ratio, name, rng in ((ratios[0], "Left", calibration.left_eye), (ratios[1], "Right", calibration.right_eye)):
        shapes[f"eyeBlink{name}"] = blink_weight(ratio, rng)
        shapes[f"eyeWide{name}"] = wide_weight(ratio, rng)
    jaw = mouth_open_weight(f, n, calibration.lip_gap_open_cm)
    shapes["jawOpen"] = jaw
    shapes.update(geometric_shapes(f, n, jaw))
    look, bones = solve_gaze(f, n, shapes)
    shapes.update(look)
    shapes.update(vowel_weights(jaw, mouth_width_change(f, n), calibration.vowel_prototypes() if calibration.vowels else None))
    if tasks:
        learned = apply_curves(tasks, calibration.tasks_curves(), calibration.tasks_offsets or None)
        for name, value in learned.items():
            if name not in LANDMARK_CHANNELS:
                shapes[name] = value
    shapes.setdefault("tongueOut", 0.0)
    return shapes, bones


def solve_rig(
    landmarks: Landmarks,
    camera: CameraIntrinsics,
    calibration: FaceCalibration = FaceCalibration(),
    previous_head: HeadPose | None = None,
    previous_bones: Mapping[str, Quaternion] | None = None,
) -> Rig:
    """Solve one frame.

    Args:
        landmarks: the tracker's output.
        camera: intrinsics of the source camera (any resolution; rescaled to the frame).
        calibration: the user's neutral face (MediaPipe-measured: not applied to 68-point
            landmarks, whose head, eyes and mouth use the 68-point defaults; ``body`` still is).
        previous_head: the previous frame's unsmoothed ``Rig.head`` (relative to neutral, as
            this function returns it), to seed PnP.
        previous_bones: the previous frame's unsmoothed ``Rig.bones``, to keep arm twists that
            a straight arm or a lost hand cannot show.
    """
    blendshapes: dict[str, float] = {}
    bones: dict[str, Quaternion] = {}
    head = None
    face = landmarks.face
    # The face calibration is measured on MediaPipe's landmarks (``vtuber calibrate face``): its
    # neutral rotation is MediaPipe's head fit, not the 68-point one's, so 68 points ignore it.
    neutral_rotation = geometry.IDENTITY if face is not None and face.layout == "ibug68" else calibration.neutral_rotation
    seed = None
    if previous_head is not None:  # back to the camera-relative pose PnP works in
        seed = HeadPose(geometry.multiply(neutral_rotation, previous_head.rotation), previous_head.position)
    if face is not None and face.layout == "ibug68":  # dlib / FAN: head, blinks, mouth, gaze
        head, shapes68 = solve_face68(face, landmarks.image_size, camera, seed)
        if head is not None:
            looks, eye_bones = solve_eyes68(face.blendshapes, shapes68)  # the tracker's eyeLook*
            blendshapes.update(shapes68)
            blendshapes.update(looks)
            bones.update(eye_bones)
    elif face is not None and face.layout == "mediapipe":
        head = solve_head(face, landmarks.image_size, camera, seed)
        if head is not None:
            shapes, eye_bones = solve_face_shapes(
                face.points, landmarks.image_size, calibration, face.blendshapes, head, camera, face.head_points
            )
            blendshapes.update(shapes)
            bones.update(eye_bones)
    body = None
    if landmarks.pose is not None or landmarks.left_hand is not None or landmarks.right_hand is not None:
        body = solve_body(landmarks, previous=previous_bones, calibration=calibration.body)
        bones.update(body.bones)
    if head is not None:
        relative = geometry.multiply(geometry.conjugate(neutral_rotation), head.rotation)
        head = HeadPose(relative, head.position, head.reprojection_error_px)
        # The neck carries the head relative to the chest: take the torso's own turn out first.
        neck_head = head_relative_to_torso(relative, body) if body is not None else relative
        bones.update(split_neck_head(neck_head))
    tracked = {
        "face": head is not None,
        "pose": landmarks.pose is not None,
        "left_hand": landmarks.left_hand is not None,
        "right_hand": landmarks.right_hand is not None,
    }
    if body is not None:
        tracked.update(body.tracked)
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
    # geometry.slerp(IDENTITY, rotation, NECK_SHARE) and conjugate(neck) * rotation, written out
    # on floats (the identity end makes the slerp's dot product the w component).
    rx, ry, rz, rw = (float(v) for v in rotation)
    bx, by, bz, bw = geometry.normalize_floats((rx, ry, rz, rw))
    if bw < 0.0:  # shortest path: the hemisphere of the identity
        bx, by, bz, bw = -bx, -by, -bz, -bw
    f = NECK_SHARE
    d = min(1.0, bw)
    if d > 0.9995:  # nearly parallel: lerp, normalised
        nx, ny, nz, nw = f * bx, f * by, f * bz, 1.0 + f * (bw - 1.0)
        m = math.sqrt(nx * nx + ny * ny + nz * nz + nw * nw)
        nx, ny, nz, nw = nx / m, ny / m, nz / m, nw / m
    else:
        theta = math.acos(d)
        st = math.sin(theta)
        ka, kb = math.sin((1.0 - f) * theta) / st, math.sin(f * theta) / st
        nx, ny, nz, nw = kb * bx, kb * by, kb * bz, ka + kb * bw
    ax, ay, az, aw = -nx, -ny, -nz, nw  # the neck's inverse, then the Hamilton product with rotation
    head = np.array(
        [
            aw * rx + ax * rw + ay * rz - az * ry,
            aw * ry - ax * rz + ay * rw + az * rx,
            aw * rz + ax * ry - ay * rx + az * rw,
            aw * rw - ax * rx - ay * ry - az * rz,
        ]
    )
    return {"Neck": np.array([nx, ny, nz, nw]), "Head": head}
