"""Time ``solve_body`` (torso, both arms, both hands with fingers) per frame and print a table.

Run: ``python bench/body_solve_cost.py`` (a few seconds).

Input: synthetic Holistic-style landmarks (``vtuber.solve.kinematics.synthetic_landmarks``) of
``POSES`` seeded random arm poses, both hands tracked, solved as the engine does it (with the
previous frame's bones). Two loops: *hot* (the same call back to back, what the code itself
costs) and *cold* (``SLEEP_S`` asleep before each call, as the engine thread waits for
MediaPipe between frames: on this 2-core VM a call after a pause costs up to twice as much).
Reported in milliseconds, median and p95 over all calls.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vtuber import geometry
from vtuber.records import Landmarks
from vtuber.solve.body import solve_body
from vtuber.solve.kinematics import synthetic_landmarks
from vtuber.solve.limits import bone_rotation

POSES = 20  # distinct poses, so no single geometry decides the timing
CALLS_PER_POSE = 30
SLEEP_S = 0.004  # about one MediaPipe face-tracking call on this machine


def random_arms(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Hips turned a little and both arms, forearms and hands inside the solver's limits
    (degrees drawn uniformly; twists mirrored on the right, as mirroring negates them)."""
    u, r = rng.uniform, math.radians
    pose = {"Hips": geometry.from_axis_angle((0.0, 1.0, 0.0), r(u(-20, 20)))}
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        pose[f"{side}UpperArm"] = bone_rotation(f"{side}UpperArm", r(u(-30, 100)), r(u(-70, 60)), sign * r(u(-60, 60)))
        pose[f"{side}LowerArm"] = bone_rotation(f"{side}LowerArm", r(u(40, 140)), 0.0, sign * r(u(-150, 20)))
        pose[f"{side}Hand"] = bone_rotation(f"{side}Hand", r(u(-60, 70)), r(u(-25, 15)))
    return pose


def time_calls(frames: list[Landmarks], sleep_s: float) -> np.ndarray:
    """Milliseconds of each ``solve_body`` call over ``frames`` (each ``CALLS_PER_POSE`` times)."""
    out = []
    for lm in frames:
        previous = dict(solve_body(lm).bones)
        for _ in range(CALLS_PER_POSE):
            if sleep_s:
                time.sleep(sleep_s)
            t0 = time.perf_counter()
            previous = dict(solve_body(lm, previous=previous).bones)
            out.append(time.perf_counter() - t0)
    return 1000.0 * np.array(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    frames = [synthetic_landmarks(random_arms(rng)) for _ in range(POSES)]
    print("| loop | calls | median ms | p95 ms |")
    print("|---|---|---|---|")
    for name, sleep_s in (("hot", 0.0), (f"cold ({1000 * SLEEP_S:.0f} ms asleep before each)", SLEEP_S)):
        ms = time_calls(frames, sleep_s)
        print(f"| {name} | {len(ms)} | {np.median(ms):.3f} | {np.percentile(ms, 95):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
