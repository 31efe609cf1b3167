"""``vtuber calibrate camera`` (print a board, capture it, fit and save a camera profile),
``vtuber calibrate face`` and ``vtuber calibrate body`` (guided captures of held expressions and
poses saved to a user profile) and ``vtuber calibrate profiles list|select|delete``."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import numpy as np

from vtuber.errors import CalibrationError, ConfigError, SourceError, VTuberError

FACE_STEPS = ("neutral", "closed", "wide", "mouth")  # = vtuber.solve.calibration.FACE_STEPS (not imported: heavy)
FACE_TITLES = {"neutral": "neutral face", "closed": "eyes closed", "wide": "eyes wide", "mouth": "mouth wide open"}
FACE_PROMPTS = {
    "neutral": "look straight at the camera with a relaxed face: eyes open, mouth closed",
    "closed": "close both eyes and keep them closed until the step ends",
    "wide": "open your eyes as wide as you can (raise your brows) and hold it",
    "mouth": "open your mouth as wide as is comfortable, as in a yawn, and hold it",
}
BODY_STEPS = ("relaxed", "tpose")
BODY_TITLES = {"relaxed": "relaxed arms", "tpose": "T-pose"}
BODY_PROMPTS = {
    "relaxed": "sit or stand upright, let both arms hang relaxed at your sides (elbows in view)",
    "tpose": "hold both arms straight out to the sides at shoulder height, palms down",
}

CAMERA_EPILOG = """\
examples:
  vtuber calibrate camera --board-out board.pdf          print this at 100 % (A4), glue it flat
  vtuber calibrate camera --source webcam:0 --name c920  show the board: tilt it, move it to every
                                                         corner of the image, hold still a moment
  vtuber calibrate camera --source shots/ --name c920    a folder of photos (or a video) of the board
  vtuber calibrate profiles select camera c920           make it the default for head pose

Use the same --board/--squares/--square-mm options for capturing as for printing, and pass the
square size you measure on the print.
"""

FACE_EPILOG = """\
steps (in this order; each shows a prompt, a countdown with a webcam, then a progress bar):
  neutral   relaxed face, eyes open, mouth closed: head zero, neutral features, open eyes
  closed    both eyes closed: each eye's closed lid ratio (blink 1.0)
  wide      eyes opened wide: each eye's wide lid ratio (eyeWide 1.0)
  mouth     mouth open as wide as comfortable: the jawOpen 1.0 opening

examples:
  vtuber calibrate face --name me                       webcam:0, all four steps
  vtuber calibrate face --name me --steps neutral       the neutral face only
  vtuber calibrate face --name me --steps closed        redo one step (keeps the saved neutral)
  vtuber calibrate face --name me --source neutral.mp4 --closed-source closed.mp4 \\
      --wide-source wide.mp4 --mouth-source mouth.mp4   recorded clips, one per step, each
                                                        holding its expression from the start
"""

BODY_EPILOG = """\
steps:
  relaxed   arms hanging relaxed at your sides: the zero that maps to the avatar's relaxed arms
  tpose     arms straight out to the sides at shoulder height: the avatar's T-pose, arm lengths

examples:
  vtuber calibrate body --name me                               webcam:0, both steps
  vtuber calibrate body --name me --steps tpose                 redo the T-pose only
  vtuber calibrate body --name me --source relaxed.mp4 --tpose-source tpose.mp4
