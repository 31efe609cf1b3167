"""Offline motion capture: ``convert``, ``replay``, ``repair`` and ``plot``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from vtuber.config import build_config, parse_host_port
from vtuber.errors import ConfigError, SourceError, VTuberError


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
    p.add_argument("--face-backend", choices=("auto", "mesh", "tasks"), default="mesh")
    p.add_argument("--models-dir", metavar="DIR")
    p.add_argument("--smoothing", choices=("responsive", "balanced", "smooth", "none"), default="balanced")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of image folders (default 30)")
    p.set_defaults(handler=cmd_convert)

    p = sub.add_parser(
        "replay",
        help="send a recorded session to the receivers at its original timing",
        description="Re-run a recorded session's landmarks through the solvers and senders, "
        "deterministically, at the original timing (or as fast as possible with --no-pace).",
    )
    p.add_argument("session", metavar="SESSION")
    p.add_argument("--vmc", metavar="HOST:PORT", action="append")
    p.add_argument("--no-vmc", action="store_true")
    p.add_argument("--ws", metavar="HOST:PORT")
    p.add_argument("--no-ws", action="store_true")
    p.add_argument("--no-pace", action="store_true")
    p.add_argument("--profile", metavar="NAME|FILE")
    p.add_argument("--mirror", action="store_true")
    p.add_argument("--record-bvh", metavar="OUT.bvh")
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
    if len(inputs) == 1:
        out = Path(output) if output else inputs[0].with_suffix(".bvh")
        if out.is_dir():
            out = out / (inputs[0].stem + ".bvh")
        return [out]
    folder = Path(output) if output else Path(".")
    if folder.suffix == ".bvh":
        raise ConfigError("several inputs need -o FOLDER, not a single .bvh file")
    folder.mkdir(parents=True, exist_ok=True)
    return [folder / (p.stem + ".bvh") for p in inputs]


def cmd_convert(args: argparse.Namespace) -> int:
    inputs = [Path(p) for p in args.inputs]
    for path in inputs:
        if not path.exists():
            raise SourceError(f"input not found: {path}")
    for path, out in zip(inputs, _outputs(inputs, args.output)):
        if is_session_file(path):
            frames = export_session_bvh(path, out)
        else:
            frames = convert_media(path, out, args)
        sys.stderr.write(f"vtuber: wrote {out} ({frames} frames) and {out.with_suffix('.csv')}\n")
    return 0


def convert_media(path: Path, out: Path, args: argparse.Namespace) -> int:
    from vtuber.app import run_engine
    from vtuber.capture.open import open_source

    config = build_config(
        {},
        {
            "source": {"spec": str(path), "pace": False, "fps": args.fps},
            "track": {"mode": args.mode, "face_backend": args.face_backend, **({"models_dir": args.models_dir} if args.models_dir else {})},
            "smoothing": {"preset": args.smoothing},
            "record": {"bvh": str(out)},
            "run": {"telemetry": False},
        },
        origin="command line",
    )
    source = open_source(config.source)
    progress = Progress(path.name, int(getattr(source, "frame_count", 0) or 0))
    summary = run_engine(
        config, models_dir_env=os.environ.get("VTUBER_MODELS_DIR"), source=source, with_senders=False, on_stats=progress
    )
    progress.show(summary.frames, final=True)
    return summary.frames


def export_session_bvh(path: Path, out: Path) -> int:
    """Re-export the recorded rigs of a session as BVH + CSV (no tracking, no re-solving)."""
    from vtuber.record.bvh_file import BvhFileWriter
    from vtuber.record.session import read_session

    header, frames = read_session(path)
    with BvhFileWriter(out, float(header.get("fps") or 30.0), blendshape_csv=out.with_suffix(".csv")) as writer:
        for _landmarks, rig in frames:
            if rig is not None:
                writer.write_rig(rig)
        return writer.frames


def cmd_replay(args: argparse.Namespace) -> int:
    from vtuber.app import run_engine
    from vtuber.capture.replay import SessionReplay

    replay = SessionReplay(args.session)
    overrides: dict[str, dict[str, Any]] = {"source": {"spec": str(args.session), "pace": not args.no_pace}}
    if args.vmc:
        overrides["vmc"] = {"targets": list(args.vmc)}
    if args.no_vmc:
        overrides.setdefault("vmc", {})["enabled"] = False
    if args.ws:
        host, port = parse_host_port(args.ws, "--ws")
        overrides["websocket"] = {"host": host, "port": port}
    if args.no_ws:
        overrides.setdefault("websocket", {})["enabled"] = False
    if args.profile:
        overrides["avatar"] = {"profile": args.profile}
    if args.mirror:
        overrides.setdefault("avatar", {})["mirror"] = True
    if args.record_bvh:
        overrides["record"] = {"bvh": args.record_bvh}
    config = build_config({}, overrides, origin="command line")
    summary = run_engine(config, source=replay.source, tracker=replay.tracker)
    sys.stderr.write(f"vtuber: replayed {summary.frames} frames in {summary.elapsed_s:.1f} s; {summary.ended_by}\n")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from vtuber.record.repair import repair

    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise SourceError(f"file not found: {path}")
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
