"""Face calibration: a user's neutral face and ranges -> ``FaceCalibration`` (``vtuber calibrate face``).

Steps (each a few seconds of a held expression; the guided CLI runs them in this order):

* ``calibrate_neutral(samples, camera)``: relaxed face looking at the camera. The head rotation's
  average becomes the zero of head rotation; the median of every face feature
  (``arkit.face_features``: brow heights, lip gap, mouth width and corners, iris offsets) the
  user's neutral; each eye's median lid ratio its open ratio (the closed ratio keeps the default
  closed/open proportion until the eyes-closed step); the median of each MediaPipe blendshape
  its resting offset.
* ``calibrate_eyes_closed``: both eyes closed. Each eye's closed lid ratio becomes the level 3/4
  of the held frames reach (``HOLD_QUANTILE``), so this user's closed eyes give blink 1.0.
* ``calibrate_eyes_wide``: eyes opened wide. Each eye's wide ratio (eyeWide 1.0) likewise, and
  the learned eyeWide channels' top (``FaceCalibration.tasks_tops``) when they respond (the
  learned eyeWide of some faces does not: it keeps its default curve).
* ``calibrate_mouth_wide``: mouth opened as wide as comfortable. The inner-lip gap there becomes
  the jawOpen = 1 gap (``FaceCalibration.lip_gap_open_cm``), the 2D ratio the top of
  ``MouthRange``, and the learned jawOpen's top.

Every step checks what it got (``CalibrationError``, one line naming the step and what to do):
the face tracked in at least ``MIN_SAMPLES`` frames and ``MIN_FACE_FRACTION`` of them, and the
expression really made (closed lids well below the neutral ones, wide lids above, a mouth open
by ``MOUTH_MIN_OPEN_CM`` beyond neutral). ``calibrate_vowels(samples, camera, calibration)``
(optional, the user says each vowel) adds the user's own vowel prototypes
(``vtuber.solve.vowels``).

``calibration_to_table`` / ``parse_face`` convert to and from the ``[face]`` table of a user
profile (``calibration/users/NAME.toml``, see ``vtuber.calibrate.store``); ``save_calibration`` /
``load_calibration`` do it on a file, keeping its other sections. A malformed table raises
``ConfigError`` naming the file and the field; fields added later (wide ratios, the open gap, the
learned tops, the steps list) are optional, so older profiles still load.
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
from vtuber.calibrate import store
from vtuber.errors import CalibrationError, ConfigError
from vtuber.records import FaceLandmarks, HeadPose, Landmarks
from vtuber.solve.arkit import ARKIT_52, align_face, face_features, fuse_mouth, neutral_features
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.eyes import DEFAULT_CLOSED_RATIO, DEFAULT_OPEN_RATIO, EyeRange, eye_openness_ratio
from vtuber.solve.head import solve_head
from vtuber.solve.mouth import (
    LIP_GAP_OPEN_CM,
    MouthRange,
    mouth_open_ratio,
    mouth_open_weight,
    mouth_width_change,
)
from vtuber.solve.rig import FaceCalibration
from vtuber.solve.vowels import REST_OPEN, REST_WIDTH, VOWELS

MIN_SAMPLES = 15  # half a second at 30 fps; a few seconds is recommended
MAX_TASKS_OFFSET = 0.5  # a "neutral" channel resting above this is an expression, not a rest level
MIN_FACE_FRACTION = 0.6  # a step that lost the face in more than 2 frames of 5 was not a steady hold
HOLD_QUANTILE = 0.75  # a held expression's range ends where 3/4 of its frames reach full weight
# Closed eyes measure about a third of their open lid ratio (0.06-0.10 against 0.23-0.28 on the
# development clips and renders); above 0.7 of open the lids were not closed.
CLOSED_MAX_FRACTION = 0.7
# A held wide-eyed look must open the lids 10 % beyond neutral: a single eye's ratio wanders about
# 4 % frame to frame on still renders and more on real faces (d10), so a narrower eyeWide range
# would turn that wander into flicker.
WIDE_MIN_GAIN = 0.10
# A wide-open mouth parts the inner lips far beyond neutral (d18's yawn: +4.4 cm, the renderer's
# widest jaw: +2.1 cm in the canonical face's units); under +0.8 cm is talking, not wide open.
MOUTH_MIN_OPEN_CM = 0.8
# A learned blendshape rising less than this above its resting level during the step does not
# respond to this face (eyeWide on some faces): its default curve stays.
TASKS_MIN_RANGE = 0.05
FACE_STEPS = ("neutral", "closed", "wide", "mouth")
STEP_TITLES = {"neutral": "neutral face", "closed": "eyes closed", "wide": "eyes wide", "mouth": "mouth wide open"}


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


def _features(face: FaceLandmarks, lm: Landmarks, head: HeadPose, camera: CameraIntrinsics, aligned: NDArray[np.float64]) -> dict[str, float]:
    """``face_features`` as ``solve_rig`` measures them: with the hybrid back end's second point
    set, its lip measures averaged in (``arkit.fuse_mouth``), so a calibration's neutral and
    ranges are in the units the live solve uses."""
    f = face_features(aligned)
    if face.head_points is not None and len(face.head_points) == len(face.points):
        f = fuse_mouth(f, face_features(align_face(face.head_points, lm.image_size, head, camera)))
    return f


def _held(step: str, samples: Iterable[Landmarks], camera: CameraIntrinsics, what: str) -> list[
    tuple[Landmarks, FaceLandmarks, HeadPose, NDArray[np.float64]]
]:
    """The tracked faces of one step's frames; ``CalibrationError`` when the face was found in
    too few of them (``MIN_SAMPLES``, ``MIN_FACE_FRACTION``). ``what`` says what to hold."""
    frames = list(samples)
    tracked = list(_tracked_faces(frames, camera))
    if len(tracked) < MIN_SAMPLES or len(tracked) < MIN_FACE_FRACTION * len(frames):
        raise CalibrationError(
            f"{STEP_TITLES.get(step, step)} step: face found in {len(tracked)} of {len(frames)} frames (needs {MIN_SAMPLES} "
            f"and {MIN_FACE_FRACTION:.0%}): face the camera in even light and {what} for a few seconds"
        )
    return tracked


def _quantile(values: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(values, dtype=np.float64), q))


def calibrate_neutral(samples: Iterable[Landmarks], camera: CameraIntrinsics) -> FaceCalibration:
    """Fold neutral-face frames into a ``FaceCalibration`` (see the module docstring). Starts a
    fresh calibration: the other steps' ranges are measured against this neutral."""
    rotations, feats, eyes, mouths = [], [], [], []
    tasks: dict[str, list[float]] = {}
    for lm, face, head, a in _held("neutral", samples, camera, "keep a relaxed face (eyes open, mouth closed)"):
        rotations.append(geometry.align_hemisphere(head.rotation, rotations[0]) if rotations else head.rotation)
        feats.append(_features(face, lm, head, camera, a))
        eyes.append((eye_openness_ratio(a, "left"), eye_openness_ratio(a, "right")))
        mouths.append(mouth_open_ratio(face, lm.image_size))
        for k, v in face.blendshapes.items():
            tasks.setdefault(k, []).append(float(v))
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
        lip_gap_open_cm=max(LIP_GAP_OPEN_CM, neutral["lip_gap"] + MOUTH_MIN_OPEN_CM),
    )