"""

COUNTDOWN_S = 3.0  # time to read a prompt and take the pose before a live step records
PROGRESS_EVERY_S = 0.5  # stream seconds between progress lines when stderr is not a terminal
BAR_WIDTH = 20

DEFAULT_VIEWS = 25
LIVE_DURATION_S = 120.0
NOVELTY = 0.04  # a view must move the shared corners by 4 % of the image diagonal on average
STATUS_EVERY_S = 2.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="camera calibration and calibration profiles",
        description="Calibrate the camera (intrinsics and lens distortion for head pose) and manage "
        "the saved calibration profiles.",
    )
    csub = p.add_subparsers(dest="calibrate_command", metavar="WHAT")
    p.set_defaults(handler=lambda args: _usage(p))

    cam = csub.add_parser(
        "camera",
        help="print a board, capture it, save a camera profile",
        description="Generate a printable calibration board, and/or capture it from a webcam, video or "
        "image folder, fit focal lengths, principal point and distortion (cv2.calibrateCamera) and save "
        "the result as a named camera profile that head pose (PnP) uses.",
        epilog=CAMERA_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cam.add_argument("--board-out", metavar="FILE.png|pdf", help="write the printable board sheet")
    cam.add_argument("--source", metavar="SPEC", help="webcam:N, /dev/videoN, a video file or an image folder")
    cam.add_argument("--name", metavar="NAME", help="profile name to save (required with --source)")
    cam.add_argument("--board", choices=("charuco", "checkerboard"), default="charuco", help="default charuco")
    cam.add_argument("--squares", metavar="XxY", help="squares across x down (default 8x6 charuco, 10x7 checkerboard)")
    cam.add_argument("--square-mm", type=float, metavar="MM", help="printed square side (default 28 charuco, 24 checkerboard)")
    cam.add_argument("--marker-mm", type=float, metavar="MM", help="ChArUco marker side (default 3/4 of the square)")
    cam.add_argument("--dictionary", default="DICT_4X4_50", help="ArUco dictionary (default DICT_4X4_50)")
    cam.add_argument("--paper", default="a4", help="a4 (default), letter or a3; landscape")
    cam.add_argument("--dpi", type=float, default=300.0, help="resolution of the sheet (default 300)")
    cam.add_argument("--views", type=int, default=DEFAULT_VIEWS, help=f"distinct views to collect (default {DEFAULT_VIEWS})")
    cam.add_argument("--duration", type=float, metavar="S", help=f"give up a live capture after S seconds (default {LIVE_DURATION_S:g})")
    cam.add_argument("--width", type=int, default=640, help="webcam width to request (default 640)")
    cam.add_argument("--height", type=int, default=480, help="webcam height to request (default 480)")
    cam.add_argument("--select", action="store_true", help="also make the new profile the default camera")
    cam.add_argument("--calibration-dir", metavar="DIR", default="calibration", help="profile folder (default calibration/)")
    cam.set_defaults(handler=cmd_camera)

    face = csub.add_parser(
        "face",
        help="guided face capture: neutral, eyes closed, eyes wide, mouth wide open",
        description="Hold each expression for a few seconds while the camera watches: a relaxed neutral face "
        "(the zero of head rotation and of every expression), eyes closed (blink 1.0), eyes wide (eyeWide 1.0) "
        "and mouth wide open (jawOpen 1.0). Each step is checked; a failed one says how to redo it. Saves the "
        "[face] section of calibration/users/NAME.toml, which `vtuber run --user-profile NAME` loads.",
        epilog=FACE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    face.add_argument("--source", metavar="SPEC", default="webcam:0",
                      help="webcam:N (all steps, guided), or a video/folder of the first step (default webcam:0)")
    face.add_argument("--name", required=True, help="user profile name")
    face.add_argument("--steps", metavar="LIST", help=f"comma list of {','.join(FACE_STEPS)} (default: all with a webcam; "
                      "neutral plus the steps given a --STEP-source with a video)")
    for step in FACE_STEPS[1:]:
        face.add_argument(f"--{step}-source", metavar="SPEC", help=f"video or folder of the {FACE_TITLES[step]} step")
    face.add_argument("--seconds", type=float, default=3.0, help="how long each step captures (default 3)")
    face.add_argument("--face-backend", choices=("auto", "mesh", "tasks", "hybrid"), default="auto",
                      help="as for vtuber run (default auto: Face Mesh points + Tasks blendshapes when the model is there)")
    face.add_argument("--models-dir", metavar="DIR", help="where face_landmarker.task is (default $VTUBER_MODELS_DIR or the cache)")
    face.add_argument("--fov", type=float, default=60.0, help="camera field of view when no camera profile is selected")
    face.add_argument("--camera-profile", metavar="NAME|FILE", help="calibrated camera (default: the selected one)")
    face.add_argument("--select", action="store_true", help="also make the new profile the default user")
    face.add_argument("--calibration-dir", metavar="DIR", default="calibration", help="profile folder (default calibration/)")
    face.set_defaults(handler=cmd_face)

    body = csub.add_parser(
        "body",
        help="guided body capture: relaxed arms, T-pose",
        description="Hold two poses for a few seconds with your upper body and both arms in view: arms hanging "
        "relaxed (they will drive the avatar's relaxed rest) and a T-pose (arms straight out at shoulder height: "
        "the avatar's T-pose, and your arm lengths). Each step is checked; a failed one says how to redo it. Saves "
        "the [body] section of calibration/users/NAME.toml, which `vtuber run --user-profile NAME` loads.",
        epilog=BODY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    body.add_argument("--source", metavar="SPEC", default="webcam:0",
                      help="webcam:N (all steps, guided), or a video/folder of the first step (default webcam:0)")
    body.add_argument("--name", required=True, help="user profile name")
    body.add_argument("--steps", metavar="LIST", help=f"comma list of {','.join(BODY_STEPS)} (default: both with a webcam; "
                      "relaxed plus tpose if --tpose-source is given with a video)")
    body.add_argument("--tpose-source", metavar="SPEC", help="video or folder of the T-pose step")
    body.add_argument("--seconds", type=float, default=3.0, help="how long each step captures (default 3)")
    body.add_argument("--select", action="store_true", help="also make the profile the default user")
    body.add_argument("--calibration-dir", metavar="DIR", default="calibration", help="profile folder (default calibration/)")
    body.set_defaults(handler=cmd_body)

    prof = csub.add_parser(
        "profiles",
        help="list, select or delete calibration profiles",
        description="Camera profiles (calibration/cameras/) and user profiles (calibration/users/: face, body).",
    )
    prof.add_argument("--calibration-dir", metavar="DIR", default="calibration", help="profile folder (default calibration/)")
    psub = prof.add_subparsers(dest="profiles_command", metavar="ACTION")
    prof.set_defaults(handler=lambda args: _usage(prof))
    ls = psub.add_parser("list", help="list the profiles, the selected ones marked *")
    ls.set_defaults(handler=cmd_profiles_list)
    for action, text in (("select", "make a profile the default"), ("delete", "delete a profile")):
        q = psub.add_parser(action, help=text)
        q.add_argument("kind", choices=("camera", "user"))
        q.add_argument("name", nargs="?" if action == "select" else None, metavar="NAME")
        if action == "select":
            q.add_argument("--none", action="store_true", help="clear the selection instead")
        q.set_defaults(handler=cmd_profiles_select if action == "select" else cmd_profiles_delete)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _say(text: str) -> None:
    sys.stderr.write(f"vtuber: {text}\n")
    sys.stderr.flush()


def board_from_args(args: argparse.Namespace) -> Any:
    from vtuber.calibrate.board import BoardSpec, parse_squares

    checker = args.board == "checkerboard"
    squares = parse_squares(args.squares) if args.squares else ((10, 7) if checker else (8, 6))
    square = args.square_mm or (24.0 if checker else 28.0)
    marker = args.marker_mm or round(square * 0.75, 3)
    return BoardSpec(args.board, squares[0], squares[1], square, marker, args.dictionary)


def cmd_camera(args: argparse.Namespace) -> int:
    spec = board_from_args(args)
    if not args.board_out and not args.source:
        raise ConfigError("calibrate camera needs --board-out FILE (print a board) and/or --source SPEC (capture one)")
    if args.board_out:
        from vtuber.calibrate.board import write_sheet

        out = write_sheet(spec, args.board_out, args.paper, args.dpi)
        _say(f"wrote {out}: {spec.describe()} on {args.paper.upper()}; print at 100 % (actual size) and check the 50 mm bar")
    if args.source:
        if not args.name:
            raise ConfigError("--source needs --name NAME for the camera profile to save (for example --name laptop)")
        from vtuber.calibrate import store

        store.check_name(args.name)
        calibrate_from_source(args, spec)
    return 0


def calibrate_from_source(args: argparse.Namespace, spec: Any) -> Path:
    from vtuber.calibrate import store
    from vtuber.calibrate.board import BoardDetector, Detection
    from vtuber.calibrate.camera import MIN_VIEWS, calibrate_camera, coverage_cells
    from vtuber.capture.open import open_source
    from vtuber.config import SourceConfig

    source = open_source(SourceConfig(spec=args.source, width=args.width, height=args.height))
    detector = BoardDetector(spec)
    views: list[Detection] = []
    frames = found = 0
    size: tuple[int, int] | None = None
    live = bool(getattr(source, "live", False))
    duration = args.duration if args.duration is not None else (LIVE_DURATION_S if live else 0.0)
    start = last_status = time.monotonic()
    _say(f"looking for a {spec.describe()} in {getattr(source, 'name', args.source)}; want {args.views} distinct views")
    try:
        while len(views) < args.views:
            if duration and time.monotonic() - start > duration:
                _say(f"stopped after {duration:g} s")
                break
            frame = source.read()
            if frame is None:
                break
            frames += 1
            h, w = frame.image.shape[:2]
            if size is None:
                size = (w, h)
            elif (w, h) != size:
                raise ConfigError(f"{args.source}: frames change size ({size[0]}x{size[1]} then {w}x{h}): calibrate one resolution at a time")
            detection = detector.detect(frame.image)
            if detection is not None:
                found += 1
                if is_new_view(detection, views):
                    views.append(detection)
                    cells = coverage_cells(views, size)
                    _say(
                        f"view {len(views)}/{args.views} (frame {frames}): {detection.count} corners; "
                        f"coverage {int(cells.sum())}/{cells.size} cells {_cells_text(cells)}{_hint(cells, views)}"
                    )
                    continue
            now = time.monotonic()
            if now - last_status >= STATUS_EVERY_S:
                last_status = now
                _say(f"frames {frames}, board seen in {found}, views kept {len(views)}" + ("" if detection else " (no board in this frame)"))
    finally:
        source.close()
    _say(f"read {frames} frames; board found in {found}; {len(views)} distinct views")
    if size is None:
        raise ConfigError(f"{args.source}: no frames to calibrate from")
    if len(views) < MIN_VIEWS:
        raise VTuberError(
            f"only {len(views)} distinct views of the board (need {MIN_VIEWS}, {args.views} recommended): "
            "check --board/--squares match the print, light it evenly, tilt and move it around the image"
        )
    result = calibrate_camera(views, size)
    i = result.intrinsics
    for index in result.views_dropped:
        _say(f"dropped view {index + 1}: it reprojects far worse than the others (blurred or misdetected)")
    _say(
        f"calibrated {size[0]}x{size[1]} from {len(result.views_used)} views, {result.points} corners, "
        f"coverage {result.coverage:.0%}: fx {i.fx:.1f} fy {i.fy:.1f} cx {i.cx:.1f} cy {i.cy:.1f} "
        f"distortion [{', '.join(f'{c:.4f}' for c in i.distortion)}]"
    )
    quality_note = "good" if result.rms_px < 0.5 else "usable" if result.rms_px < 1.0 else "poor: recapture with a flat board, sharp images"
    _say(f"RMS reprojection error {result.rms_px:.3f} px ({quality_note})")
    if result.coverage < 0.75:
        _say("warning: the board never reached some parts of the image; distortion there is extrapolated")
    quality = {
        "views": len(result.views_used),
        "corners": result.points,
        "coverage": round(result.coverage, 3),
        "board": spec.describe(),
        "source": str(args.source),
        "std_dev": [round(s, 6) for s in result.std_dev],
    }
    path = store.save_camera_profile(args.name, i, rms_px=result.rms_px, quality=quality, root=args.calibration_dir)
    _say(f"saved {path}")
    if args.select:
        store.select("camera", args.name, args.calibration_dir)
        _say(f"selected camera profile {args.name}")
    return path


def is_new_view(detection: Any, views: list[Any]) -> bool:
    """True when the board moved (shifted, turned or tilted) enough since every kept view: the
    shared corners moved by ``NOVELTY`` of the image diagonal on average. Near-duplicate frames of
    a still board add no information and would outweigh the rest."""
    diag = float(np.hypot(*detection.image_size))
    for view in views:
        shared, a, b = np.intersect1d(detection.ids, view.ids, return_indices=True)
        if len(shared) < 4:
            continue
        moved = np.linalg.norm(detection.image_points[a] - view.image_points[b], axis=1).mean()
        if moved < NOVELTY * diag:
            return False
    return True


def _cells_text(cells: Any) -> str:
    return "[" + "|".join("".join("#" if c else "." for c in row) for row in cells) + "]"


def _hint(cells: Any, views: list[Any]) -> str:
    if cells.all():
        return ""
    rows, cols = np.nonzero(~cells)
    names = []
    for r, c in zip(rows, cols):
        v = ("top", "middle", "bottom")[min(2, r * 3 // cells.shape[0])]
        h = ("left", "centre", "right")[min(2, c * 3 // cells.shape[1])]
        names.append(f"{v}-{h}")
    unique = list(dict.fromkeys(names))
    return f"; still uncovered: {', '.join(unique[:3])}"


def cmd_profiles_list(args: argparse.Namespace) -> int:
    from vtuber.calibrate import store

    root = args.calibration_dir
    any_profile = False
    for kind in store.KINDS:
        chosen = store.selected(kind, root)
        for name in store.list_profiles(kind, root):
            any_profile = True
            mark = "*" if name == chosen else " "
            sys.stdout.write(f"{mark} {kind:<6} {name:<24} {_describe(kind, name, root)}\n")
    if not any_profile:
        sys.stdout.write(f"no profiles in {root}/ (create one: vtuber calibrate camera --source webcam:0 --name NAME)\n")
    return 0


def _describe(kind: str, name: str, root: str) -> str:
    from vtuber.calibrate import store

    try:
        if kind == "camera":
            p = store.read_camera_profile(name, root)
            i = p.intrinsics
            return f"{i.width}x{i.height} fx {i.fx:.1f} fy {i.fy:.1f} RMS {p.rms_px:.2f} px {p.created}"
        data = store.read_toml(store.profile_path("user", name, root))
        sections = []
        for key, value in data.items():
            if isinstance(value, dict):
                steps = value.get("steps")
                listed = isinstance(steps, list) and steps and all(isinstance(x, str) for x in steps)
                sections.append(f"{key} ({', '.join(steps)})" if listed else key)
        return ", ".join(sections) or "(empty)"
    except ConfigError as exc:
        return f"BROKEN: {exc}"


def cmd_profiles_select(args: argparse.Namespace) -> int:
    from vtuber.calibrate import store

    if args.none:
        store.select(args.kind, None, args.calibration_dir)
        _say(f"no default {args.kind} profile")
        return 0
    if not args.name:
        raise ConfigError(f"calibrate profiles select {args.kind} needs a NAME (or --none)")
    if args.kind == "camera":
        store.read_camera_profile(args.name, args.calibration_dir)  # refuse to select a broken file
    store.select(args.kind, args.name, args.calibration_dir)
    _say(f"default {args.kind} profile: {args.name}")
    return 0


def cmd_profiles_delete(args: argparse.Namespace) -> int:
    from vtuber.calibrate import store

    path = store.delete_profile(args.kind, args.name, args.calibration_dir)
    _say(f"deleted {path}")
    return 0


# ---------------------------------------------------------------------------------------------
# Guided captures (face, body): plan the steps' sources, capture each with prompt and progress
# ---------------------------------------------------------------------------------------------


def parse_steps(text: str | None, known: tuple[str, ...], option: str = "--steps") -> list[str] | None:
    """``"closed,neutral"`` -> ``["neutral", "closed"]`` (the guided order); None when not given."""
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise ConfigError(f"{option} {text!r}: use a comma list of {', '.join(known)}")
    return [k for k in known if k in names]


def plan_steps(
    requested: list[str] | None, known: tuple[str, ...], source: str, step_sources: dict[str, str | None], live: bool
) -> list[tuple[str, str]]:
    """(step, source spec) of each step to capture. A live ``source`` (webcam) serves every step
    without a source of its own; a video or folder serves one step only (the first one without
    its own), since it shows one held expression."""
    if requested is None:
        requested = list(known) if live else [known[0]] + [k for k in known[1:] if step_sources.get(k)]
    plan = [(step, step_sources.get(step) or source) for step in requested]
    if not live:
        shared = [step for step in requested if not step_sources.get(step)]
        if len(shared) > 1:
            flags = ", ".join(f"--{k}-source" for k in shared[1:])
            raise ConfigError(
                f"--source {source} is a recording of one held pose: give the {', '.join(shared[1:])} step(s) their own clips "
                f"({flags}) or use a webcam for a guided capture"
            )
    return plan


class Progress:
    """One step's progress on stderr: a bar rewritten in place on a terminal, a line every
    ``PROGRESS_EVERY_S`` of stream time otherwise."""

    def __init__(self, seconds: float, label: str) -> None:
        self.seconds = seconds
        self.label = label
        self.tty = sys.stderr.isatty()
        self._last = -1e9
        self._shown: tuple[int, int] | None = None

    def update(self, elapsed: float, found: int, frames: int, final: bool = False) -> None:
        if not final and elapsed - self._last < (0.1 if self.tty else PROGRESS_EVERY_S):
            return
        if final and not self.tty and self._shown == (found, frames):
            return  # the last line already said it
        self._last, self._shown = elapsed, (found, frames)
        filled = round(BAR_WIDTH * min(1.0, elapsed / self.seconds)) if self.seconds > 0 else BAR_WIDTH
        line = f"  [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {min(elapsed, self.seconds):4.1f}/{self.seconds:g} s, {self.label} in {found}/{frames} frames"
        if self.tty:
            sys.stderr.write("\r" + line + "\033[K" + ("\n" if final else ""))
        elif final or frames:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _say_step(index: int, total: int, title: str, prompt: str, spec: str, live: bool) -> None:
    where = "" if live else f" (from {spec})"
    _say(f"step {index}/{total}, {title}{where}: {prompt}")


def guided_captures(
    plan: list[tuple[str, str]],
    titles: dict[str, str],
    prompts: dict[str, str],
    make_tracker: Callable[[], Any],
    seconds: float,
    found: Callable[[Any], bool],
    label: str,
) -> Iterator[tuple[str, list[Any]]]:
    """(step, landmarks) of each planned step in turn, captured with prompt, countdown (live)
    and progress. A camera named by several steps stays open, with one tracker; a recording is
    opened afresh (with a fresh tracker: its clock restarts) for each step."""
    from vtuber.capture.open import open_source
    from vtuber.config import SourceConfig

    with ExitStack() as stack:
        cameras: dict[str, tuple[Any, Any]] = {}
        for index, (step, spec) in enumerate(plan, 1):
            if spec in cameras:
                source, tracker = cameras[spec]
            else:  # a recording is read from its start for each step that names it
                source = open_source(SourceConfig(spec=spec))
                stack.callback(source.close)
                tracker = make_tracker()
                stack.callback(tracker.close)
                if _is_live_spec(spec):
                    cameras[spec] = (source, tracker)
            live = bool(getattr(source, "live", False))
            _say_step(index, len(plan), titles[step], prompts[step], spec, live)
            samples = _capture(source, tracker, seconds, found, label, COUNTDOWN_S if live else 0.0)
            if not samples:
                raise SourceError(f"{spec} delivered no frames for the {titles[step]} step")
            yield step, samples


def _capture(source: Any, tracker: Any, seconds: float, found: Callable[[Any], bool], label: str, countdown_s: float) -> list[Any]:
    """Landmarks of ``seconds`` of ``source`` (stream time) after a ``countdown_s`` countdown
    during which frames keep flowing and are dropped (the user takes the pose)."""
    samples: list[Any] = []
    progress = Progress(seconds, label)
    hits = 0
    start: float | None = None
    counting = countdown_s > 0.0
    said = None
    elapsed = 0.0
    while (frame := source.read()) is not None:
        if start is None:
            start = frame.t
        if counting:
            left = countdown_s - (frame.t - start)
            if left > 0.0:
                if said != math.ceil(left):
                    said = math.ceil(left)
                    sys.stderr.write(f"  starting in {said}...\n")
                    sys.stderr.flush()
                continue
            counting, start = False, frame.t
        elapsed = frame.t - start
        if elapsed > seconds:
            break
        landmarks = tracker.track(frame)
        samples.append(landmarks)
        hits += int(found(landmarks))
        progress.update(elapsed, hits, len(samples))
    progress.update(elapsed, hits, len(samples), final=True)
    return samples


def _step_failed(exc: CalibrationError, command: str, name: str, failed: str, rest: list[str], live: bool) -> CalibrationError:
    """``exc`` with how to redo the failed step and the ones after it (one line)."""
    steps = ",".join([failed, *rest])
    clips = "" if live else " (with new clips for them)"
    return CalibrationError(f"{exc}; then redo: vtuber calibrate {command} --name {name} --steps {steps}{clips}")


# ---------------------------------------------------------------------------------------------
# vtuber calibrate face
# ---------------------------------------------------------------------------------------------


def cmd_face(args: argparse.Namespace) -> int:
    """Guided face calibration (``FACE_EPILOG``): capture each step, check and fold it into a
    ``FaceCalibration``, save the profile's [face] section (what passed, when a step fails)."""
    from vtuber.calibrate import store
    from vtuber.solve import calibration as cal
    from vtuber.solve.camera import CameraIntrinsics
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    store.check_name(args.name)
    if not args.seconds > 0:
        raise ConfigError(f"--seconds must be positive, got {args.seconds:g}")
    requested = parse_steps(args.steps, FACE_STEPS)
    step_sources = {step: getattr(args, f"{step}_source") for step in FACE_STEPS[1:]}
    live = _is_live_spec(args.source)
    plan = plan_steps(requested, FACE_STEPS, args.source, step_sources, live)
    path = store.profile_path("user", args.name, args.calibration_dir)
    calibration = None
    done: list[str] = []
    if plan[0][0] != "neutral":
        calibration, done = _saved_face(path, args.name)

    def make_tracker() -> Any:
        return MediaPipeTracker("face", face_backend=args.face_backend, models_dir=args.models_dir)

    steps = [step for step, _ in plan]
    changed = False
    try:
        # closing(): the trackers close before an error leaves (a MediaPipe graph closed later,
        # at interpreter exit, never returns)
        captures = guided_captures(plan, FACE_TITLES, FACE_PROMPTS, make_tracker, args.seconds, lambda lm: lm.face is not None, "face")
        with closing(captures):
            for k, (step, samples) in enumerate(captures):
                size = samples[0].image_size
                camera = store.load_camera_or_default(args.camera_profile, size, args.calibration_dir) or CameraIntrinsics.from_fov(*size, args.fov)
                try:
                    if step == "neutral":
                        calibration, done = cal.calibrate_neutral(samples, camera), []
                    else:
                        assert calibration is not None
                        calibration = cal.STEP_FUNCTIONS[step](samples, camera, calibration)
                except CalibrationError as exc:
                    raise _step_failed(exc, "face", args.name, step, steps[k + 1:], _is_live_spec(dict(plan)[step])) from exc
                done = [s for s in FACE_STEPS if s in done or s == step]
                changed = True
                _say(f"  ok: {_face_summary(step, calibration)}")
    finally:
        if calibration is not None and changed:
            store.save_user_section(args.name, "face", cal.calibration_to_table(calibration, done), args.calibration_dir)
            _say(f"saved {path} (face steps: {', '.join(done)})")
            if args.select:
                store.select("user", args.name, args.calibration_dir)
                _say(f"selected user profile {args.name}")
    return 0


