"""``vtuber bench face``: head-pose, eye and mouth accuracy, smoothing, and solver cost.

Parts (each a function returning a plain dict of numbers, so tests can call them alone):

* ``synthetic_head``: the astronaut rendered by ``vtuber.synth.face_render`` at known
  yaw/pitch/roll, each pose a fresh MediaPipe detection held for a few frames, solved with the
  default 60 degree intrinsics and with the renderer's true ones: mean absolute (and signed) error
  per axis.
* ``mead_head``: the MEAD clips in ../shared/media/dreamtalk_mead against their BFM fits
  (``coeff[:, 224:227]``), after removing a constant per-clip offset; next to it a constant (0
  degree) solver's score, the error after one global offset, and the per-axis correlation.
* ``jitter_and_lag``: static-face output std with the ``balanced`` preset over 20 s (after a
  warm-up; the start-up transient reported separately), and frames to 90% of a 20 degree yaw step with the
  ``responsive`` preset at 30 fps.
* ``blinks``: precision/recall/F1 and wink checks on the hand labels in tests/data/blink_labels.toml.
* ``winks``: one eye closed at six poses (and at held-out random poses), per-eye blink of the
  closed and the open eye.
* ``vowels``: the five prototype mouths (and the earlier exaggerated ones) and which vowel wins
  on each, with the default prototypes and after ``calibrate_vowels`` (scored on poses other than
  the calibration's).
* ``cost``: per-solver time per frame.

Tracked landmarks of real clips are cached (``.npz`` per clip and back end) under ``cache_dir``
so re-runs only pay for solving.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from vtuber.records import FaceLandmarks, Frame, Landmarks

REPO = Path(__file__).resolve().parents[2]
MEDIA_DIR = Path(os.environ.get("VTUBER_MEDIA_DIR", REPO.parent / "shared" / "media"))
MODELS_DIR = Path(os.environ.get("VTUBER_MODELS_DIR", REPO.parent / "shared" / "models"))
DEFAULT_CACHE = Path(os.environ.get("VTUBER_BENCH_CACHE", Path.home() / ".cache" / "vtuber" / "bench"))
LABELS_PATH = REPO / "tests" / "data" / "blink_labels.toml"


# ---------------------------------------------------------------------------------------------
# Tracking (cached)
# ---------------------------------------------------------------------------------------------


def read_frames(path: str | Path) -> list[Frame]:
    """All frames of a video file (RGB), with stream-time stamps."""
    from vtuber.capture.video import VideoFileSource

    src = VideoFileSource(path)
    frames = []
    try:
        while (f := src.read()) is not None:
            frames.append(f)
    finally:
        src.close()
    return frames


def tracked_clip(path: str | Path, backend: str = "tasks", cache_dir: Path | None = DEFAULT_CACHE) -> dict[str, Any]:
    """MediaPipe landmarks of every frame of a clip: ``points`` (N, 478, 3) float32 (NaN where
    no face), ``t`` (N,), ``size`` (w, h), ``blendshapes`` (N, 52) with ``names`` (tasks only)."""
    path = Path(path)
    key = hashlib.sha1(f"{path.resolve()}:{path.stat().st_size}:{backend}".encode()).hexdigest()[:12]
    cached = None if cache_dir is None else Path(cache_dir) / f"{path.stem}-{backend}-{key}.npz"
    if cached is not None and cached.is_file():
        with np.load(cached) as data:
            out = {k: data[k] for k in data.files}
        out["names"] = [str(n) for n in out["names"]]
        return out
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    frames = read_frames(path)
    tracker = MediaPipeTracker("face", face_backend=backend, models_dir=str(MODELS_DIR), download_models=False)
    points = np.full((len(frames), 478, 3), np.nan, np.float32)
    names: list[str] = []
    shapes = np.full((len(frames), 52), np.nan, np.float32)
    try:
        for i, frame in enumerate(frames):
            face = tracker.track(frame).face
            if face is None or len(face.points) < 478:
                continue
            points[i] = face.points[:478]
            if face.blendshapes:
                if not names:
                    names = sorted(face.blendshapes)
                shapes[i, : len(names)] = [face.blendshapes.get(n, np.nan) for n in names]
    finally:
        tracker.close()
    out = {
        "points": points,
        "t": np.array([f.t for f in frames]),
        "size": np.array(frames[0].size if frames else (0, 0)),
        "blendshapes": shapes,
        "names": names,
    }
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cached, **{**out, "names": np.array(names, dtype=str)})
    return out


def clip_landmarks(data: dict[str, Any], i: int) -> Landmarks:
    """Frame ``i`` of a ``tracked_clip`` result as a ``Landmarks`` record."""
    size = (int(data["size"][0]), int(data["size"][1]))
    p = data["points"][i]
    face = None
    if np.all(np.isfinite(p)):
        shapes = {}
        if data["names"]:
            row = data["blendshapes"][i]
            shapes = {n: float(v) for n, v in zip(data["names"], row) if math.isfinite(float(v))}
        face = FaceLandmarks(points=p, blendshapes=shapes)
    return Landmarks(t=float(data["t"][i]), index=i, image_size=size, face=face)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _angles_deg(q: np.ndarray) -> np.ndarray:
    from vtuber import geometry

    return np.degrees(geometry.to_yaw_pitch_roll(q))


def _engine_camera(width: int, height: int, true: Any | None = None) -> Any:
    from vtuber.solve.camera import CameraIntrinsics

    if true is None:
        return CameraIntrinsics.from_fov(width, height)  # the engine's 60 degree default
    return CameraIntrinsics(width, height, true.fx, true.fy, true.cx - 0.5, true.cy - 0.5)


class _Synth:
    """Renders FaceStates and tracks them with one MediaPipe tracker (VIDEO mode, 30 fps clock)."""

    def __init__(self, backend: str = "tasks", size: int = 480) -> None:
        from vtuber.synth.face_render import CameraIntrinsics as SynthCamera
        from vtuber.synth.face_render import FaceRenderer

        self.backend = backend
        self.renderer = FaceRenderer.astronaut()
        self.camera = SynthCamera.from_fov(size, size)
        self.tracker = self._open()
        self.t = 0.0
        self.index = 0

    def _open(self) -> Any:
        from vtuber.track.mediapipe_adapter import MediaPipeTracker

        return MediaPipeTracker("face", face_backend=self.backend, models_dir=str(MODELS_DIR), download_models=False)

    def track(self, state: Any, noise: float = 0.0, rng: np.random.Generator | None = None) -> Landmarks:
        image = self.renderer.render(state, self.camera)
        if noise:
            assert rng is not None
            image = np.clip(image + rng.normal(0.0, noise, image.shape), 0, 255).astype(np.uint8)
        frame = Frame(image=image, t=self.t, index=self.index)
        self.t += 1.0 / 30.0
        self.index += 1
        return self.tracker.track(frame)

    def reset_tracking(self) -> None:
        """A new tracker, so the next frame is a fresh detection. (Jumping the clock is not
        enough: in VIDEO mode MediaPipe keeps tracking from the previous frame's face region
        whatever the time gap, and a region rotated for an unrelated pose gives landmarks tens
        of pixels off or no face at all: 5 of 40 renders were lost that way.)"""
        self.tracker.close()
        self.tracker = self._open()
        self.t += 1.0

    def close(self) -> None:
        self.tracker.close()


# ---------------------------------------------------------------------------------------------
# Head pose: synthetic renders and MEAD clips
# ---------------------------------------------------------------------------------------------


def synthetic_head(synth: _Synth, count: int = 60, seed: int = 0, hold_frames: int = 6) -> dict[str, Any]:
    """Mean absolute yaw/pitch/roll error (degrees) on renders at random poses (yaw +-40,
    pitch +-25, roll +-30), with the default 60 degree intrinsics and with the true ones.

    Each pose is a fresh detection (``reset_tracking``) held for ``hold_frames`` frames: the
    headline numbers (``default``, ``true``) are on the last, tracked frame (MediaPipe's tracking
    refines its face region for a few frames and its landmarks move by up to ~2 degrees of head
    rotation meanwhile: what a user holding a pose gets), ``detection_frame`` on the first.
    ``signed`` is the mean signed error (a constant bias or convention error shows there)."""
    from vtuber.solve.head import solve_head
    from vtuber.synth.face_render import FaceState

    rng = np.random.default_rng(seed)
    w, h = synth.camera.size
    cams = {"default": _engine_camera(w, h), "true": _engine_camera(w, h, synth.camera)}
    errors: dict[str, list[np.ndarray]] = {k: [] for k in cams}
    first: dict[str, list[np.ndarray]] = {k: [] for k in cams}
    missed = 0
    for _ in range(count):
        yaw, pitch, roll = rng.uniform([-40, -25, -30], [40, 25, 30])
        state = FaceState.from_angles(yaw, pitch, roll)
        truth = np.array([yaw, pitch, roll])
        synth.reset_tracking()
        for k in range(max(1, hold_frames)):
            lm = synth.track(state)
            if k == 0 and lm.face is not None:
                for name, cam in cams.items():
                    pose = solve_head(lm.face, lm.image_size, cam)
                    if pose is not None:
                        first[name].append(_angles_deg(pose.rotation) - truth)
        if lm.face is None:
            missed += 1
            continue
        for name, cam in cams.items():
            pose = solve_head(lm.face, lm.image_size, cam)
            if pose is None:
                missed += 1
                continue
            errors[name].append(_angles_deg(pose.rotation) - truth)

    def summary(e: list[np.ndarray]) -> dict[str, Any]:
        a = np.array(e).reshape(-1, 3)
        m = np.mean(np.abs(a), axis=0)
        return {"yaw": float(m[0]), "pitch": float(m[1]), "roll": float(m[2]), "signed": [float(v) for v in a.mean(axis=0)], "max": [float(v) for v in np.abs(a).max(axis=0)]}

    out: dict[str, Any] = {"frames": count, "missed": missed, "hold_frames": hold_frames}
    for k in cams:
        out[k] = summary(errors[k])
    out["detection_frame"] = {k: summary(first[k]) for k in cams}
    return out


MEAD_SIGNS = (1.0, 1.0, 1.0)
"""(yaw, pitch, roll) signs mapping the MEAD/BFM fit angles (``coeff[:, 224:227]`` = pitch, yaw,
roll) onto ours: found by the sign of the per-axis correlation over all clips (``mead_head``
reports the correlations) and fixed here."""


def mead_head(backend: str = "tasks", cache_dir: Path | None = DEFAULT_CACHE) -> dict[str, Any]:
    """Per-axis mean absolute difference (degrees) between our head angles and the MEAD 3D fits
    after removing a constant per-clip offset (the headline ``yaw``/``pitch``/``roll``); plus the
    correlation that fixed each axis' sign (per-clip means removed; a constant solver's is 0).

    The clips hold little head motion, so the per-clip metric alone says little: ``constant``
    is the same metric for a solver that always outputs 0 degrees (the fits' own spread about each
    clip's mean), and ``global_offset`` (with ``constant_global_offset``) the error after removing
    ONE offset over all clips instead of one per clip."""
    import scipy.io

    from vtuber.solve.head import solve_head

    clips = sorted((MEDIA_DIR / "dreamtalk_mead").glob("*.mp4"))
    ours_all, ref_all, per_clip = [], [], {}
    for clip in clips:
        mat = clip.with_suffix(".mat")
        if not mat.is_file():
            continue
        coeff = scipy.io.loadmat(str(mat))["coeff"]
        ref = np.degrees(coeff[:, [225, 224, 226]])  # -> (yaw, pitch, roll) order
        data = tracked_clip(clip, backend, cache_dir)
        w, h = (int(v) for v in data["size"])
        cam = _engine_camera(w, h)
        previous = None
        ours = np.full((len(data["points"]), 3), np.nan)
        for i in range(len(data["points"])):
            lm = clip_landmarks(data, i)
            if lm.face is None:
                continue
            pose = solve_head(lm.face, lm.image_size, cam, previous)
            if pose is not None:
                ours[i] = _angles_deg(pose.rotation)
                previous = pose
        n = min(len(ours), len(ref))
        ok = np.all(np.isfinite(ours[:n]), axis=1)
        ours_all.append(ours[:n][ok])
        ref_all.append(ref[:n][ok])
        per_clip[clip.stem] = int(ok.sum())
    corr = []
    for axis in range(3):
        a = np.concatenate([o[:, axis] - o[:, axis].mean() for o in ours_all])
        b = np.concatenate([r[:, axis] - r[:, axis].mean() for r in ref_all])
        corr.append(float(np.corrcoef(a, b)[0, 1]))
    signs = np.array(MEAD_SIGNS)

    def per_clip_mae(outs: list[np.ndarray]) -> np.ndarray:
        diffs = []
        for o, r in zip(outs, ref_all):
            d = o - r * signs
            diffs.append(np.abs(d - d.mean(axis=0)))
        return np.mean(np.concatenate(diffs), axis=0)

    def global_mae(outs: list[np.ndarray]) -> np.ndarray:
        d = np.concatenate([o - r * signs for o, r in zip(outs, ref_all)])
        return np.mean(np.abs(d - d.mean(axis=0)), axis=0)

    def axes(v: np.ndarray) -> dict[str, float]:
        return {"yaw": float(v[0]), "pitch": float(v[1]), "roll": float(v[2])}

    zeros = [np.zeros_like(o) for o in ours_all]
    mae = per_clip_mae(ours_all)
    return {
        "clips": len(ours_all),
        "frames": int(sum(len(o) for o in ours_all)),
        "correlation_yaw_pitch_roll": corr,
        "yaw": float(mae[0]),
        "pitch": float(mae[1]),
        "roll": float(mae[2]),
        "constant": axes(per_clip_mae(zeros)),
        "global_offset": axes(global_mae(ours_all)),
        "constant_global_offset": axes(global_mae(zeros)),
    }


# ---------------------------------------------------------------------------------------------
# Smoothing: static jitter and step lag (synthetic renders through MediaPipe)
# ---------------------------------------------------------------------------------------------


JITTER_FRAMES = 600
"""Static-jitter window (frames at 30 fps: 20 s) after the warm-up. The balanced filter passes
head rotation at ~0.25 Hz, so its output holds few independent samples per second: over a 60-frame
(2 s) window the std of synthetic 0.4 degree noise came out 0.055 degree on average over 40 seeds
(single windows 0.034-0.089) against 0.070 over 600 frames, about 21 % low and noisy."""


def jitter_and_lag(synth: _Synth, frames: int = JITTER_FRAMES, noise: float = 2.0, seed: int = 1, warmup: int = 60) -> dict[str, Any]:
    """Static face with camera-like pixel noise (``noise`` grey levels std): raw and ``balanced``
    head jitter (std, degrees, worst axis) over ``frames`` frames (default ``JITTER_FRAMES``, 20 s;
    a few seconds hold few independent samples of the balanced filter's slow wander) after ``warmup`` frames; then a
    20 degree yaw step at 30 fps through the ``responsive`` preset: frames (counting the step's
    first frame) until 90% of the step.

    Why a warm-up: after a fresh detection MediaPipe's tracking moves the landmarks by ~1-2
    degrees of head rotation over its first ~5 frames (it refines its face region), and the
    balanced filter (0.25 Hz at rest) follows such a slow shift over ~2 s. That start-up
    transient is lag, not jitter; it is reported on its own (``startup_*``) instead of being mixed
    into the std."""
    from vtuber.smooth import RigSmoother
    from vtuber.solve.rig import solve_rig
    from vtuber.synth.face_render import FaceState

    rng = np.random.default_rng(seed)
    w, h = synth.camera.size
    cam = _engine_camera(w, h)
    smoother = RigSmoother("balanced")
    raw, smooth = [], []
    previous = None
    synth.reset_tracking()
    state = FaceState.from_angles(10.0, 5.0, 0.0)
    for _ in range(warmup + frames):
        rig = solve_rig(synth.track(state, noise, rng), cam, previous_head=previous)
        previous = rig.head
        out = smoother.update(rig)
        if rig.head is not None and out.head is not None:
            raw.append(_angles_deg(rig.head.rotation))
            smooth.append(_angles_deg(out.head.rotation))
        else:
            raw.append(np.full(3, np.nan))
            smooth.append(np.full(3, np.nan))
    raw_a, smooth_a = np.array(raw), np.array(smooth)
    raw_std = np.nanstd(raw_a[warmup:], axis=0)
    smooth_std = np.nanstd(smooth_a[warmup:], axis=0)
    final = np.nanmean(raw_a[warmup:], axis=0)
    startup_shift = float(np.nanmax(np.abs(raw_a[:warmup] - final)))
    far = np.nanmax(np.abs(smooth_a - final), axis=1) > 0.1
    settled = int(np.max(np.nonzero(far)[0]) + 1) if far.any() else 0
    # a filter-independent check: frame-to-frame differences of the smoothed output
    diff_std = np.nanstd(np.diff(smooth_a[warmup:], axis=0), axis=0) / math.sqrt(2.0)

    smoother = RigSmoother("responsive")
    synth.reset_tracking()
    previous = None
    yaws = []
    raw_yaws = []
    for k in range(30):
        yaw = 0.0 if k < 15 else 20.0
        rig = solve_rig(synth.track(FaceState.from_angles(yaw, 0.0, 0.0), noise, rng), cam, previous_head=previous)
        previous = rig.head
        out = smoother.update(rig)
        yaws.append(_angles_deg(out.head.rotation)[0] if out.head is not None else np.nan)
        raw_yaws.append(_angles_deg(rig.head.rotation)[0] if rig.head is not None else np.nan)
    before = float(np.nanmean(raw_yaws[10:15]))
    after = float(np.nanmean(raw_yaws[20:30]))
    target = before + 0.9 * (after - before)
    frames_to_90 = next((k - 15 + 1 for k in range(15, 30) if yaws[k] >= target), None)
    return {
        "jitter_frames": int(frames),
        "jitter_warmup_frames": int(warmup),
        "jitter_raw_deg": [float(v) for v in raw_std],
        "jitter_balanced_deg": [float(v) for v in smooth_std],
        "jitter_balanced_worst_deg": float(smooth_std.max()),
        "jitter_balanced_diff_deg": [float(v) for v in diff_std],
        "startup_raw_shift_deg": startup_shift,
        "startup_balanced_settle_frames": settled,
        "step_measured_deg": after - before,
        "step_frames_to_90": frames_to_90,
    }


# ---------------------------------------------------------------------------------------------
# Blinks (hand labels) and winks (synthetic)
# ---------------------------------------------------------------------------------------------


def load_labels(path: Path = LABELS_PATH) -> list[dict[str, Any]]:
    import tomllib

    return list(tomllib.loads(path.read_text(encoding="utf-8"))["clip"])


def _in_ranges(i: int, ranges: list[list[int]]) -> bool:
    return any(a <= i <= b for a, b in ranges)


def _events(mask: np.ndarray) -> list[tuple[int, int]]:
    out, start = [], None
    for i, v in enumerate(list(mask) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - 1))
            start = None
    return out


def blinks(backend: str = "tasks", source: str = "landmarks", cache_dir: Path | None = DEFAULT_CACHE, threshold: float = 0.5) -> dict[str, Any]:
    """Blink detection on the labelled clips. A frame is "closed" when both eyes' blink >= 0.5.
    Frame-level precision/recall/F1 over labelled frames (``ignore`` ranges left out) and
    event-level F1 (a labelled blink is found when a detected run overlaps it; a detected run
    outside every blink and ignore range is a false positive). ``source``: ``landmarks`` (our
    per-eye lid geometry) or ``tasks`` (MediaPipe's eyeBlink coefficients through their curves)."""
    from vtuber.solve.arkit import TASKS_CURVES, apply_curves
    from vtuber.solve.rig import solve_rig

    tp = fp = fn = 0
    ev_tp = ev_fp = ev_fn = 0
    per_clip = {}
    for clip in load_labels():
        path = MEDIA_DIR / clip["file"]
        if not path.is_file():
            continue
        data = tracked_clip(path, backend, cache_dir)
        w, h = (int(v) for v in data["size"])
        cam = _engine_camera(w, h)
        closed = np.zeros(len(data["points"]), bool)
        previous = None
        for i in range(len(data["points"])):
            lm = clip_landmarks(data, i)
            rig = solve_rig(lm, cam, previous_head=previous)
            previous = rig.head
            if source == "tasks" and lm.face is not None and lm.face.blendshapes:
                b = apply_curves({k: lm.face.blendshapes[k] for k in ("eyeBlinkLeft", "eyeBlinkRight")}, TASKS_CURVES)
            else:
                b = rig.blendshapes
            closed[i] = min(b.get("eyeBlinkLeft", 0.0), b.get("eyeBlinkRight", 0.0)) >= threshold
        truth = np.array([_in_ranges(i, clip.get("closed", [])) for i in range(len(closed))])
        ignore = np.array([_in_ranges(i, clip.get("ignore", [])) for i in range(len(closed))])
        use = ~ignore
        c_tp = int(np.sum(closed & truth & use))
        c_fp = int(np.sum(closed & ~truth & use))
        c_fn = int(np.sum(~closed & truth & use))
        tp, fp, fn = tp + c_tp, fp + c_fp, fn + c_fn
        detected = _events(closed)
        for a, b in clip.get("closed", []):
            if any(s <= b + 1 and e >= a - 1 for s, e in detected):
                ev_tp += 1
            else:
                ev_fn += 1
        for s, e in detected:
            frames = range(s, e + 1)
            if not any(truth[i] or ignore[i] for i in frames):
                ev_fp += 1
        per_clip[clip["file"]] = {"tp": c_tp, "fp": c_fp, "fn": c_fn}

    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0

    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    ev_p = ev_tp / (ev_tp + ev_fp) if ev_tp + ev_fp else 0.0
    ev_r = ev_tp / (ev_tp + ev_fn) if ev_tp + ev_fn else 0.0
    return {
        "source": source,
        "frame_precision": precision,
        "frame_recall": recall,
        "frame_f1": f1(precision, recall),
        "event_precision": ev_p,
        "event_recall": ev_r,
        "event_f1": f1(ev_p, ev_r),
        "per_clip": per_clip,
    }


def _calibrate(synth: _Synth, pose: tuple[float, float, float] = (0.0, 0.0, 0.0), frames: int = 20) -> Any:
    """Neutral calibration on renders of the resting face (the product's start-up step)."""
    from vtuber.solve.calibration import calibrate_neutral
    from vtuber.synth.face_render import FaceState

    w, h = synth.camera.size
    synth.reset_tracking()
    samples = [synth.track(FaceState.from_angles(*pose)) for _ in range(frames)]
    return calibrate_neutral(samples, _engine_camera(w, h))


OPEN_FRAMES, WINK_FRAMES = 3, 4
WINK_POSES = ((0.0, 0.0, 0.0), (20.0, 5.0, 0.0), (-20.0, -5.0, 5.0), (30.0, 10.0, -10.0), (-30.0, 0.0, 10.0), (0.0, 15.0, 0.0))


def _wink_rows(synth: _Synth, poses: Any, cam: Any, calib: Any) -> list[dict[str, Any]]:
    """One wink per pose and eye: the closed and the open eye's blink on the last wink frame."""
    from vtuber.solve.rig import solve_rig
    from vtuber.synth.face_render import FaceState

    rows = []
    for pose in poses:
        for side in ("left", "right"):
            synth.reset_tracking()
            previous = None
            # the face is found with both eyes open, then winks for a few frames (as a person
            # does: tracking continues through the wink)
            for k in range(OPEN_FRAMES + WINK_FRAMES):
                closed = 1.0 if k >= OPEN_FRAMES else 0.0
                state = FaceState.from_angles(*pose, **{f"eye_closed_{side}": closed})
                rig = solve_rig(synth.track(state), cam, calib, previous_head=previous)
                previous = rig.head
            closed = rig.blendshapes.get("eyeBlinkLeft" if side == "left" else "eyeBlinkRight", 0.0)
            opened = rig.blendshapes.get("eyeBlinkRight" if side == "left" else "eyeBlinkLeft", 1.0)
            rows.append({"pose": tuple(float(v) for v in pose), "side": side, "closed": float(closed), "open": float(opened)})
    return rows


def _wink_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = sum(r["closed"] >= 0.8 and r["open"] <= 0.3 for r in rows)
    return {
        "frames": len(rows),
        "passed": int(ok),
        "min_closed": min(r["closed"] for r in rows),
        "max_open": max(r["open"] for r in rows),
        "rows": rows,
    }


def winks(synth: _Synth, held_out: int = 12, seed: int = 11) -> dict[str, Any]:
    """Synthetic winks (one eye fully closed) at several head poses: the closed eye's blink and
    the open eye's; passes when closed >= 0.8 and open <= 0.3 in every frame.

    The headline is ``WINK_POSES``; ``held_out`` more poses drawn at random (yaw +-40, pitch and
    roll +-20 degrees, ``seed``) are reported as ``held_out`` (0: skipped), because six fixed poses
    said little: the trackers' lids fail at many turned poses the fixed six happen to miss."""
    w, h = synth.camera.size
    cam = _engine_camera(w, h)
    calib = _calibrate(synth)
    out = _wink_summary(_wink_rows(synth, WINK_POSES, cam, calib))
    if held_out:
        rng = np.random.default_rng(seed)
        poses = [tuple(rng.uniform([-40.0, -20.0, -20.0], [40.0, 20.0, 20.0])) for _ in range(held_out)]
        out["held_out"] = _wink_summary(_wink_rows(synth, poses, cam, calib))
    return out


# ---------------------------------------------------------------------------------------------
# Vowels (synthetic mouth shapes)
# ---------------------------------------------------------------------------------------------

VOWEL_SHAPES = {  # renderer (jaw_open, mouth_wide) whose exact landmarks give vowels.PROTOTYPES
    "aa": (0.6, 0.3),
    "ih": (0.09, 0.92),
    "ou": (0.03, -0.943),
    "ee": (0.31, 0.73),
    "oh": (0.287, -0.642),
}
"""The five vowel mouths the default prototypes define, rendered: each (jaw_open, mouth_wide) was
found by inverting the renderer on its exact (ground-truth) landmarks, frontal face, so that the
solver's (open, width change) equals ``vowels.PROTOTYPES`` (no tracker involved; pinned in
tests/unit/test_solve_expressions.py, within 0.02 in opening and 0.01 in width). The bench
therefore scores the tracker and solver on the mouths the prototypes describe."""

VOWEL_SHAPES_EXAGGERATED = {
    "aa": (0.9, 0.0),
    "ih": (0.15, 0.6),
    "ou": (0.15, -1.0),
    "ee": (0.45, 0.4),
    "oh": (0.5, -0.8),
}
"""The bench's earlier vowel mouths, still reported: chosen as renderer settings, not from the
prototypes, and more open / less spread than them (exact landmarks read aa (1.00, -0.04), ih (0.20,
+0.09), ou (0.30, -0.24), ee (0.58, +0.04), oh (0.75, -0.20) as (open, width change)), so even the
renderer's exact landmarks give their own vowel only 13 of 15 times at ``VOWEL_POSES``."""


VOWEL_POSES = ((0.0, 0.0, 0.0), (20.0, 5.0, 5.0), (-20.0, -5.0, -5.0))
VOWEL_HELD_OUT_POSES = ((20.0, 5.0, 5.0), (-20.0, -5.0, -5.0), (10.0, -10.0, 0.0), (-10.0, 10.0, 5.0))
"""Poses for the calibrated-vowel check: never the calibration pose (frontal)."""


def _vowel_frames(synth: _Synth, pose: tuple[float, float, float], jaw: float, wide: float, frames: int = 3) -> list[Landmarks]:
    from vtuber.synth.face_render import FaceState

    synth.reset_tracking()
    return [synth.track(FaceState.from_angles(*pose, jaw_open=jaw, mouth_wide=wide)) for _ in range(frames)]


def vowels(synth: _Synth, poses: tuple[tuple[float, float, float], ...] = VOWEL_POSES) -> dict[str, Any]:
    """Each synthetic vowel mouth tracked and solved: is the vowel's own weight the largest?

    ``correct``/``rows``: with the default prototypes (neutral calibration only) on ``poses``, for
    the prototype mouths ``VOWEL_SHAPES``. ``calibrated``: after ``calibrate_vowels`` on the
    frontal renders of the five vowels (the product's optional "say a-i-u-e-o" step), scored on
    ``VOWEL_HELD_OUT_POSES`` (other poses than the calibration's). ``exaggerated``: both checks
    for ``VOWEL_SHAPES_EXAGGERATED``."""
    from vtuber.solve.calibration import calibrate_vowels
    from vtuber.solve.rig import solve_rig

    w, h = synth.camera.size
    cam = _engine_camera(w, h)
    calib = _calibrate(synth)

    def score(calibration: Any, pose_list: tuple[tuple[float, float, float], ...], shapes: dict[str, tuple[float, float]] = VOWEL_SHAPES) -> list[dict[str, Any]]:
        rows = []
        for pose in pose_list:
            for vowel, (jaw, wide) in shapes.items():
                previous = None
                for lm in _vowel_frames(synth, pose, jaw, wide):
                    rig = solve_rig(lm, cam, calibration, previous_head=previous)
                    previous = rig.head
                weights = {v: float(rig.blendshapes.get(v, 0.0)) for v in VOWEL_SHAPES}
                rows.append({"pose": pose, "vowel": vowel, "winner": max(weights, key=weights.__getitem__), "weights": weights})
        return rows

    rows = score(calib, poses)
    exaggerated = score(calib, poses, VOWEL_SHAPES_EXAGGERATED)
    samples = {v: _vowel_frames(synth, (0.0, 0.0, 0.0), jaw, wide, 5) for v, (jaw, wide) in VOWEL_SHAPES.items()}
    vcal = calibrate_vowels(samples, cam, calib)
    held = score(vcal, VOWEL_HELD_OUT_POSES)
    samples = {v: _vowel_frames(synth, (0.0, 0.0, 0.0), jaw, wide, 5) for v, (jaw, wide) in VOWEL_SHAPES_EXAGGERATED.items()}
    held_exaggerated = score(calibrate_vowels(samples, cam, calib), VOWEL_HELD_OUT_POSES, VOWEL_SHAPES_EXAGGERATED)
    return {
        "shapes": len(rows),
        "correct": sum(r["vowel"] == r["winner"] for r in rows),
        "rows": rows,
        "exaggerated": {
            "shapes": len(exaggerated),
            "correct": sum(r["vowel"] == r["winner"] for r in exaggerated),
            "rows": exaggerated,
            "calibrated_shapes": len(held_exaggerated),
            "calibrated_correct": sum(r["vowel"] == r["winner"] for r in held_exaggerated),
        },
        "calibrated": {
            "prototypes": {k: list(v) for k, v in vcal.vowels.items()},
            "shapes": len(held),
            "correct": sum(r["vowel"] == r["winner"] for r in held),
            "rows": held,
        },
    }


# ---------------------------------------------------------------------------------------------
# Cost
# ---------------------------------------------------------------------------------------------


def cost(backend: str = "tasks", clip: str = "liveportrait/d10.mp4", cache_dir: Path | None = DEFAULT_CACHE, repeats: int = 3) -> dict[str, float]:
    """Milliseconds per frame of each face solver and of the balanced smoother, on a real clip's
    landmarks (best of ``repeats`` passes: the machine is shared)."""
    import time

    from vtuber.smooth import RigSmoother
    from vtuber.solve.arkit import align_face, face_features
    from vtuber.solve.head import solve_head
    from vtuber.solve.rig import FaceCalibration, solve_face_shapes, solve_rig

    data = tracked_clip(MEDIA_DIR / clip, backend, cache_dir)
    w, h = (int(v) for v in data["size"])
    cam = _engine_camera(w, h)
    lms = [clip_landmarks(data, i) for i in range(len(data["points"]))]
    lms = [lm for lm in lms if lm.face is not None]
    calib = FaceCalibration()
    heads = []
    prev = None
    for lm in lms:
        prev = solve_head(lm.face, lm.image_size, cam, prev) or prev
        heads.append(prev)
    best: dict[str, float] = {}

    def timed(name: str, fn: Any) -> None:
        t0 = time.perf_counter()
        fn()
        ms = (time.perf_counter() - t0) * 1000.0 / len(lms)
        best[name] = min(best.get(name, math.inf), ms)

    for _ in range(repeats):
        def head() -> None:
            p = None
            for lm in lms:
                p = solve_head(lm.face, lm.image_size, cam, p) or p

        def align() -> None:
            for lm, hd in zip(lms, heads):
                face_features(align_face(lm.face.points, lm.image_size, hd, cam))

        def shapes() -> None:
            for lm, hd in zip(lms, heads):
                solve_face_shapes(lm.face.points, lm.image_size, calib, lm.face.blendshapes, hd, cam)

        rigs: list[Any] = []

        def rig() -> None:
            p = None
            rigs.clear()
            for lm in lms:
                r = solve_rig(lm, cam, calib, p)
                p = r.head
                rigs.append(r)

        def smooth() -> None:
            s = RigSmoother("balanced")
            for r in rigs:
                s.update(r)

        timed("head_pnp", head)
        timed("align_features", align)
        timed("face_shapes_total", shapes)
        timed("solve_rig", rig)
        timed("smooth_balanced", smooth)
    best["solve_rig_plus_smooth"] = best["solve_rig"] + best["smooth_balanced"]
    return best


# ---------------------------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------------------------


def run_all(backend: str = "tasks", cache_dir: Path | None = DEFAULT_CACHE, quick: bool = False) -> dict[str, Any]:
    """All parts; ``quick`` uses fewer synthetic frames."""
    synth = _Synth(backend)
    try:
        out: dict[str, Any] = {
            "synthetic_head": synthetic_head(synth, 20 if quick else 60),
            "jitter_and_lag": jitter_and_lag(synth, JITTER_FRAMES, warmup=60),  # 20 s even when quick: short windows are unreliable
            "winks": winks(synth),
            "vowels": vowels(synth),
        }
    finally:
        synth.close()
    if MEDIA_DIR.is_dir():
        out["mead_head"] = mead_head(backend, cache_dir)
        out["blinks"] = blinks(backend, "landmarks", cache_dir)
        out["blinks_tasks"] = blinks(backend, "tasks", cache_dir)
        out["cost_ms"] = cost(backend, cache_dir=cache_dir)
    else:
        out["skipped"] = f"real-clip rows (MEAD, blinks, cost) skipped: {MEDIA_DIR} not found; set VTUBER_MEDIA_DIR to the media folder"
    return out