def _learned_tops(
    calibration: FaceCalibration, tracked: list[tuple[Landmarks, FaceLandmarks, HeadPose, NDArray[np.float64]]], names: tuple[str, ...]
) -> FaceCalibration:
    """``calibration`` with the learned channels ``names`` measured on a step whose geometric
    measure was just checked to move: a channel that rose at least ``TASKS_MIN_RANGE`` above the
    user's resting level gets its top (the level 3/4 of the frames reach); one that did not
    respond keeps its default curve (its top is dropped). Channels the tracker did not deliver
    (Face Mesh only) keep what the calibration had."""
    tops = dict(calibration.tasks_tops)
    for name in names:
        values = [float(face.blendshapes[name]) for _lm, face, _h, _a in tracked if name in face.blendshapes]
        if len(values) < MIN_SAMPLES:
            continue
        top = _quantile(values, 1.0 - HOLD_QUANTILE)
        if top - calibration.tasks_offsets.get(name, 0.0) >= TASKS_MIN_RANGE:
            tops[name] = top
        else:
            tops.pop(name, None)
    return dataclasses.replace(calibration, tasks_tops=MappingProxyType(tops))


def calibrate_eyes_closed(samples: Iterable[Landmarks], camera: CameraIntrinsics, calibration: FaceCalibration) -> FaceCalibration:
    """Both eyes held closed: each eye's closed ratio becomes the lid ratio 3/4 of the frames
    are at or below (blink reaches 1.0 there). ``CalibrationError`` naming the eye when its lids
    stayed above ``CLOSED_MAX_FRACTION`` of its open ratio."""
    tracked = _held("closed", samples, camera, "keep both eyes closed")
    ranges = {}
    for side, rng in (("left", calibration.left_eye), ("right", calibration.right_eye)):
        closed = _quantile([eye_openness_ratio(a, side) for *_r, a in tracked], HOLD_QUANTILE)
        if not closed < CLOSED_MAX_FRACTION * rng.open_ratio:
            raise CalibrationError(
                f"eyes closed step: the {side} eye's lid ratio stayed at {closed:.3f}, not below {CLOSED_MAX_FRACTION:.0%} of its "
                f"open {rng.open_ratio:.3f}: close both eyes fully and keep them closed for the whole step"
            )
        ranges[side] = EyeRange(rng.open_ratio, closed, rng.wide_ratio)
    return dataclasses.replace(calibration, left_eye=ranges["left"], right_eye=ranges["right"])


