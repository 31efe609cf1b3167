"""Offline motion capture: ``convert``, ``replay``, ``repair`` and ``plot``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vtuber.config import build_config, is_valid_fps, read_config_file
from vtuber.errors import ConfigError, RecordingError, SourceError, VTuberError

if TYPE_CHECKING:
    from vtuber.engine import RunSummary

EXIT_FAILED = 1  # some input could not be read (the others were converted)
EXIT_STOPPED = 130  # SIGINT / SIGTERM: the batch was abandoned (128 + SIGINT, like Ctrl-C)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "convert",
        help="video, image folder or session -> BVH (+ blendshape CSV)",
        description="Track videos or image folders as fast as possible and write BVH files "
        "(with the face blendshapes in a CSV beside each), or re-export a recorded session.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, image folders or session .jsonl files")
    p.add_argument("-o", "--output", metavar="OUT", help="output .bvh (one input) or folder (several inputs)")
    p.add_argument("--mode", choices=("face", "face_hands", "upper_body"), default="upper_body")
    p.add_argument(
        "--face-backend",
        choices=("auto", "mesh", "tasks"),
        default="mesh",
        help="default mesh (fastest: geometric blendshapes, measured against your user profile or else the "
        "clip's own resting face, see --neutral); "
        "auto adds the learned blendshapes (slower: a second face model)",
    )
    p.add_argument("--models-dir", metavar="DIR")
    p.add_argument("--smoothing", choices=("responsive", "balanced", "smooth", "none"), default="balanced")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of image folders (default 30)")
    p.add_argument(
        "--neutral",
        choices=("clip", "none"),
        default="clip",
        help="resting face for mesh blendshapes when no user profile is selected: clip (default) = the median "
        "of 60 frames across the clip; none = MediaPipe's canonical face (reads many channels high at rest)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace output files that already exist (default: refuse)")
    p.set_defaults(handler=cmd_convert)

    from vtuber.cli import add_output_arguments, add_solve_arguments

    p = sub.add_parser(
        "replay",
        help="send a recorded session to the receivers at its original timing",
        description="Re-run a recorded session's landmarks through the solvers and senders, "
        "deterministically, at the original timing (or as fast as possible with --no-pace). "
        "The live run's camera, calibration, smoothing and avatar settings come from the session "
        "(the defaults named below are a live run's); a --config file and the flags override them.",
    )
    p.add_argument("session", metavar="SESSION", help="a session file (vtuber run --record-session)")
    add_solve_arguments(p)
    add_output_arguments(p)
    p.set_defaults(handler=cmd_replay)

    p = sub.add_parser(
        "repair",
        help="make a BVH, CSV or session left by a crash valid again",
        description="Recount the frames of a recording cut short (killed process, power loss), "
        "drop a partial last line and fix the header. Safe on files that need nothing.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(handler=cmd_repair)

    p = sub.add_parser("plot", help="plot a session's head angles, blinks, mouth and hands over time")
    p.add_argument("session", metavar="SESSION")
    p.add_argument("-o", "--output", metavar="PNG", required=True)
    p.set_defaults(handler=cmd_plot)


def is_session_file(path: Path) -> bool:
    """True for a session recording (JSON lines whose header names the session format)."""
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        head = fh.read(200)
    return head.startswith(b"{") and b"vtuber-session" in head


class Progress:
    """A one-line progress bar with ETA on stderr for ``convert``."""

    WIDTH = 30

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = max(total, 0)
        self.start = time.monotonic()

    def __call__(self, engine: Any) -> None:
        self.show(engine.telemetry.frames)

    def show(self, done: int, final: bool = False) -> None:
        elapsed = time.monotonic() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        if self.total:
            fraction = min(done / self.total, 1.0)
            bar = "#" * int(fraction * self.WIDTH)
            eta = (self.total - done) / rate if rate > 0 else float("inf")
            text = f"{self.label} [{bar:<{self.WIDTH}}] {fraction:4.0%} {done}/{self.total} frames, {rate:.0f} fps, ETA {eta:.1f} s"
        else:
            text = f"{self.label} {done} frames, {rate:.0f} fps"
        end = "\n" if final or not sys.stderr.isatty() else ""
        sys.stderr.write(("\r" if sys.stderr.isatty() else "") + text + "\033[K" * sys.stderr.isatty() + end)
        sys.stderr.flush()


def _outputs(inputs: list[Path], output: str | None) -> list[Path]:
    """The BVH each input becomes: ``-o FILE.bvh`` (one input), ``-o FOLDER`` (an existing folder
    or a path ending in /: created when the files are written) or beside each input."""
    is_folder = output is not None and (output.endswith(("/", os.sep)) or Path(output).is_dir())
    if len(inputs) == 1 and not is_folder:
        return [Path(output) if output else inputs[0].with_suffix(".bvh")]
    if len(inputs) > 1 and output is not None and Path(output).suffix == ".bvh":
        raise ConfigError("several inputs need -o FOLDER, not a single .bvh file")
    folder = Path(output) if output else Path(".")
    return [folder / (p.stem + ".bvh") for p in inputs]


def refuse_duplicate_outputs(inputs: list[Path], outputs: list[Path]) -> None:
    """ConfigError naming both inputs when two of them would write the same output file."""
    seen: dict[Path, Path] = {}
    for path, out in zip(inputs, outputs):
        key = out.resolve()
        if key in seen:
            raise ConfigError(
                f"{seen[key]} and {path} would both write {out}; rename one or convert them in separate runs with different -o"
            )
        seen[key] = path


def check_outputs(inputs: list[Path], outputs: list[Path], overwrite: bool) -> None:
    """``vtuber.record.safety`` over the whole batch before anything is converted: every output
    BVH and CSV against each other, against every input, and (unless ``overwrite``) against
    earlier files."""
    from vtuber.record import safety

    targets = [t for out in outputs for t in safety.bvh_targets(str(out), "the output")]
    safety.check_targets(targets, inputs, overwrite=overwrite)


class BatchStop:
    """Remembers SIGINT / SIGTERM during a batch ``convert``: while a clip runs the engine's own
    handler stops it (its run ends "stopped"); between clips, while a clip's source and tracker
    open, or during a session export, this handler notes the request so the batch ends there."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """(Re)install the handler (``run_engine`` replaces it with the engine's own)."""
        for sig in self.SIGNALS:
            previous = signal.signal(sig, self._handle)
            self._previous.setdefault(sig, previous)

    def restore(self) -> None:
        """Put back the handlers that were there before ``install``."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.requested = True


def cmd_convert(args: argparse.Namespace) -> int:
    """Convert every input; exit 0, ``EXIT_FAILED`` when an input could not be read (the others
    are still converted) or ``EXIT_STOPPED`` after SIGINT / SIGTERM (the rest is skipped)."""
    if not is_valid_fps(args.fps):
        raise ConfigError(f"--fps must be a frame rate above 0 (e.g. 30), got {args.fps:g}")
    inputs = [Path(p) for p in args.inputs]
    for path in inputs:
        if not path.exists():
            raise SourceError(f"input not found: {path}")
    outputs = _outputs(inputs, args.output)
    refuse_duplicate_outputs(inputs, outputs)
    check_outputs(inputs, outputs, args.overwrite)
    stop = BatchStop()
    stop.install()
    failed = 0
    try:
        for done, (path, out) in enumerate(zip(inputs, outputs)):
            if stop.requested:
                return _stopped(done, len(inputs), None)
            frames, ended_by = convert_one(path, out, args, stop)
            stop.install()
            if ended_by == "stopped" or stop.requested:
                return _stopped(done, len(inputs), (out, frames))
            if ended_by.startswith("source failed"):
                failed += 1
                kept = f"; {out} holds the {frames} frames read before that" if frames else ""
                sys.stderr.write(f"vtuber: {path}: {ended_by}{kept}\n")
                continue
            sys.stderr.write(f"vtuber: wrote {out} ({frames} frames) and {out.with_suffix('.csv')}\n")
    finally:
        stop.restore()
    if failed:
        sys.stderr.write(f"vtuber: {failed} of {len(inputs)} inputs failed\n")
    return EXIT_FAILED if failed else 0


def _stopped(done: int, total: int, partial: tuple[Path, int] | None) -> int:
    """Say what a stopped batch left behind; the exit status for it."""
    kept = "" if partial is None else f"; {partial[0]} is valid with the {partial[1]} frames converted before the stop"
    sys.stderr.write(f"vtuber: stopped after {done} of {total} inputs{kept}\n")
    return EXIT_STOPPED


def convert_one(path: Path, out: Path, args: argparse.Namespace, stop: BatchStop) -> tuple[int, str]:
    """Convert one input: (frames written, how it ended: ``RunSummary.ended_by`` wording, i.e.
    "source ended", "stopped" or "source failed: ...")."""
    try:
        if is_session_file(path):
            return export_session_bvh(path, out, should_stop=lambda: stop.requested)
        summary = convert_media(path, out, args, stop)
    except SourceError as exc:  # the clip cannot even be opened
        return 0, f"source failed: {exc}"
    return summary.frames, summary.ended_by


def convert_media(path: Path, out: Path, args: argparse.Namespace, stop: BatchStop | None = None) -> RunSummary:
    """Track one video or image folder into ``out`` (+ CSV) as fast as possible; the run's
    summary. ``stop`` (a batch's signal flag) ends the run at the next stats tick."""
    from vtuber.app import run_engine
    from vtuber.capture.open import open_source

    config = build_config(
        {},
        {
            "source": {"spec": str(path), "pace": False, "fps": args.fps},
            "track": {"mode": args.mode, "face_backend": args.face_backend, **({"models_dir": args.models_dir} if args.models_dir else {})},
            "smoothing": {"preset": args.smoothing},
            "record": {"bvh": str(out), "overwrite": True},  # cmd_convert checked the outputs up front
            "run": {"telemetry": False},
        },
        origin="command line",
    )
    from concurrent.futures import ThreadPoolExecutor

    from vtuber.app import build_tracker

    models_dir_env = os.environ.get("VTUBER_MODELS_DIR")
    # the clip's resting face is measured while the conversion's own models load (both mostly
    # native code on their own threads): it then costs little of the wall time
    with ThreadPoolExecutor(1, thread_name_prefix="clip-neutral") as pool:
        pending = pool.submit(clip_setup, path, args, config)
        tracker = build_tracker(config, models_dir_env)
        try:
            setup = pending.result()
        except BaseException:
            tracker.close()
            raise
    source = open_source(config.source)
    progress = Progress(path.name, int(getattr(source, "frame_count", 0) or 0))

    def on_stats(engine: Any) -> None:
        if stop is not None and stop.requested:  # a signal that came before the engine's handler
            engine.stop()
        progress(engine)

    summary = run_engine(
        config, models_dir_env=models_dir_env, source=source, tracker=tracker, with_senders=False, on_stats=on_stats, setup=setup
    )
    progress.show(summary.frames, final=True)
    return summary


def clip_setup(path: Path, args: argparse.Namespace, config: Any) -> Any:
    """The user setup for converting ``path``: with the Face Mesh back end, ``--neutral clip`` and
    no user profile named or selected, the profiles on disk with the clip's own resting face
    (``vtuber.calibrate.clip_neutral``); otherwise None (the profiles on disk)."""
    import dataclasses

    from vtuber.app import load_user_setup
    from vtuber.calibrate import store
    from vtuber.calibrate.clip_neutral import clip_neutral, sample_frames
    from vtuber.capture.open import open_source
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    if args.neutral != "clip" or config.track.face_backend != "mesh":
        return None
    if config.user.profile or store.selected("user", config.user.calibration_dir):
        return None
    source = open_source(config.source)
    try:
        with MediaPipeTracker("face", face_backend="mesh") as tracker:  # Face Mesh ships in the wheel
            samples = sample_frames(source, tracker, int(getattr(source, "frame_count", 0) or 0))
    finally:
        source.close()
    neutral = clip_neutral(samples, config.camera.horizontal_fov_deg)
    if neutral is None:
        return None
    faces = sum(lm.face is not None for lm in samples)
    sys.stderr.write(f"vtuber: {path.name}: no user profile: resting face taken from {faces} frames of the clip (--neutral none: the canonical face)\n")
    return dataclasses.replace(load_user_setup(config), calibration=neutral)


def export_session_bvh(path: Path, out: Path, should_stop: Callable[[], bool] = lambda: False) -> tuple[int, str]:
    """Re-export the recorded rigs of a session as BVH + CSV (no tracking, no re-solving).
    Returns (frames written, "source ended" | "stopped" | "source failed: ..."); a damaged
    line ends the export there, keeping the frames before it."""
    from vtuber.app import DEFAULT_RECORD_FPS
    from vtuber.capture.replay import session_fps
    from vtuber.record.bvh_file import BvhFileWriter, rig_blendshape_names
    from vtuber.record.session import read_session

    try:
        header, frames = read_session(path)
    except RecordingError as exc:  # e.g. a session from a newer version
        return 0, f"source failed: {exc}"
    fps = session_fps(header) or DEFAULT_RECORD_FPS
    csv = out.with_suffix(".csv")
    from vtuber.solve.body import relaxed_rest

    with BvhFileWriter(out, fps, blendshape_csv=csv, blendshape_names=rig_blendshape_names(), rest=relaxed_rest()) as writer:
        try:
            for _landmarks, rig in frames:
                if should_stop():
                    return writer.frames, "stopped"
                if rig is not None:
                    writer.write_rig(rig)
        except RecordingError as exc:
            return writer.frames, f"source failed: {exc}"
        return writer.frames, "source ended"


def cmd_replay(args: argparse.Namespace) -> int:
    from vtuber.app import REPLAY_SECTIONS, run_engine
    from vtuber.capture.replay import SessionReplay
    from vtuber.cli import output_overrides

    replay = SessionReplay(args.session)
    overrides = output_overrides(args)
    overrides.setdefault("source", {})["spec"] = str(args.session)
    if overrides.get("record", {}).get("bvh") is None:
        overrides.pop("record", None)
    # the live run's camera, calibration profile, smoothing and avatar settings from the session's
    # header (sessions from before they were stored replay with the defaults), then a settings
    # file (checked on its own first), then the flags: what is given at replay time wins
    data: dict[str, Any] = {}
    settings = replay.header.get("settings")
    if isinstance(settings, dict):
        data = {name: dict(v) for name, v in settings.items() if name in REPLAY_SECTIONS and isinstance(v, dict)}
    if args.config:
        from_file = read_config_file(args.config)
        build_config(from_file, {}, origin=args.config)
        from_file.pop("record", None)  # only the flags record a replay
        for name, values in from_file.items():
            data[name] = {**data.get(name, {}), **values} if isinstance(values, dict) else values
    config = build_config(data, overrides, origin=f"{args.session} (header settings){f', {args.config}' if args.config else ''} and the command line")
    summary = run_engine(config, source=replay.source, tracker=replay.tracker, setup=replay_setup(replay.header, args, config))
    sys.stderr.write(f"vtuber: replayed {summary.frames} frames in {summary.elapsed_s:.1f} s; {summary.ended_by}\n")
    return EXIT_FAILED if summary.ended_by.startswith("source failed") else 0


def replay_setup(header: dict[str, Any], args: argparse.Namespace, config: Any) -> Any:
    """The calibration and camera profile a replay solves with: the ones the session recorded
    (so a replay does not change when the profiles on disk do), except where ``--user-profile``
    or ``--camera-profile`` names one (``--fov`` alone: the field-of-view camera); None (the
    profiles on disk) for sessions that recorded none. A damaged record is one warning line,
    then the profiles on disk."""
    import logging

    from vtuber.app import UserSetup, load_user_setup

    if "user_setup" not in header:
        return None
    try:
        recorded = UserSetup.from_header(header["user_setup"], str(args.session))
    except ConfigError as exc:
        logging.getLogger(__name__).warning("%s; using the profiles on disk instead", exc)
        return None
    if args.fov is not None and not args.camera_profile:  # --fov asks for the field-of-view camera
        recorded = UserSetup(recorded.calibration, None, recorded.origin)
    if not (args.user_profile or args.camera_profile):
        return recorded
    disk = load_user_setup(config)
    calibration = disk.calibration if args.user_profile else recorded.calibration
    camera = (disk.camera_profile, disk.origin) if args.camera_profile else (recorded.camera_profile, recorded.origin)
    return UserSetup(calibration, *camera)


def cmd_repair(args: argparse.Namespace) -> int:
    from vtuber.record.repair import repair

    paths = [Path(name) for name in args.files]
    for path in paths:  # every name checked before any file is touched
        if path.is_dir():
            raise SourceError(f"{path} is a folder: name the recordings in it (e.g. vtuber repair {path}/*.bvh {path}/*.jsonl)")
        if not path.is_file():
            raise SourceError(f"file not found: {path}")
    for path in paths:
        try:
            report = repair(path)
        except (ValueError, OSError) as exc:
            raise VTuberError(f"cannot repair {path}: {exc}") from exc
        state = "repaired" if report.changed else "already valid"
        sys.stderr.write(f"vtuber: {path}: {state}, {report.frames} frames\n")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from vtuber.record.plot import plot_session

    try:
        out = plot_session(args.session, args.output)
    except ImportError as exc:
        raise VTuberError(f"plotting needs matplotlib ({exc}): pip install 'vtuber[plot]'") from exc
    sys.stderr.write(f"vtuber: wrote {out}\n")
    return 0
