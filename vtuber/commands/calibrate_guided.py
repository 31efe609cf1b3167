"""``vtuber calibrate face`` and ``vtuber calibrate body``: guided captures of held expressions
and poses (prompt, countdown with a live source, progress, a check per step) saved to a user
profile. The measuring is in ``vtuber.solve.calibration`` and ``vtuber.solve.body_calibration``;
this module is the terminal and source side."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from vtuber.errors import CalibrationError, ConfigError, SourceError

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


def add_guided_parsers(csub: Any) -> None:
    """Add ``face`` and ``body`` to the ``vtuber calibrate`` subcommands."""
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


def _say(text: str) -> None:
    sys.stderr.write(f"vtuber: {text}\n")
    sys.stderr.flush()


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


def _step_failed(exc: CalibrationError, command: str, name: str, failed: str, rest: list[str], source: str) -> CalibrationError:
    """``exc`` with how to redo the failed step and the ones after it (one line); ``source``: the
    failed step's source spec (a live camera is named again, so the redo uses the same one)."""
    steps = ",".join([failed, *rest])
    where = f" --source {source}" if _is_live_spec(source) else " (with new clips for them)"
    return CalibrationError(f"{exc}; then redo: vtuber calibrate {command} --name {name} --steps {steps}{where}")


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
                    raise _step_failed(exc, "face", args.name, step, steps[k + 1:], dict(plan)[step]) from exc
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
                    raise _step_failed(exc, "body", args.name, step, steps[k + 1:], dict(plan)[step]) from exc
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