def _is_live_spec(spec: str) -> bool:
    """Whether ``spec`` names a camera (guided, live) rather than a recording."""
    return spec.strip().startswith(("webcam:", "/dev/video"))


def _saved_face(path: Path, name: str) -> tuple[Any, list[str]]:
    """The saved [face] section to continue from (steps after neutral need its neutral)."""
    from vtuber.calibrate import store
    from vtuber.solve.calibration import face_steps, parse_face

    data = store.read_toml(path) if path.is_file() else {}
    face = data.get("face")
    if not isinstance(face, dict):
        raise ConfigError(
            f"{path}: no saved neutral face to measure the other steps against: run the neutral step first "
            f"(vtuber calibrate face --name {name} --steps neutral)"
        )
    return parse_face(face, str(path)), face_steps(face)


def _face_summary(step: str, c: Any) -> str:
    """One line of what a face step measured."""
    tops = c.tasks_tops

    def learned(name: str) -> str:
        if name in tops:
            return f"learned {name} top {tops[name]:.3f}"
        if name in c.tasks_offsets:  # the tracker delivered learned channels
            return f"learned {name} did not respond to this face: default curve kept"
        return f"no learned {name} (Face Mesh only)"

    if step == "neutral":
        from vtuber.solve.calibration import describe

        return ", ".join(f"{k} {v:.3f}" for k, v in describe(c).items())
    if step == "closed":
        return f"closed lid ratio left {c.left_eye.closed_ratio:.3f} (open {c.left_eye.open_ratio:.3f}), right {c.right_eye.closed_ratio:.3f} (open {c.right_eye.open_ratio:.3f})"
    if step == "wide":
        return (
            f"wide lid ratio left {c.left_eye.wide_ratio:.3f} (open {c.left_eye.open_ratio:.3f}), right {c.right_eye.wide_ratio:.3f} "
            f"(open {c.right_eye.open_ratio:.3f}); {learned('eyeWideLeft')}; {learned('eyeWideRight')}"
        )
    return f"jawOpen 1.0 at a lip gap of {c.lip_gap_open_cm:.2f} cm (neutral {c.neutral_features()['lip_gap']:.2f}); {learned('jawOpen')}"


