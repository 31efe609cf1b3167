"""Command line: ``vtuber run`` and friends. The only module that reads argv or the environment.

Every ``VTuberError`` reaching here is printed as one line (``vtuber: error: ...``) with exit
status 2, never a traceback; ``-v`` shows debug logs and tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from typing import Any, Sequence

from vtuber import __version__
from vtuber.config import EngineConfig, build_config, load_config, parse_host_port
from vtuber.errors import VTuberError

logger = logging.getLogger("vtuber")

RUN_EPILOG = """\
examples:
  vtuber run --demo                      built-in moving face, no camera needed
  vtuber run --source webcam:0           your webcam (or /dev/video2)
  vtuber run --source clip.mp4 --no-pace a video as fast as possible
  vtuber run --vmc 127.0.0.1:39539 --vmc 192.168.1.20:39539   two VMC receivers at once

receivers:
  VSeeFace / VNyan / Warudo / VMagicMirror: enable their VMC receiver on port 39539
  (the default target); browser or Unity clients: ws://127.0.0.1:8765/ (docs/protocol.md);
  OBS: add a Browser Source with http://127.0.0.1:8766/ (docs/browser_source.md).
"""


def _run_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="track a source and stream avatar motion",
        description="Track a webcam, video, image folder or the built-in demo and stream the "
        "avatar motion over VMC (OSC/UDP) and WebSocket.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--demo", action="store_true", help="built-in demo face with known motion (default)")
    src.add_argument("--source", metavar="SPEC", help="webcam:N, /dev/videoN, a video file or an image folder")
    p.add_argument("--mode", choices=("face", "face_hands", "upper_body"), help="what to track (default face)")
    p.add_argument("--hand-backend", choices=("legacy", "tasks"), help="hand model (default legacy; tasks = HandLandmarker)")
    p.add_argument("--tracker", choices=("mediapipe", "dlib", "fan"), help="landmark back end (default mediapipe)")
    p.add_argument("--face-backend", choices=("auto", "mesh", "tasks", "hybrid"), help="face tracker (default auto)")
    p.add_argument("--models-dir", metavar="DIR", help="folder with face_landmarker.task / hand_landmarker.task")
    add_solve_arguments(p)
    add_output_arguments(p)
    p.add_argument("--record-session", metavar="OUT.jsonl", help="record landmarks, rig and timestamps")
    p.set_defaults(handler=cmd_run)


def add_solve_arguments(p: argparse.ArgumentParser) -> None:
    """What the tracked landmarks become (camera, calibration, smoothing, avatar names): shared
    by ``run`` and ``replay`` (where they override the settings the session recorded)."""
    p.add_argument("--profile", metavar="NAME|FILE", help="avatar blendshape names: vrm0 (default), vrm1, perfect_sync")
    p.add_argument("--mirror", action="store_true", help="selfie view: the avatar moves like your mirror image")
    p.add_argument("--smoothing", choices=("responsive", "balanced", "smooth", "none"), help="default balanced")
    p.add_argument("--fov", type=float, metavar="DEG", help="camera horizontal field of view for head pose (default 60)")
    p.add_argument("--camera-profile", metavar="NAME|FILE", help="calibrated camera (vtuber calibrate camera)")
    p.add_argument("--user-profile", metavar="NAME|FILE", help="your neutral face (vtuber calibrate face)")


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    """Settings file, receivers, the page, run limits and BVH recording: shared by ``run`` and
    ``replay``."""
    p.add_argument("--config", metavar="FILE", help="TOML settings file (flags override it)")
    p.add_argument("--vmc", metavar="HOST:PORT", action="append", help="VMC receiver (repeatable; default 127.0.0.1:39539)")
    p.add_argument("--no-vmc", action="store_true", help="do not send VMC")
    p.add_argument("--vmc-preset", choices=("generic", "vseeface", "warudo", "vnyan", "vmagicmirror", "evmc4u"),
                   help="VMC receiver quirks (default generic)")
    p.add_argument("--vmc-profile", metavar="NAME|FILE",
                   help="blendshape names over VMC (vrm0, vrm1, perfect_sync); default: the preset's own")
    p.add_argument("--vts", action="store_true", help="drive VTube Studio as a plugin (ws://localhost:8001)")
    p.add_argument("--ifacialmocap", metavar="HOST:PORT", action="append", help="send the iFacialMocap stream")
    p.add_argument("--osc-map", metavar="FILE.toml", help="send OSC through this address map (e.g. avatars/osc_vrchat.toml)")
    p.add_argument("--ws", metavar="HOST:PORT", help="WebSocket server address (default 127.0.0.1:8765)")
    p.add_argument("--no-ws", action="store_true", help="do not run the WebSocket server")
    p.add_argument("--ws-token", metavar="TOKEN", help="access token WebSocket clients must send (?token=)")
    p.add_argument("--page", metavar="HOST:PORT", help="browser-source page address (default 127.0.0.1:8766)")
    p.add_argument("--no-page", action="store_true", help="do not serve the browser-source page")
    p.add_argument("--avatar", metavar="FILE.vrm", help="VRM model for the page (default: the built-in avatar)")
    p.add_argument("--no-pace", action="store_true", help="process recorded sources as fast as possible")
    p.add_argument("--frames", type=int, metavar="N", help="stop after N frames")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--quiet", action="store_true", help="no live telemetry line")
    p.add_argument("--record-bvh", metavar="OUT.bvh", help="record the motion to BVH (+ blendshape CSV beside it)")
    p.add_argument("--overwrite", action="store_true", help="replace recordings that already exist (default: refuse)")


COMMAND_MODULES: tuple[str, ...] = ("record", "listen", "bench", "calibrate")
"""Modules under vtuber.commands whose ``register(sub)`` adds a sub-command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vtuber", description="Webcam or video to live avatar motion (VMC, WebSocket)."
    )
    parser.add_argument("--version", action="version", version=f"vtuber {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _run_parser(sub)
    for name in COMMAND_MODULES:
        importlib.import_module(f"vtuber.commands.{name}").register(sub)
    _accept_verbose_anywhere(sub)
    return parser


def _accept_verbose_anywhere(sub: Any) -> None:
    """``-v`` after the command too (``vtuber run -v``), on every (nested) subcommand; SUPPRESS
    keeps the top-level value when it is not given there."""
    for command in set(sub.choices.values()):
        if not any("-v" in a.option_strings for a in command._actions):
            command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging and tracebacks")
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _accept_verbose_anywhere(action)


def _putter(o: dict[str, dict[str, Any]]) -> Any:
    def put(section: str, key: str, value: Any) -> None:
        if value is not None:
            o.setdefault(section, {})[key] = value

    return put


def run_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """``run``'s flags as config overrides ({section: {key: value}})."""
    o = output_overrides(args)
    put = _putter(o)
    put("source", "spec", "demo" if args.demo else args.source)
    put("track", "mode", args.mode)
    put("track", "backend", args.tracker)
    put("track", "hand_backend", args.hand_backend)
    put("track", "face_backend", args.face_backend)
    put("track", "models_dir", args.models_dir)
    put("record", "session", args.record_session)
    return o


def output_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The flags of ``add_solve_arguments`` and ``add_output_arguments`` as config overrides."""
    o: dict[str, dict[str, Any]] = {}
    put = _putter(o)
    put("avatar", "profile", args.profile)
    if args.mirror:
        put("avatar", "mirror", True)
    put("smoothing", "preset", args.smoothing)
    put("camera", "horizontal_fov_deg", args.fov)
    put("camera", "profile", args.camera_profile)
    put("user", "profile", args.user_profile)
    if args.no_pace:
        put("source", "pace", False)
    if args.vmc:  # naming a receiver turns VMC on, even if a settings file turned it off
        put("vmc", "targets", list(args.vmc))
        put("vmc", "enabled", True)
    if args.no_vmc:
        put("vmc", "enabled", False)
    put("vmc", "preset", args.vmc_preset)
    put("vmc", "profile", args.vmc_profile)
    if args.vts:
        put("vts", "enabled", True)
    if args.ifacialmocap:
        put("ifacialmocap", "enabled", True)
        put("ifacialmocap", "targets", list(args.ifacialmocap))
    if args.osc_map:
        put("osc", "enabled", True)
        put("osc", "map", args.osc_map)
    if args.ws:
        host, port = parse_host_port(args.ws, "--ws")
        put("websocket", "host", host)
        put("websocket", "port", port)
        put("websocket", "enabled", True)
    if args.no_ws:
        put("websocket", "enabled", False)
    put("websocket", "token", args.ws_token)
    if args.page:
        host, port = parse_host_port(args.page, "--page")
        put("page", "host", host)
        put("page", "port", port)
        put("page", "enabled", True)
    if args.no_page:
        put("page", "enabled", False)
    put("page", "avatar", args.avatar)
    put("run", "max_frames", args.frames)
    put("run", "duration_s", args.duration)
    if args.quiet:
        put("run", "telemetry", False)
    put("record", "bvh", args.record_bvh)
    if args.overwrite:
        put("record", "overwrite", True)
    return o


def cmd_run(args: argparse.Namespace) -> int:
    overrides = run_overrides(args)
    config = load_config(args.config, overrides) if args.config else build_config({}, overrides, origin="command line")
    from vtuber.app import run_engine

    summary = run_engine(config, models_dir_env=os.environ.get("VTUBER_MODELS_DIR"))
    fps_note = f"{summary.fps:.1f} frames per second"
    sys.stderr.write(
        f"vtuber: {summary.frames} frames in {summary.elapsed_s:.1f} s ({fps_note}); face in "
        f"{summary.faces}/{summary.frames}; dropped {summary.dropped}; skipped {summary.skipped}; "
        f"{f'failed {summary.failed} (see the log); ' if summary.failed else ''}{summary.ended_by}\n"
    )
    return 0 if not summary.ended_by.startswith("source failed") else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ info lines are noise here
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except VTuberError as exc:
        if args.verbose:
            logger.exception("failed")
        sys.stderr.write(f"vtuber: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # whoever read our output went away: the work itself is done
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            try:
                os.dup2(devnull, stream.fileno())  # so the exit-time flush cannot fail again
            except (OSError, ValueError):
                pass
        return 0


def install_stop_signals(stop: Any) -> None:
    """SIGINT and SIGTERM call ``stop()`` (a clean shutdown that flushes outputs)."""

    def handler(signum: int, _frame: Any) -> None:
        logger.info("signal %d: stopping", signum)
        stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


__all__ = ["main", "build_parser", "EngineConfig"]
