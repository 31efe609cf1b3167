"""``vtuber bench intrinsics``: does a board calibration make head pose better than the FOV guess?

One camera that is *not* the engine's default (``bench_camera``: 40 degree horizontal view at
640x480, principal point 4 % right of and 3 % below the image centre, mild barrel distortion)
takes both

1. synthetic ChArUco captures (``vtuber.calibrate.synthetic``: ray-traced through the lens,
   blurred, with sensor noise), found by the real ``BoardDetector`` and fitted by
   ``calibrate_camera`` -> the *recovered* intrinsics; and
2. the face benchmark's renders (``vtuber.synth.face_render`` astronaut at random yaw +-40,
   pitch +-25, roll +-30, a fixed seed, each pose a fresh detection held a few frames), tracked
   by real MediaPipe.

Each tracked face is then solved three ways: with the engine's field-of-view default (60 degrees,
centred, no distortion), with the recovered intrinsics and with the true ones; the result is the
mean absolute rotation error per axis of each.

Lens distortion of the face renders: the face renderer is a pinhole; ``LensRenderer`` renders a
slightly larger pinhole image and resamples it through the lens (each output pixel looks up where
its undistorted ray lands), so MediaPipe sees the same distorted image a real webcam would give.

Conventions: intrinsics are ``vtuber.solve.camera.CameraIntrinsics`` (focal lengths and principal
point in pixels, OpenCV's pixel-centre convention: pixel ``i`` is centred on ``i``; OpenCV
distortion k1, k2, p1, p2, k3). The face renderer's own camera puts pixel ``i``'s centre at
``i + 0.5`` (``pinhole_for_renderer``). Angles in degrees, yaw/pitch/roll as in
``geometry.to_yaw_pitch_roll``.

Everything here is computation (no I/O) except ``LensSynth``, ``head_errors`` and ``run``, which load
the MediaPipe model and the renderer's packaged data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from vtuber.bench.face import _angles_deg, _engine_camera, _Synth
from vtuber.calibrate.board import BoardDetector, BoardSpec
from vtuber.calibrate.camera import CalibrationResult, calibrate_camera, undistort_to_rays
from vtuber.calibrate.synthetic import synthetic_views
from vtuber.conventions import focal_length_from_fov
from vtuber.solve.camera import CameraIntrinsics

BENCH_WIDTH, BENCH_HEIGHT = 640, 480  # the usual webcam stream size
BENCH_HFOV_DEG = 40.0  # a narrower lens than the 60 degree default (focal 879 px vs 554 px)
BENCH_PP_SHIFT = (0.04, 0.03)  # principal point offset, fraction of (width, height): right, down
BENCH_DISTORTION = (-0.10, 0.04, 0.0, 0.0, 0.0)  # mild barrel: moves the image corners ~10 px
BOARD_VIEWS = 20  # captures per calibration, as the unit tests and the docs' procedure use
BOARD_NOISE_GREY = 2.0  # sensor noise std of the board renders, grey levels
HEAD_POSES = 60  # as ``vtuber bench face``'s synthetic head part
HOLD_FRAMES = 6  # frames each pose is held: MediaPipe refines its face region over ~5 frames
REMAP_MARGIN_PX = 2  # extra pinhole pixels around the lens' footprint, for bilinear lookups
AXES = ("yaw", "pitch", "roll")


def bench_camera(
    width: int = BENCH_WIDTH,
    height: int = BENCH_HEIGHT,
    horizontal_fov_deg: float = BENCH_HFOV_DEG,
    pp_shift: tuple[float, float] = BENCH_PP_SHIFT,
    distortion: tuple[float, ...] = BENCH_DISTORTION,
) -> CameraIntrinsics:
    """The benchmark's true camera: square pixels, focal length from ``horizontal_fov_deg``,
    principal point ``pp_shift`` (fractions of the image size) right of / below the centre."""
    f = focal_length_from_fov(width, horizontal_fov_deg)
    cx = width / 2.0 + pp_shift[0] * width
    cy = height / 2.0 + pp_shift[1] * height
    return CameraIntrinsics(width, height, f, f, cx, cy, tuple(float(c) for c in distortion))


def pinhole_for_renderer(camera: CameraIntrinsics, pad: tuple[int, int] = (0, 0)) -> Any:
    """The face renderer's camera with ``camera``'s focal lengths and principal point (distortion
    dropped), on an image ``pad`` = (x, y) pixels larger on every side. The renderer's continuous
    coordinates are OpenCV's plus half a pixel; ``face._engine_camera`` undoes that."""
    from vtuber.synth.face_render import CameraIntrinsics as RendererCamera

    px, py = pad
    return RendererCamera(
        camera.width + 2 * px, camera.height + 2 * py, camera.fx, camera.fy, camera.cx + 0.5 + px, camera.cy + 0.5 + py
    )


