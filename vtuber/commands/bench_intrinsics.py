"""``vtuber bench intrinsics``: head-pose error with board-recovered intrinsics vs the FOV default
(issue 9; ``vtuber.bench.intrinsics``, section ``bench:intrinsics`` of docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vtuber.commands.bench import add_mode

DOC = Path("docs/benchmarks.md")


def register_bench(modes: Any) -> None:
    add_mode(
        modes,
        "intrinsics",
        "calibrate a synthetic non-default camera from rendered boards, then compare head rotation error with the FOV default, recovered and true intrinsics",
        _intrinsics_args,
        cmd_intrinsics,
    )


def _intrinsics_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", nargs="+", choices=("tasks", "mesh"), default=["tasks", "mesh"], help="MediaPipe face back end(s) (default both)")
    p.add_argument("--poses", type=int, default=None, help="head poses per back end and placement (default 60)")
    p.add_argument("--views", type=int, default=None, help="board captures for the calibration (default 20)")
    p.add_argument("--seed", type=int, default=0, help="random seed of board and head poses (default 0)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write all numbers as JSON")
    p.add_argument("--write-docs", action="store_true", help="rewrite the bench:intrinsics section of --doc")
    p.add_argument("--doc", type=Path, default=DOC, help="Markdown file for --write-docs (default docs/benchmarks.md)")


def cmd_intrinsics(args: argparse.Namespace) -> int:
    from vtuber.bench import intrinsics
    from vtuber.bench.throughput import write_section

    poses = args.poses or intrinsics.HEAD_POSES
    views = args.views or intrinsics.BOARD_VIEWS
    r = intrinsics.run(tuple(args.backend), poses=poses, views=views, seed=args.seed)
    print(intrinsics.text_summary(r))
    command = intrinsics.REPRODUCE
    if args.backend != ["tasks", "mesh"]:
        command += " --backend " + " ".join(args.backend)
    for flag, value, default in (("--poses", poses, intrinsics.HEAD_POSES), ("--views", views, intrinsics.BOARD_VIEWS), ("--seed", args.seed, 0)):
        if value != default:
            command += f" {flag} {value}"
    if args.json:
        args.json.write_text(json.dumps(r, indent=1), encoding="utf-8")
    if args.write_docs:
        write_section(args.doc, "intrinsics", intrinsics.markdown(r, command))
        print(f"wrote the bench:intrinsics section of {args.doc}")
    return 0
