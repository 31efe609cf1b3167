"""``vtuber calibrate camera`` (print a board, capture it, fit and save a camera profile) and
``vtuber calibrate profiles list|select|delete``; ``face`` and ``body`` (guided captures saved to
a user profile) are in ``vtuber.commands.calibrate_guided``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vtuber.commands.calibrate_guided import _say, add_guided_parsers
from vtuber.errors import ConfigError, VTuberError

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
    cam.add_argument(
        "--views", type=_views, default=DEFAULT_VIEWS, metavar="N",
        help=f"distinct views to collect, at least the fit's minimum (default {DEFAULT_VIEWS})",
    )
    cam.add_argument("--duration", type=float, metavar="S", help=f"give up a live capture after S seconds (default {LIVE_DURATION_S:g})")
    cam.add_argument("--width", type=int, default=640, help="webcam width to request (default 640)")
    cam.add_argument("--height", type=int, default=480, help="webcam height to request (default 480)")
    cam.add_argument("--select", action="store_true", help="also make the new profile the default camera")
    cam.add_argument("--calibration-dir", metavar="DIR", default="calibration", help="profile folder (default calibration/)")
    cam.set_defaults(handler=cmd_camera)

    add_guided_parsers(csub)

    prof = csub.add_parser(
        "profiles",
        help="list, select or delete calibration profiles",
        description="Camera profiles (calibration/cameras/) and user profiles (calibration/users/: face, body).",
    )
    prof.add_argument("--calibration-dir", metavar="DIR", default="calibration", help="profile folder (default calibration/)")
    psub = prof.add_subparsers(dest="profiles_command", metavar="ACTION")
    prof.set_defaults(handler=lambda args: _usage(prof))
    ls = psub.add_parser("list", help="list the profiles, the selected ones marked *")
    _calibration_dir_after_action(ls)
    ls.set_defaults(handler=cmd_profiles_list)
    for action, text in (("select", "make a profile the default"), ("delete", "delete a profile")):
        q = psub.add_parser(action, help=text)
        _calibration_dir_after_action(q)
        q.add_argument("kind", choices=("camera", "user"))
        q.add_argument("name", nargs="?" if action == "select" else None, metavar="NAME")
        if action == "select":
            q.add_argument("--none", action="store_true", help="clear the selection instead")
        q.set_defaults(handler=cmd_profiles_select if action == "select" else cmd_profiles_delete)


def _calibration_dir_after_action(parser: argparse.ArgumentParser) -> None:
    """``profiles ACTION --calibration-dir DIR`` as well as ``profiles --calibration-dir DIR ACTION``:
    the same dest, with no default here, so that leaving it out after the action keeps the value
    (or default) given before it."""
    parser.add_argument("--calibration-dir", metavar="DIR", default=argparse.SUPPRESS, help="profile folder (default calibration/)")


def _views(text: str) -> int:
    """``--views N``: an integer no smaller than the camera fit's minimum (checked while parsing,
    before anything is captured)."""
    from vtuber.calibrate.camera import MIN_VIEWS

    try:
        views = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if views < MIN_VIEWS:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_VIEWS} (the fewest views a camera fit needs), got {views}")
    return views


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


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