def lens_maps(camera: CameraIntrinsics) -> tuple[NDArray[np.float32], NDArray[np.float32], tuple[int, int]]:
    """``cv2.remap`` maps from a padded pinhole image to ``camera``'s distorted image.

    Output pixel (u, v) sees the ray ``undistort(u, v)``; in the pinhole image with the same
    focal lengths that ray lands at ``f * ray + c`` (+ the pad). Returns (map_x, map_y, pad) with
    the pad (x, y) in pixels large enough that every lookup falls inside the pinhole image."""
    w, h = camera.width, camera.height
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rays = undistort_to_rays(camera, np.stack([gx.ravel(), gy.ravel()], axis=1))
    ideal_x = camera.fx * rays[:, 0] + camera.cx
    ideal_y = camera.fy * rays[:, 1] + camera.cy
    pad_x = math.ceil(max(0.0, -ideal_x.min(), ideal_x.max() - (w - 1))) + REMAP_MARGIN_PX
    pad_y = math.ceil(max(0.0, -ideal_y.min(), ideal_y.max() - (h - 1))) + REMAP_MARGIN_PX
    map_x = (ideal_x + pad_x).reshape(h, w).astype(np.float32)
    map_y = (ideal_y + pad_y).reshape(h, w).astype(np.float32)
    return map_x, map_y, (pad_x, pad_y)


def corner_shift_px(camera: CameraIntrinsics) -> float:
    """How far (pixels) the lens moves what the top-left image pixel sees, vs the pinhole."""
    if not any(camera.distortion):
        return 0.0
    map_x, map_y, (pad_x, pad_y) = lens_maps(camera)
    return float(math.hypot(map_x[0, 0] - pad_x, map_y[0, 0] - pad_y))