def calibrate_eyes_wide(samples: Iterable[Landmarks], camera: CameraIntrinsics, calibration: FaceCalibration) -> FaceCalibration:
    """Eyes held wide open: each eye's wide ratio becomes the lid ratio 3/4 of the frames reach
    (eyeWide 1.0 there), and the learned eyeWide channels' tops are set when they respond
    (``_learned_tops``).
    ``CalibrationError`` naming the eye when it opened less than ``WIDE_MIN_GAIN`` beyond neutral."""
    tracked = _held("wide", samples, camera, "keep your eyes opened wide")
    ranges = {}
    for side, rng in (("left", calibration.left_eye), ("right", calibration.right_eye)):
        wide = _quantile([eye_openness_ratio(a, side) for *_r, a in tracked], 1.0 - HOLD_QUANTILE)
        if not wide > (1.0 + WIDE_MIN_GAIN) * rng.open_ratio:
            raise CalibrationError(
                f"eyes wide step: the {side} eye's lid ratio reached {wide:.3f}, not {WIDE_MIN_GAIN:.0%} above its neutral "
                f"{rng.open_ratio:.3f}: open both eyes as wide as you can (raise the brows) and hold it"
            )
        ranges[side] = EyeRange(rng.open_ratio, rng.closed_ratio, wide)
    calibration = dataclasses.replace(calibration, left_eye=ranges["left"], right_eye=ranges["right"])
    return _learned_tops(calibration, tracked, ("eyeWideLeft", "eyeWideRight"))


def calibrate_mouth_wide(samples: Iterable[Landmarks], camera: CameraIntrinsics, calibration: FaceCalibration) -> FaceCalibration:
    """Mouth held wide open: the inner-lip gap (canonical cm) 3/4 of the frames reach becomes the
    jawOpen = 1 gap, the 2D lip ratio the top of ``MouthRange`` and the learned jawOpen's level
    its top. ``CalibrationError`` when the mouth opened less than ``MOUTH_MIN_OPEN_CM`` beyond
    the neutral gap. The learned jawOpen as in ``_learned_tops``."""
    tracked = _held("mouth", samples, camera, "keep your mouth open as wide as is comfortable")
    neutral_gap = calibration.neutral_features()["lip_gap"]
    gap = _quantile([_features(face, lm, head, camera, a)["lip_gap"] for lm, face, head, a in tracked], 1.0 - HOLD_QUANTILE)
    if not gap >= neutral_gap + MOUTH_MIN_OPEN_CM:
        raise CalibrationError(
            f"mouth wide open step: the lips parted {gap - neutral_gap:+.2f} cm beyond neutral (needs {MOUTH_MIN_OPEN_CM:g}): "
            "open your mouth as wide as is comfortable, as in a yawn, and hold it"
        )
    ratio = _quantile([mouth_open_ratio(face, lm.image_size) for lm, face, _h, _a in tracked], 1.0 - HOLD_QUANTILE)
    mouth = MouthRange(calibration.mouth.closed_ratio, ratio) if ratio > calibration.mouth.closed_ratio else calibration.mouth
    return _learned_tops(dataclasses.replace(calibration, lip_gap_open_cm=gap, mouth=mouth), tracked, ("jawOpen",))