# ---------------------------------------------------------------------------------------------
# vtuber calibrate body
# ---------------------------------------------------------------------------------------------


def cmd_body(args: argparse.Namespace) -> int:
    """Guided body calibration (``BODY_EPILOG``): capture relaxed arms and T-pose with the pose
    model, check and fold them into a ``BodyCalibration``, save the profile's [body] section."""
    from vtuber.calibrate import store
    from vtuber.solve.body import measure_arms
    from vtuber.solve.body_calibration import STEP_FUNCTIONS, body_steps, body_to_table, parse_body
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    store.check_name(args.name)
    if not args.seconds > 0:
        raise ConfigError(f"--seconds must be positive, got {args.seconds:g}")
    requested = parse_steps(args.steps, BODY_STEPS)
    live = _is_live_spec(args.source)
    plan = plan_steps(requested, BODY_STEPS, args.source, {"tpose": args.tpose_source}, live)
    path = store.profile_path("user", args.name, args.calibration_dir)
    body = None
    done: list[str] = []
    data = store.read_toml(path) if path.is_file() else {}
    if isinstance(data.get("body"), dict):  # steps not redone keep their saved values
        body, done = parse_body(data["body"], str(path)), body_steps(data["body"])

    def make_tracker() -> Any:
        return MediaPipeTracker("upper_body", face_backend="mesh")

    def both_arms(lm: Any) -> bool:
        return len(measure_arms(lm)) == 2

    steps = [step for step, _ in plan]
    changed = False
    try:
        captures = guided_captures(plan, BODY_TITLES, BODY_PROMPTS, make_tracker, args.seconds, both_arms, "both arms")
        with closing(captures):  # see cmd_face
            for k, (step, samples) in enumerate(captures):
                try:
                    body = STEP_FUNCTIONS[step](samples, body)
                except CalibrationError as exc:
                    raise _step_failed(exc, "body", args.name, step, steps[k + 1:], _is_live_spec(dict(plan)[step])) from exc
                done = [s for s in BODY_STEPS if s in done or s == step]
                changed = True
                _say(f"  ok: {_body_summary(step, body)}")
    finally:
        if body is not None and changed:
            store.save_user_section(args.name, "body", body_to_table(body, done), args.calibration_dir)
            _say(f"saved {path} (body steps: {', '.join(done)})")
            if args.select:
                store.select("user", args.name, args.calibration_dir)
                _say(f"selected user profile {args.name}")
    return 0


def _body_summary(step: str, body: Any) -> str:
    """One line of what a body step measured (degrees; see vtuber.solve.body_profile)."""
    parts = []
    for side in ("left", "right"):
        arm = body.arm(side)
        pose = arm.relaxed if step == "relaxed" else arm.tpose
        elbow = "elbow not in view" if pose.elbow_deg is None else f"elbow {pose.elbow_deg:.0f}"
        text = f"{side} arm {pose.abd_deg:+.0f} up, {pose.flex_deg:+.0f} forward, {elbow}"
        if step == "tpose":
            text += f", upper arm {arm.upper_arm_ratio:.2f} and forearm {arm.forearm_ratio:.2f} shoulder widths"
        parts.append(text)
    return "; ".join(parts)
