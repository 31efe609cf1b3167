"""``vtuber bench MODE``: measurement commands. ``face`` is defined here; other modes (throughput,
soak...) add themselves with ``add_mode`` from their own modules, listed in ``BENCH_MODULES``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any, Callable

BENCH_MODULES: tuple[str, ...] = ("bench_engine", "bench_senders", "bench_intrinsics")
"""Further modules under vtuber.commands whose ``register_bench(modes)`` adds a bench mode."""


def add_mode(modes: Any, name: str, help_text: str, configure: Callable[[argparse.ArgumentParser], None], handler: Callable[[argparse.Namespace], int]) -> None:
    """Add one ``vtuber bench NAME`` mode to the ``modes`` sub-parsers."""
    p = modes.add_parser(name, help=help_text, description=help_text)
    configure(p)
    p.set_defaults(handler=handler)


def register(subparsers: Any) -> None:
    """Add ``bench`` and its modes to the top-level sub-parsers."""
    bench = subparsers.add_parser(
        "bench",
        help="measure accuracy, smoothing and cost",
        description="Measure accuracy, smoothing, speed and memory on the clips in ../shared/media "
        "(VTUBER_MEDIA_DIR) and on synthetic renders; throughput, latency, convert and soak update their "
        "section of docs/benchmarks.md unless --no-doc. `vtuber bench MODE --help` for each.",
    )
    modes = bench.add_subparsers(dest="bench_mode", metavar="MODE", required=True)
    add_mode(modes, "face", "head pose, blinks, winks, vowels, jitter/lag and solver cost of the face", _face_args, cmd_face)
    for name in BENCH_MODULES:
        importlib.import_module(f"vtuber.commands.{name}").register_bench(modes)


def _face_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("tasks", "mesh"), default="tasks", help="MediaPipe face back end (default tasks)")
    p.add_argument("--quick", action="store_true", help="fewer synthetic frames")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write all numbers as JSON")
    p.add_argument("--cache", type=Path, metavar="DIR", help="landmark cache for the real clips (default ~/.cache/vtuber/bench)")


def cmd_face(args: argparse.Namespace) -> int:
    from vtuber.bench import face

    results = face.run_all(args.backend, args.cache or face.DEFAULT_CACHE, quick=args.quick)
    print(format_face(results))
    if "skipped" in results:
        sys.stderr.write(f"vtuber: {results['skipped']}\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return 0


def format_face(r: dict[str, Any]) -> str:
    """A plain-text summary with each acceptance threshold."""
    lines = []
    sh = r["synthetic_head"]
    for k, limit in (("default", 3.0), ("true", 2.0)):
        e = sh[k]
        d = sh["detection_frame"][k]
        lines.append(
            f"synthetic head ({k} intrinsics, {sh['frames']} renders, {sh['missed']} missed): yaw {e['yaw']:.2f} pitch {e['pitch']:.2f} "
            f"roll {e['roll']:.2f} deg MAE (<= {limit}); detection frame {d['yaw']:.2f} / {d['pitch']:.2f} / {d['roll']:.2f}"
        )
    if "mead_head" in r:
        m = r["mead_head"]
        lines.append(f"MEAD ({m['clips']} clips, {m['frames']} frames): yaw {m['yaw']:.2f} pitch {m['pitch']:.2f} roll {m['roll']:.2f} deg MAE after per-clip offset (<= 4)")
    j = r["jitter_and_lag"]
    lines.append(
        f"static jitter raw {max(j['jitter_raw_deg']):.3f} deg, balanced {j['jitter_balanced_worst_deg']:.3f} deg std (<= 0.1); "
        f"start-up: raw moves {j['startup_raw_shift_deg']:.2f} deg after detection, balanced within 0.1 deg after {j['startup_balanced_settle_frames']} frames"
    )
    lines.append(f"20 deg step, responsive, 30 fps: 90% after {j['step_frames_to_90']} frames (<= 2)")
    w = r["winks"]
    lines.append(f"winks (synthetic): {w['passed']}/{w['frames']} pass; min closed {w['min_closed']:.2f} (>= 0.8), max open {w['max_open']:.2f} (<= 0.3)")
    v = r["vowels"]
    lines.append(f"vowels (synthetic): own weight largest in {v['correct']}/{v['shapes']} with the default prototypes")
    if "calibrated" in v:
        c = v["calibrated"]
        lines.append(f"vowels after calibrate_vowels (frontal), held-out poses: {c['correct']}/{c['shapes']}")
    for key in ("blinks", "blinks_tasks"):
        if key in r:
            b = r[key]
            lines.append(
                f"blinks ({b['source']}): frame P {b['frame_precision']:.3f} R {b['frame_recall']:.3f} F1 {b['frame_f1']:.3f}; "
                f"event F1 {b['event_f1']:.3f} (>= 0.9)"
            )
    if "cost_ms" in r:
        c = r["cost_ms"]
        lines.append("cost ms/frame: " + ", ".join(f"{k} {v:.3f}" for k, v in c.items()) + " (solve_rig_plus_smooth <= 1)")
    return "\n".join(lines)