class LensRenderer:
    """``FaceRenderer`` seen through a distorting lens: ``render(state, _)`` draws the face with
    the pinhole part of ``camera`` on a padded image and resamples it through the lens. The
    second argument is ignored (it is there so ``face._Synth.track`` can call it as usual)."""

    def __init__(self, renderer: Any, camera: CameraIntrinsics) -> None:
        self.renderer = renderer
        self.lens = camera
        if any(camera.distortion):
            self._map_x, self._map_y, pad = lens_maps(camera)
        else:
            self._map_x = self._map_y = None
            pad = (0, 0)
        self.padded = pinhole_for_renderer(camera, pad)
        self.pinhole = pinhole_for_renderer(camera)

    def landmarks_px(self, state: Any) -> NDArray[np.float64]:
        """(478, 2) exact landmark pixels of ``state`` through the lens (OpenCV pixel centres):
        the renderer's ground-truth 3D landmarks projected with the true camera and distortion."""
        cam_cm = self.renderer.render_with_truth(state, self.pinhole).landmarks_camera_cm
        px, _ = cv2.projectPoints(np.asarray(cam_cm, np.float64), np.zeros(3), np.zeros(3), self.lens.matrix, self.lens.distortion_array)
        return px.reshape(-1, 2)

    def render(self, state: Any, _camera: Any = None) -> NDArray[np.uint8]:
        """(H, W, 3) uint8 RGB image of ``state`` through the lens."""
        image = self.renderer.render(state, self.padded)
        if self._map_x is None:
            return image
        return cv2.remap(image, self._map_x, self._map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class LensSynth(_Synth):
    """``face._Synth`` (renders, one MediaPipe tracker, fresh detections) with ``camera`` instead of
    the face bench's square 50 degree pinhole. ``self.camera`` is the renderer-convention pinhole
    of ``camera`` (what ``_Synth`` users read the image size from)."""

    def __init__(self, camera: CameraIntrinsics, backend: str = "tasks") -> None:
        from vtuber.synth.face_render import FaceRenderer

        self.backend = backend
        self.renderer = LensRenderer(FaceRenderer.astronaut(), camera)
        self.camera = self.renderer.pinhole
        self.tracker = self._open()
        self.t = 0.0
        self.index = 0


# ---------------------------------------------------------------------------------------------
# Board calibration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardFit:
    """A calibration of ``bench_camera`` from rendered boards.

    Attributes:
        result: ``calibrate_camera``'s fit (intrinsics, RMS reprojection error in px, ...).
        views, detected: boards rendered / found by the detector.
    """

    result: CalibrationResult
    views: int
    detected: int


def calibrate_from_boards(camera: CameraIntrinsics, views: int = BOARD_VIEWS, seed: int = 0, spec: BoardSpec | None = None) -> BoardFit:
    """Render ``views`` noisy ChArUco captures with ``camera``, detect and calibrate them."""
    spec = spec or BoardSpec()
    captures = synthetic_views(camera, spec, count=views, seed=seed, noise_grey=BOARD_NOISE_GREY)
    detector = BoardDetector(spec)
    found = [d for d in (detector.detect(v.image) for v in captures) if d is not None]
    return BoardFit(calibrate_camera(found, (camera.width, camera.height)), len(captures), len(found))


def intrinsics_errors(found: CameraIntrinsics, true: CameraIntrinsics) -> dict[str, float]:
    """Focal and principal-point errors: relative (percent of the true value) and in pixels."""
    return {
        "fx_pct": 100.0 * (found.fx - true.fx) / true.fx,
        "fy_pct": 100.0 * (found.fy - true.fy) / true.fy,
        "cx_px": found.cx - true.cx,
        "cy_px": found.cy - true.cy,
        "cx_pct": 100.0 * (found.cx - true.cx) / true.cx,
        "cy_pct": 100.0 * (found.cy - true.cy) / true.cy,
    }


# ---------------------------------------------------------------------------------------------
# Head pose through the lens
# ---------------------------------------------------------------------------------------------


def summarise(errors: NDArray[np.float64]) -> dict[str, Any]:
    """Per-axis mean absolute error, their mean, the signed mean and the worst, degrees, from an
    (N, 3) array of (yaw, pitch, roll) errors."""
    a = np.asarray(errors, dtype=np.float64).reshape(-1, 3)
    mae = np.abs(a).mean(axis=0)
    out: dict[str, Any] = {axis: float(v) for axis, v in zip(AXES, mae)}
    out["mean"] = float(mae.mean())
    out["signed"] = [float(v) for v in a.mean(axis=0)]
    out["max"] = [float(v) for v in np.abs(a).max(axis=0)]
    return out


POSITIONS = ("centre", "spread")
"""Where the head is: ``centre`` is ``synthetic_head``'s fixed place (``FaceState``'s default, on
the optical axis 0.55 m away, 4 cm above it); ``spread`` puts the head origin anywhere in the
middle 40 % x 20 % of the image at 0.55-0.8 m, as a user who does not sit dead centre."""
SPREAD_IMAGE_BOX = ((0.3, 0.4), (0.7, 0.6))  # (u, v) fractions: keeps the whole face in view
SPREAD_DISTANCE_M = (0.55, 0.8)  # nearer, the 40 degree lens crops the face at the image edge


def off_axis_slope(angles: NDArray[np.float64], errors: NDArray[np.float64]) -> dict[str, float]:
    """Slopes (degrees of error per degree off axis) of the yaw error on the horizontal angle and
    of the pitch error on the vertical angle, each with an intercept: (N, 2) angles, (N, 3) errors."""
    out = {}
    for name, axis, column in (("yaw_per_horizontal", 0, 0), ("pitch_per_vertical", 1, 1)):
        design = np.column_stack([angles[:, axis], np.ones(len(angles))])
        out[name] = float(np.linalg.lstsq(design, errors[:, column], rcond=None)[0][0])
    return out


def head_state(camera: CameraIntrinsics, yaw: float, pitch: float, roll: float, image_uv: tuple[float, float] | None, distance_m: float) -> Any:
    """A ``FaceState`` at (yaw, pitch, roll) degrees whose head origin is seen by ``camera`` at
    pixel ``image_uv`` (None: ``FaceState``'s default position) ``distance_m`` in front of it."""
    from vtuber.synth.face_render import FaceState

    if image_uv is None:
        return FaceState.from_angles(yaw, pitch, roll)
    ray = undistort_to_rays(camera, np.array([image_uv], dtype=np.float64))[0]
    # OpenCV camera (x right, y down, z forward) -> internal (x right, y up, camera looks along -z)
    position = (distance_m * ray[0], -distance_m * ray[1], -distance_m)
    return FaceState.from_angles(yaw, pitch, roll, position_m=position)


def head_errors(
    synth: _Synth,
    cameras: dict[str, CameraIntrinsics],
    count: int = HEAD_POSES,
    seed: int = 0,
    hold_frames: int = HOLD_FRAMES,
    positions: str = "centre",
    true: CameraIntrinsics | None = None,
) -> dict[str, Any]:
    """Rotation errors (degrees) of the head solved with each of ``cameras`` on the same tracked
    renders: ``synthetic_head``'s protocol (yaw +-40, pitch +-25, roll +-30 from ``seed``; a
    fresh detection per pose, scored on its ``hold_frames``-th frame), the head placed as
    ``positions`` says (``spread`` needs the ``true`` camera to aim the head). A pose counts only
    when every camera gives a pose, so all are scored on the same frames; ``missed`` counts the
    rest. ``better_than_<first>`` is, per camera, on how many poses its mean-over-axes error is
    below the first camera's. With ``spread``, ``off_axis_slope`` is the least-squares slope of
    the yaw error on the head's horizontal off-axis angle and of the pitch error on its vertical
    one (degrees per degree, true camera's angles; image right and down positive): how much of
    the error follows where the head is in the image.

    ``exact`` (when ``synth`` is a ``LensSynth``): the same poses solved from the renderer's exact
    landmark pixels instead of MediaPipe's (2D only, so ``solve_head``'s PnP path): what each
    camera model costs when the landmarks are perfect, a check that the set-up is sensitive to
    intrinsics at all."""
    from vtuber.records import FaceLandmarks
    from vtuber.solve.head import solve_head

    if positions not in POSITIONS:
        raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
    if positions == "spread" and true is None:
        raise ValueError("positions='spread' needs the true camera")
    rng = np.random.default_rng(seed)
    errors: dict[str, list[NDArray[np.float64]]] = {k: [] for k in cameras}
    exact: dict[str, list[NDArray[np.float64]]] = {k: [] for k in cameras}
    lens = synth.renderer if isinstance(synth.renderer, LensRenderer) else None
    missed = 0
    off_axis: list[tuple[float, float]] = []
    for _ in range(count):
        yaw, pitch, roll = rng.uniform([-40, -25, -30], [40, 25, 30])
        uv, distance = None, 0.0
        if positions == "spread":
            assert true is not None
            lo, hi = SPREAD_IMAGE_BOX
            uv = tuple(rng.uniform(lo, hi) * (true.width, true.height))
            distance = float(rng.uniform(*SPREAD_DISTANCE_M))
        state = head_state(true or next(iter(cameras.values())), yaw, pitch, roll, uv, distance)
        truth = np.array([yaw, pitch, roll])
        synth.reset_tracking()
        for _k in range(max(1, hold_frames)):
            lm = synth.track(state)
        poses = {k: solve_head(lm.face, lm.image_size, cam) if lm.face is not None else None for k, cam in cameras.items()}
        if any(p is None for p in poses.values()):
            missed += 1
            continue
        for k, p in poses.items():
            errors[k].append(_angles_deg(p.rotation) - truth)
        if uv is not None and true is not None:
            off_axis.append((math.degrees(math.atan((uv[0] - true.cx) / true.fx)), math.degrees(math.atan((uv[1] - true.cy) / true.fy))))
        if lens is not None:
            points = np.zeros((478, 3), np.float32)
            points[:, :2] = lens.landmarks_px(state) / (lens.lens.width, lens.lens.height)
            for k, cam in cameras.items():
                p = solve_head(FaceLandmarks(points), (lens.lens.width, lens.lens.height), cam)
                exact[k].append(_angles_deg(p.rotation) - truth if p is not None else np.full(3, np.nan))
    out: dict[str, Any] = {"positions": positions, "poses": count, "scored": count - missed, "missed": missed, "hold_frames": hold_frames}
    first = next(iter(cameras))
    base = np.abs(np.array(errors[first]).reshape(-1, 3)).mean(axis=1)
    for k in cameras:
        out[k] = summarise(np.array(errors[k]))
        out[k]["better_than_" + first] = int(np.sum(np.abs(np.array(errors[k]).reshape(-1, 3)).mean(axis=1) < base))
        if len(off_axis) >= 3:
            out[k]["off_axis_slope"] = off_axis_slope(np.array(off_axis), np.array(errors[k]))
    if lens is not None:
        out["exact"] = {k: summarise(np.array(e)) for k, e in exact.items()}
    return out


def camera_from_record(c: dict[str, Any]) -> CameraIntrinsics:
    """``camera_record``'s inverse."""
    return CameraIntrinsics(int(c["width"]), int(c["height"]), c["fx"], c["fy"], c["cx"], c["cy"], tuple(c["distortion"]))


def camera_record(cam: CameraIntrinsics) -> dict[str, Any]:
    """A camera as plain numbers (pixels; OpenCV distortion coefficients)."""
    return {"width": cam.width, "height": cam.height, "fx": cam.fx, "fy": cam.fy, "cx": cam.cx, "cy": cam.cy, "distortion": list(cam.distortion)}


def run(
    backends: tuple[str, ...] = ("tasks",),
    poses: int = HEAD_POSES,
    views: int = BOARD_VIEWS,
    seed: int = 0,
    positions: tuple[str, ...] = POSITIONS,
    camera: CameraIntrinsics | None = None,
) -> dict[str, Any]:
    """The whole benchmark: calibrate ``camera`` (default ``bench_camera()``) from rendered
    boards once, then for each MediaPipe back end and head placement the head-pose errors with
    the FOV default, the recovered and the true intrinsics (``head[backend][positions]``)."""
    true = camera or bench_camera()
    fit = calibrate_from_boards(true, views, seed)
    recovered = fit.result.intrinsics
    cameras = {"default": _engine_camera(true.width, true.height), "recovered": recovered, "true": true}
    head: dict[str, dict[str, Any]] = {}
    for backend in backends:
        synth = LensSynth(true, backend)
        try:
            head[backend] = {where: head_errors(synth, cameras, poses, seed, positions=where, true=true) for where in positions}
        finally:
            synth.close()
    return {
        "seed": seed,
        "poses": poses,
        "hold_frames": HOLD_FRAMES,
        "cameras": {k: camera_record(c) for k, c in cameras.items()},
        "board": {
            "views": fit.views,
            "detected": fit.detected,
            "used": len(fit.result.views_used),
            "rms_px": fit.result.rms_px,
            "coverage": fit.result.coverage,
            "recovered_vs_true": intrinsics_errors(recovered, true),
            "default_vs_true": intrinsics_errors(cameras["default"], true),
        },
        "head": head,
    }


def acceptance(r: dict[str, Any], backend: str = "tasks", positions: str = "centre") -> bool:
    """Issue 9's line: the recovered intrinsics' rotation error (mean over the three axes) is
    lower than the FOV default's, on the face bench's protocol (``centre``)."""
    h = r["head"][backend][positions]
    return bool(h["recovered"]["mean"] < h["default"]["mean"])


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

REPRODUCE = ".venv/bin/vtuber bench intrinsics"
CAMERA_NAMES = {"default": "FOV default", "recovered": "recovered", "true": "true"}
BACKEND_NAMES = {"tasks": "Tasks FaceLandmarker", "mesh": "legacy Face Mesh"}


def _cam_text(c: dict[str, Any]) -> str:
    k = ", ".join(f"{v:+.3f}" for v in c["distortion"][:2])
    return f"{c['fx']:.1f} / {c['fy']:.1f} | ({c['cx']:.1f}, {c['cy']:.1f}) | {k}"


def markdown(r: dict[str, Any], command: str = REPRODUCE) -> str:
    """The ``bench:intrinsics`` section of docs/benchmarks.md."""
    b, cams = r["board"], r["cameras"]
    e = b["recovered_vs_true"]
    rows = []
    for backend, per in r["head"].items():
        for where, h in per.items():
            for k in ("default", "recovered", "true"):
                s = h[k]
                better = "" if k == "default" else f"{s['better_than_default']}/{h['scored']}"
                rows.append(
                    f"| {BACKEND_NAMES.get(backend, backend)} | {where} | {CAMERA_NAMES[k]} | {s['yaw']:.2f} | {s['pitch']:.2f} | {s['roll']:.2f} | "
                    f"**{s['mean']:.2f}** | {', '.join(f'{v:+.2f}' for v in s['signed'])} | {better} |"
                )
    for where, h in next(iter(r["head"].values())).items():  # the same poses for every back end
        for k in ("default", "recovered", "true"):
            s = h["exact"][k]
            rows.append(
                f"| exact (renderer), PnP | {where} | {CAMERA_NAMES[k]} | {s['yaw']:.2f} | {s['pitch']:.2f} | {s['roll']:.2f} | "
                f"**{s['mean']:.2f}** | {', '.join(f'{v:+.2f}' for v in s['signed'])} | |"
            )
    verdicts = []
    for backend, per in r["head"].items():
        for where, h in per.items():
            ok = h["recovered"]["mean"] < h["default"]["mean"]
            verdicts.append(
                f"{BACKEND_NAMES.get(backend, backend)}, {where}: {h['recovered']['mean']:.3f} vs {h['default']['mean']:.3f} deg "
                f"({'lower' if ok else '**not lower**'})"
            )
    missed = sum(h["missed"] for per in r["head"].values() for h in per.values())
    t, d = cams["true"], cams["default"]
    hfov = math.degrees(2.0 * math.atan(t["width"] / 2.0 / t["fx"]))
    shift = (100.0 * (t["cx"] / t["width"] - 0.5), 100.0 * (t["cy"] / t["height"] - 0.5))
    corner = corner_shift_px(camera_from_record(t))
    return "\n".join(
        [
            "## Recovered intrinsics vs the field-of-view default (issue 9)",
            "",
            f"Reproduce: `{command}` (about a minute; `--json FILE` for all numbers, `--write-docs` rewrites this section). Code: `vtuber/bench/intrinsics.py`.",
            "",
            (
                f"One camera that is not the engine's default: {t['width']}x{t['height']}, {hfov:.0f} deg horizontal view (fx {t['fx']:.0f} px; "
                f"the {math.degrees(2.0 * math.atan(d['width'] / 2.0 / d['fx'])):.0f} deg default gives {d['fx']:.0f} px), principal point {shift[0]:+.0f} % / {shift[1]:+.0f} % of the image size right / down of the "
                f"centre, lens distortion k1 {t['distortion'][0]:+.2f}, k2 {t['distortion'][1]:+.2f} ({corner:.0f} px at the top-left image corner). "
                f"It takes (1) {b['views']} synthetic ChArUco 8x6 captures (ray-traced through the lens, blurred, {BOARD_NOISE_GREY:g} grey levels of noise), "
                "found by `BoardDetector` and fitted by `calibrate_camera`; (2) the face bench's astronaut renders "
                f"({r['poses']} poses, yaw +-40, pitch +-25, roll +-30, seed {r['seed']}; each a fresh detection held {r['hold_frames']} frames, "
                "scored on the last), drawn by the pinhole renderer on a slightly larger image and resampled through the same lens, "
                "tracked by real MediaPipe. Each tracked face is solved (`solve_head`, the depth-aware fit) with the three cameras; "
                f"every camera is scored on the same poses ({missed} missed in all). "
                "Head placement: *centre* is the face bench's (head origin 0.55 m away, 4 cm above the optical axis); "
                "*spread* puts the head anywhere in the middle 40 % x 20 % of the image at 0.55-0.8 m."
            ),
            "",
            "| camera | fx / fy px | (cx, cy) px | k1, k2 |",
            "|---|---|---|---|",
            *(f"| {CAMERA_NAMES[k]} | {_cam_text(cams[k])} |" for k in ("default", "recovered", "true")),
            "",
            "| board fit | result |",
            "|---|---|",
            f"| views rendered / detected / used | {b['views']} / {b['detected']} / {b['used']} (coverage {100 * b['coverage']:.0f} %) |",
            f"| RMS reprojection error | {b['rms_px']:.3f} px |",
            f"| recovered focal vs true | fx {e['fx_pct']:+.3f} %, fy {e['fy_pct']:+.3f} % |",
            f"| recovered principal point vs true | cx {e['cx_px']:+.2f} px ({e['cx_pct']:+.2f} %), cy {e['cy_px']:+.2f} px ({e['cy_pct']:+.2f} %) |",
            f"| FOV default focal vs true | {b['default_vs_true']['fx_pct']:+.1f} % |",
            "",
            "Head rotation error, degrees (MAE per axis, their mean, the signed mean per axis, and on how many poses the mean-over-axes error is below the default's):",
            "",
            "| landmarks | head | intrinsics | yaw | pitch | roll | mean | signed yaw, pitch, roll | poses better than default |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Recovered vs default, mean over axes: " + "; ".join(verdicts) + ".",
            *_reading(r),
        ]
    )


def _reading(r: dict[str, Any]) -> list[str]:
    """What the numbers say, from the numbers (so a re-run cannot leave the text stale)."""
    per = next(iter(r["head"].values()))
    exact = {where: h["exact"] for where, h in per.items()}
    gaps = [h["default"]["mean"] - h["recovered"]["mean"] for p in r["head"].values() for h in p.values()]
    same = max(abs(h["true"][a] - h["recovered"][a]) for p in r["head"].values() for h in p.values() for a in AXES)
    lines = [
        "",
        "Reading: on the renderer's exact landmarks the recovered camera cuts the rotation error from "
        + ", ".join(f"{e['default']['mean']:.2f} to {e['recovered']['mean']:.2f} deg ({w})" for w, e in exact.items())
        + f"; on MediaPipe's landmarks the default minus recovered error is between {min(gaps):+.2f} and {max(gaps):+.2f} deg. "
        f"The recovered and true cameras give the same per-axis errors to within {same:.2f} deg, so the calibration is not what limits "
        "head pose here: the depth-aware fit takes the face's 3D shape from MediaPipe's own depth, which does not depend on the camera model, "
        "and MediaPipe's landmarks carry errors of their own that are larger than what the camera model changes.",
    ]
    slopes = [(b, h["true"]["off_axis_slope"]) for b, p in r["head"].items() for h in p.values() if "off_axis_slope" in h["true"]]
    default_slopes = [h["default"]["off_axis_slope"] for p in r["head"].values() for h in p.values() if "off_axis_slope" in h["default"]]
    if slopes:
        lines[-1] += (
            " Off-centre heads (*spread*) show one of those errors: with the true camera the yaw error grows with the head's horizontal "
            "angle off the optical axis ("
            + ", ".join(f"{BACKEND_NAMES.get(b, b)} {s['yaw_per_horizontal']:+.2f} deg per deg" for b, s in slopes)
            + "; pitch on the vertical angle "
            + ", ".join(f"{s['pitch_per_vertical']:+.2f}" for _, s in slopes)
            + "), where exact landmarks through the true camera give none; with the 60 deg default the yaw slope is "
            + ", ".join(f"{s['yaw_per_horizontal']:+.2f}" for s in default_slopes)
            + ": smaller, one reason the default comes out ahead there."
        )
    return lines


def text_summary(r: dict[str, Any]) -> str:
    """A few plain lines for the terminal."""
    b = r["board"]
    e = b["recovered_vs_true"]
    lines = [
        (
            f"board: {b['detected']}/{b['views']} views detected, RMS {b['rms_px']:.3f} px; focal {e['fx_pct']:+.3f} / {e['fy_pct']:+.3f} %, "
            f"principal point {e['cx_px']:+.2f} / {e['cy_px']:+.2f} px"
        ),
    ]
    for backend, per in r["head"].items():
        for where, h in per.items():
            for k in ("default", "recovered", "true"):
                s = h[k]
                lines.append(
                    f"head {backend} {where} ({k} intrinsics, {h['scored']}/{h['poses']} poses): yaw {s['yaw']:.2f} pitch {s['pitch']:.2f} "
                    f"roll {s['roll']:.2f} mean {s['mean']:.2f} deg MAE; signed {', '.join(f'{v:+.2f}' for v in s['signed'])}"
                )
    return "\n".join(lines)
