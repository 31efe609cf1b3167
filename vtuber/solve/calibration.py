"""Neutral calibration: a few seconds of a relaxed face looking at the camera -> ``FaceCalibration``.

``calibrate_neutral(samples, camera)`` folds the frames: the head rotation's average becomes the
zero of head rotation; the median of every face feature (``arkit.face_features``: brow heights,
lip gap, mouth width and corners, iris offsets) becomes the user's neutral; each eye's median lid
ratio becomes its open ratio (the closed ratio keeps the default closed/open proportion); the
median of each MediaPipe blendshape becomes its resting offset. ``calibrate_vowels(samples,
camera, calibration)`` (optional, the user says each vowel) adds the user's own vowel prototypes
(``vtuber.solve.vowels``). ``save_calibration`` /
``load_calibration`` keep it as a TOML profile; a malformed file raises ``ConfigError`` naming the
file and the field.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
from numpy.typing import NDArray

from vtuber import geometry
from vtuber.errors import CalibrationError, ConfigError
from vtuber.records import FaceLandmarks, HeadPose, Landmarks
from vtuber.solve.arkit import align_face, face_features, neutral_features
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.eyes import DEFAULT_CLOSED_RATIO, DEFAULT_OPEN_RATIO, EyeRange, eye_openness_ratio
from vtuber.solve.head import solve_head
from vtuber.solve.mouth import MouthRange, mouth_open_ratio, mouth_open_weight, mouth_width_change
from vtuber.solve.rig import FaceCalibration
from vtuber.solve.vowels import REST_OPEN, REST_WIDTH, VOWELS

MIN_SAMPLES = 15  # half a second at 30 fps; a few seconds is recommended
MAX_TASKS_OFFSET = 0.5  # a "neutral" channel resting above this is an expression, not a rest level


def _tracked_faces(
    samples: Iterable[Landmarks], camera: CameraIntrinsics
) -> Iterator[tuple[Landmarks, FaceLandmarks, HeadPose, NDArray[np.float64]]]:
    """(landmarks, face, head pose, face points aligned to the head frame) of every sample whose
    MediaPipe face PnP could solve, seeding each solve with the previous pose."""
    previous = None
    for lm in samples:
        face = lm.face
        if face is None or face.layout != "mediapipe":
            continue
        head = solve_head(face, lm.image_size, camera, previous)
        if head is None:
            continue
        previous = head
        yield lm, face, head, align_face(face.points, lm.image_size, head, camera)


def calibrate_neutral(samples: Iterable[Landmarks], camera: CameraIntrinsics) -> FaceCalibration:
    """Fold neutral-face frames into a ``FaceCalibration`` (see the module docstring)."""
    rotations, feats, eyes, mouths = [], [], [], []
    tasks: dict[str, list[float]] = {}
    for lm, face, head, a in _tracked_faces(samples, camera):
        rotations.append(geometry.align_hemisphere(head.rotation, rotations[0]) if rotations else head.rotation)
        feats.append(face_features(a))
        eyes.append((eye_openness_ratio(a, "left"), eye_openness_ratio(a, "right")))
        mouths.append(mouth_open_ratio(face, lm.image_size))
        for k, v in face.blendshapes.items():
            tasks.setdefault(k, []).append(float(v))
    if len(rotations) < MIN_SAMPLES:
        raise CalibrationError(
            f"neutral calibration needs at least {MIN_SAMPLES} frames with a tracked face, got {len(rotations)}: "
            "look at the camera with a relaxed face for a few seconds"
        )
    neutral_rotation = geometry.normalize(np.mean(rotations, axis=0))
    neutral = {k: float(np.median([f[k] for f in feats])) for k in feats[0]}
    ratios = np.median(np.array(eyes), axis=0)
    proportion = DEFAULT_CLOSED_RATIO / DEFAULT_OPEN_RATIO

    def eye(open_ratio: float) -> EyeRange:
        return EyeRange(open_ratio=float(open_ratio), closed_ratio=float(open_ratio * proportion))

    closed_mouth = float(np.median(mouths))
    mouth = MouthRange(closed_ratio=closed_mouth, open_ratio=max(MouthRange().open_ratio, closed_mouth + 0.2))
    offsets = {k: min(MAX_TASKS_OFFSET, float(np.median(v))) for k, v in tasks.items()}
    return FaceCalibration(
        neutral_rotation=neutral_rotation,
        left_eye=eye(ratios[0]),
        right_eye=eye(ratios[1]),
        mouth=mouth,
        neutral=MappingProxyType(neutral),
        tasks_offsets=MappingProxyType(offsets),
    )


MIN_VOWEL_SAMPLES = 3  # tracked frames per vowel (a tenth of a second of a held vowel)


def calibrate_vowels(
    samples: Mapping[str, Iterable[Landmarks]], camera: CameraIntrinsics, calibration: FaceCalibration
) -> FaceCalibration:
    """The user says (holds) each vowel for a moment: ``samples`` maps ``aa``/``ih``/``ou``/``ee``/
    ``oh`` to its frames. Returns ``calibration`` with ``vowels`` set to the median (open, width
    change) of each, measured against that calibration's neutral face, so the vowel prototypes
    are in the units this user's face and this tracker produce (see ``vtuber.solve.vowels``).
    Vowels not given keep the defaults. ``CalibrationError`` when a vowel has too few tracked
    frames or looks like a resting mouth."""
    n = calibration.neutral_features()
    out: dict[str, tuple[float, float]] = {}
    for vowel, frames in samples.items():
        if vowel not in VOWELS:
            raise CalibrationError(f"unknown vowel {vowel!r}: expected one of {', '.join(VOWELS)}")
        points = []
        for _lm, _face, _head, aligned in _tracked_faces(frames, camera):
            f = face_features(aligned)
            points.append((mouth_open_weight(f, n), mouth_width_change(f, n)))
        if len(points) < MIN_VOWEL_SAMPLES:
            raise CalibrationError(f"vowel {vowel!r}: needs at least {MIN_VOWEL_SAMPLES} frames with a tracked face, got {len(points)}")
        o, w = (float(v) for v in np.median(np.array(points), axis=0))
        if o < REST_OPEN and abs(w) < REST_WIDTH:  # vowel_weights would call it rest
            raise CalibrationError(f"vowel {vowel!r} looked like a resting mouth (open {o:.2f}, width change {w:+.3f}): say it clearly")
        out[vowel] = (o, w)
    return dataclasses.replace(calibration, vowels=MappingProxyType({**calibration.vowels, **out}))


# ---------------------------------------------------------------------------------------------
# TOML profile
# ---------------------------------------------------------------------------------------------


def _fmt(v: float) -> str:
    return repr(float(v))


def save_calibration(calibration: FaceCalibration, path: str | Path) -> None:
    """Write ``calibration`` as a TOML profile (``[face]`` table)."""
    c = calibration
    lines = [
        "# vtuber neutral face calibration (vtuber.solve.calibration)",
        "[face]",
        "neutral_rotation = [" + ", ".join(_fmt(v) for v in c.neutral_rotation) + "]  # x, y, z, w (internal frame)",
        "",
        "[face.left_eye]",
        f"open_ratio = {_fmt(c.left_eye.open_ratio)}",
        f"closed_ratio = {_fmt(c.left_eye.closed_ratio)}",
        "",
        "[face.right_eye]",
        f"open_ratio = {_fmt(c.right_eye.open_ratio)}",
        f"closed_ratio = {_fmt(c.right_eye.closed_ratio)}",
        "",
        "[face.mouth]",
        f"closed_ratio = {_fmt(c.mouth.closed_ratio)}",
        f"open_ratio = {_fmt(c.mouth.open_ratio)}",
        "",
        "[face.neutral]",
        *(f"{k} = {_fmt(v)}" for k, v in sorted(c.neutral.items())),
        "",
        "[face.tasks_offsets]",
        *(f"{k} = {_fmt(v)}" for k, v in sorted(c.tasks_offsets.items())),
        "",
    ]
    if c.vowels:
        lines += [
            "[face.vowels]  # open (0..1), width change (relative) of each calibrated vowel",
            *(f"{k} = [{_fmt(o)}, {_fmt(w)}]" for k, (o, w) in sorted(c.vowels.items())),
            "",
        ]
    Path(path).write_text("\n".join(lines), encoding="utf-8")


def load_calibration(path: str | Path) -> FaceCalibration:
    """Read a profile written by ``save_calibration``; ``ConfigError`` names the file and field."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read calibration profile ({exc})") from exc
    face = data.get("face")
    if not isinstance(face, dict):
        raise ConfigError(f"{path}: field 'face' must be a table")

    def number(value: Any, field: str, low: float = -math.inf, high: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
            raise ConfigError(f"{path}: field '{field}' must be a number in [{low}, {high}], got {value!r}")
        return float(value)

    rot = face.get("neutral_rotation", [0.0, 0.0, 0.0, 1.0])
    if not isinstance(rot, list) or len(rot) != 4:
        raise ConfigError(f"{path}: field 'face.neutral_rotation' must be 4 numbers [x, y, z, w]")
    q = np.array([number(v, "face.neutral_rotation", -1.0, 1.0) for v in rot])
    if abs(float(np.linalg.norm(q)) - 1.0) > 1e-3:
        raise ConfigError(f"{path}: field 'face.neutral_rotation' must be a unit quaternion")

    def table(name: str) -> dict[str, Any]:
        t = face.get(name, {})
        if not isinstance(t, dict):
            raise ConfigError(f"{path}: field 'face.{name}' must be a table")
        return t

    def eye(name: str) -> EyeRange:
        t = table(name)
        default = EyeRange()
        o = number(t.get("open_ratio", default.open_ratio), f"face.{name}.open_ratio", 0.0, 2.0)
        c = number(t.get("closed_ratio", default.closed_ratio), f"face.{name}.closed_ratio", 0.0, 2.0)
        if not o > c:
            raise ConfigError(f"{path}: field 'face.{name}.open_ratio' must be greater than closed_ratio")
        return EyeRange(o, c)

    m = table("mouth")
    mc = number(m.get("closed_ratio", MouthRange().closed_ratio), "face.mouth.closed_ratio", 0.0, 2.0)
    mo = number(m.get("open_ratio", MouthRange().open_ratio), "face.mouth.open_ratio", 0.0, 5.0)
    if not mo > mc:
        raise ConfigError(f"{path}: field 'face.mouth.open_ratio' must be greater than closed_ratio")
    known = neutral_features().keys()
    neutral = {}
    for k, v in table("neutral").items():
        if k not in known:
            raise ConfigError(f"{path}: field 'face.neutral.{k}' is not a known face feature")
        neutral[k] = number(v, f"face.neutral.{k}", -50.0, 50.0)
    offsets = {k: number(v, f"face.tasks_offsets.{k}", 0.0, MAX_TASKS_OFFSET) for k, v in table("tasks_offsets").items()}
    vowels = {}
    for k, v in table("vowels").items():
        if k not in VOWELS:
            raise ConfigError(f"{path}: field 'face.vowels.{k}' is not a vowel ({', '.join(VOWELS)})")
        if not isinstance(v, list) or len(v) != 2:
            raise ConfigError(f"{path}: field 'face.vowels.{k}' must be [open, width_change]")
        vowels[k] = (number(v[0], f"face.vowels.{k}", 0.0, 1.0), number(v[1], f"face.vowels.{k}", -1.0, 1.0))
    return FaceCalibration(
        neutral_rotation=q / np.linalg.norm(q),
        left_eye=eye("left_eye"),
        right_eye=eye("right_eye"),
        mouth=MouthRange(mc, mo),
        neutral=MappingProxyType(neutral),
        tasks_offsets=MappingProxyType(offsets),
        vowels=MappingProxyType(vowels),
    )


def describe(calibration: FaceCalibration) -> Mapping[str, float]:
    """A few headline numbers of a calibration (for logs)."""
    y, p, r = (math.degrees(a) for a in geometry.to_yaw_pitch_roll(calibration.neutral_rotation))
    return {"yaw_deg": y, "pitch_deg": p, "roll_deg": r, "left_open": calibration.left_eye.open_ratio, "right_open": calibration.right_eye.open_ratio}