STEP_FUNCTIONS = {"closed": calibrate_eyes_closed, "wide": calibrate_eyes_wide, "mouth": calibrate_mouth_wide}
"""The steps after neutral: ``fn(samples, camera, calibration) -> calibration``."""


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
        for lm, face, head, aligned in _tracked_faces(frames, camera):
            f = _features(face, lm, head, camera, aligned)
            points.append((mouth_open_weight(f, n, calibration.lip_gap_open_cm), mouth_width_change(f, n)))
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


def calibration_to_table(calibration: FaceCalibration, steps: Iterable[str] = ()) -> dict[str, Any]:
    """The ``[face]`` table of a user profile (``vtuber.calibrate.store.save_user_section``).
    ``steps`` names the guided steps this calibration went through (kept for listing)."""
    c = calibration

    def eye(r: EyeRange) -> dict[str, float]:
        out = {"open_ratio": float(r.open_ratio), "closed_ratio": float(r.closed_ratio)}
        if r.wide_ratio is not None:
            out["wide_ratio"] = float(r.wide_ratio)
        return out

    table: dict[str, Any] = {}
    if steps:
        table["steps"] = [str(s) for s in steps]
    table["neutral_rotation"] = [float(v) for v in c.neutral_rotation]
    table["lip_gap_open_cm"] = float(c.lip_gap_open_cm)
    table["left_eye"] = eye(c.left_eye)
    table["right_eye"] = eye(c.right_eye)
    table["mouth"] = {"closed_ratio": float(c.mouth.closed_ratio), "open_ratio": float(c.mouth.open_ratio)}
    table["neutral"] = {k: float(v) for k, v in sorted(c.neutral.items())}
    table["tasks_offsets"] = {k: float(v) for k, v in sorted(c.tasks_offsets.items())}
    if c.tasks_tops:
        table["tasks_tops"] = {k: float(v) for k, v in sorted(c.tasks_tops.items())}
    if c.vowels:
        table["vowels"] = {k: [float(o), float(w)] for k, (o, w) in sorted(c.vowels.items())}
    return table


def save_calibration(calibration: FaceCalibration, path: str | Path, steps: Iterable[str] = ()) -> None:
    """Write ``calibration`` as the ``[face]`` table of the TOML profile at ``path``, keeping the
    file's other sections (``[body]``) when it already exists."""
    path = Path(path)
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = store.read_toml(path)
        except ConfigError:
            data = {}
    data["face"] = calibration_to_table(calibration, steps)
    store.write_toml(path, data)


def load_calibration(path: str | Path) -> FaceCalibration:
    """Read the ``[face]`` table of a profile; ``ConfigError`` names the file and field."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read calibration profile ({exc})") from exc
    face = data.get("face")
    if not isinstance(face, dict):
        raise ConfigError(f"{path}: field 'face' must be a table")
    return parse_face(face, str(path))


def face_steps(face: Mapping[str, Any]) -> list[str]:
    """The guided steps a ``[face]`` table records (older profiles: neutral only)."""
    steps = face.get("steps")
    if isinstance(steps, list) and all(isinstance(s, str) for s in steps):
        return [s for s in steps if s in FACE_STEPS]
    return ["neutral"]


def parse_face(face: Mapping[str, Any], where: str) -> FaceCalibration:
    """A ``FaceCalibration`` from a profile's ``[face]`` table (``where``: the file, for the
    messages). Raises ``ConfigError`` like ``FILE: field 'face.left_eye.open_ratio' must ...``."""

    def number(value: Any, field: str, low: float = -math.inf, high: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
            raise ConfigError(f"{where}: field '{field}' must be a number in [{low}, {high}], got {value!r}")
        return float(value)

    rot = face.get("neutral_rotation", [0.0, 0.0, 0.0, 1.0])
    if not isinstance(rot, list) or len(rot) != 4:
        raise ConfigError(f"{where}: field 'face.neutral_rotation' must be 4 numbers [x, y, z, w]")
    q = np.array([number(v, "face.neutral_rotation", -1.0, 1.0) for v in rot])
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > 1e-3:
        raise ConfigError(f"{where}: field 'face.neutral_rotation' must be a unit quaternion")
    if abs(norm - 1.0) > 1e-12:  # a hand-edited value; a saved one stays bit for bit (replays)
        q = q / norm

    def table(name: str) -> dict[str, Any]:
        t = face.get(name, {})
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: field 'face.{name}' must be a table")
        return t

    def eye(name: str) -> EyeRange:
        t = table(name)
        default = EyeRange()
        o = number(t.get("open_ratio", default.open_ratio), f"face.{name}.open_ratio", 0.0, 2.0)
        c = number(t.get("closed_ratio", default.closed_ratio), f"face.{name}.closed_ratio", 0.0, 2.0)
        if not o > c:
            raise ConfigError(f"{where}: field 'face.{name}.open_ratio' must be greater than closed_ratio")
        w = None
        if "wide_ratio" in t:
            w = number(t["wide_ratio"], f"face.{name}.wide_ratio", 0.0, 2.0)
            if not w > o:
                raise ConfigError(f"{where}: field 'face.{name}.wide_ratio' must be greater than open_ratio")
        return EyeRange(o, c, w)

    m = table("mouth")
    mc = number(m.get("closed_ratio", MouthRange().closed_ratio), "face.mouth.closed_ratio", 0.0, 2.0)
    mo = number(m.get("open_ratio", MouthRange().open_ratio), "face.mouth.open_ratio", 0.0, 5.0)
    if not mo > mc:
        raise ConfigError(f"{where}: field 'face.mouth.open_ratio' must be greater than closed_ratio")
    known = neutral_features().keys()
    neutral = {}
    for k, v in table("neutral").items():
        if k not in known:
            raise ConfigError(f"{where}: field 'face.neutral.{k}' is not a known face feature")
        neutral[k] = number(v, f"face.neutral.{k}", -50.0, 50.0)
    if "mouth_width" in neutral and not neutral["mouth_width"] > 0.1:  # cm; the width change divides by it
        raise ConfigError(f"{where}: field 'face.neutral.mouth_width' must be a width in cm above 0.1, got {neutral['mouth_width']!r}")
    offsets = {k: number(v, f"face.tasks_offsets.{k}", 0.0, MAX_TASKS_OFFSET) for k, v in table("tasks_offsets").items()}
    tops = {}
    for k, v in table("tasks_tops").items():
        if k not in ARKIT_52:
            raise ConfigError(f"{where}: field 'face.tasks_tops.{k}' is not an ARKit blendshape")
        tops[k] = number(v, f"face.tasks_tops.{k}", 0.0, 1.0)
        if tops[k] - offsets.get(k, 0.0) < TASKS_MIN_RANGE:
            raise ConfigError(f"{where}: field 'face.tasks_tops.{k}' must be at least {TASKS_MIN_RANGE} above its tasks_offsets level")
    vowels = {}
    for k, v in table("vowels").items():
        if k not in VOWELS:
            raise ConfigError(f"{where}: field 'face.vowels.{k}' is not a vowel ({', '.join(VOWELS)})")
        if not isinstance(v, list) or len(v) != 2:
            raise ConfigError(f"{where}: field 'face.vowels.{k}' must be [open, width_change]")
        vowels[k] = (number(v[0], f"face.vowels.{k}", 0.0, 1.0), number(v[1], f"face.vowels.{k}", -1.0, 1.0))
    neutral_gap = {**neutral_features(), **neutral}["lip_gap"]
    default_gap = max(LIP_GAP_OPEN_CM, neutral_gap + MOUTH_MIN_OPEN_CM)
    gap = number(face.get("lip_gap_open_cm", default_gap), "face.lip_gap_open_cm", 0.0, 20.0)
    if not gap > neutral_gap:
        raise ConfigError(f"{where}: field 'face.lip_gap_open_cm' must be greater than the neutral lip gap {neutral_gap:.3f}")
    return FaceCalibration(
        neutral_rotation=q,
        left_eye=eye("left_eye"),
        right_eye=eye("right_eye"),
        mouth=MouthRange(mc, mo),
        neutral=MappingProxyType(neutral),
        tasks_offsets=MappingProxyType(offsets),
        vowels=MappingProxyType(vowels),
        lip_gap_open_cm=gap,
        tasks_tops=MappingProxyType(tops),
    )


def describe(calibration: FaceCalibration) -> Mapping[str, float]:
    """A few headline numbers of a calibration (for logs)."""
    y, p, r = (math.degrees(a) for a in geometry.to_yaw_pitch_roll(calibration.neutral_rotation))
    return {"yaw_deg": y, "pitch_deg": p, "roll_deg": r, "left_open": calibration.left_eye.open_ratio, "right_open": calibration.right_eye.open_ratio}
