"""Which frames set the after-tracking p95, and is it the code or the machine?

Run: ``python bench/slow_frames.py [--clip liveportrait/d10.mp4] [--runs 3]`` (about 15 s a run).

Each run is ``vtuber bench throughput``'s face-only engine run of one clip (Face Mesh, balanced
smoothing, a real VMC receiver and the WebSocket server process with 3 reading clients, unpaced),
with every frame's stage durations kept. The *slow* frames are the 5 % with the longest
after-tracking wall clock (solve + smooth + retarget + send), the frames the p95 is made of.

Printed per run, milliseconds:

* after tracking p50 / p95, and the same for MediaPipe's own ``track`` stage;
* each stage's median over all frames and over the slow frames (``slow/all``: how much slower
  the slow frames are, stage by stage);
* ``track`` on the slow frames against all frames: if MediaPipe, whose work is entirely
  different code, is slower by about the same factor on the same frames, the slow frames are
  slow periods of the machine (other guests, the host's memory reclaim), not a slow path of
  ours;
* the slow frames' indices, to see whether they cluster in time.

Also a *code in isolation* line: ``solve_head`` on the clip's cached landmarks in a tight loop
of its own against the same call inside the full per-frame sequence (solve, smooth, retarget,
VMC and wire encoding) run back to back with no pause: how much a stage costs because the
other stages' code and data displaced its own from the core's caches.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vtuber.bench import throughput

MEDIA = Path(os.environ.get("VTUBER_MEDIA_DIR", Path(__file__).resolve().parents[2] / "shared" / "media"))
SLOW_FRACTION = 0.05  # the frames above the p95
STAGES = ("track", "solve", "smooth", "retarget", "send")


def engine_run(clip: Path) -> dict[str, np.ndarray]:
    """One throughput-bench engine run; per-frame stage durations in milliseconds."""
    return throughput.bench_clip(clip, "face").frame_stages_ms


def report(stages: dict[str, np.ndarray]) -> None:
    after = stages["solve"] + stages["smooth"] + stages["retarget"] + stages["send"]
    count = max(1, round(SLOW_FRACTION * len(after)))
    slow = np.sort(np.argsort(after)[-count:])
    print(f"  after tracking p50/p95 {np.percentile(after, 50):.3f}/{np.percentile(after, 95):.3f} ms; "
          f"track p50/p95 {np.percentile(stages['track'], 50):.2f}/{np.percentile(stages['track'], 95):.2f} ms")
    for name in STAGES:
        all_median, slow_median = np.median(stages[name]), np.median(stages[name][slow])
        print(f"  {name:9s} median all {all_median:7.3f}  slow frames {slow_median:7.3f}  slow/all {slow_median / all_median:4.2f}")
    print(f"  slow frames ({count} of {len(after)}): {slow.tolist()}")


def isolation(clip: Path, repeats: int = 3) -> tuple[float, float]:
    """Median microseconds of ``solve_head``: in a loop of its own, and inside the full
    per-frame sequence (no pause between frames)."""
    from vtuber.bench.face import clip_landmarks, tracked_clip
    from vtuber.encode.pose_wire import pose_to_wire
    from vtuber.encode.vmc import encode_vmc
    from vtuber.retarget.profile import load_profile
    from vtuber.retarget.retarget import retarget
    from vtuber.smooth import RigSmoother
    from vtuber.solve import rig as rig_module
    from vtuber.solve.camera import CameraIntrinsics
    from vtuber.solve.head import solve_head

    data = tracked_clip(clip, "mesh")
    frames = [lm for lm in (clip_landmarks(data, i) for i in range(len(data["points"]))) if lm.face is not None]
    camera = CameraIntrinsics.from_fov(*frames[0].image_size, 60.0)
    alone: list[int] = []
    for _ in range(repeats):
        previous = None
        for lm in frames:
            t0 = time.perf_counter_ns()
            previous = solve_head(lm.face, lm.image_size, camera, previous) or previous
            alone.append(time.perf_counter_ns() - t0)
    inside: list[int] = []

    def timed_head(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter_ns()
        out = solve_head(*args, **kwargs)
        inside.append(time.perf_counter_ns() - t0)
        return out

    profile = load_profile("vrm0")
    original = rig_module.solve_head
    rig_module.solve_head = timed_head
    try:
        for _ in range(repeats):
            smoother, head, bones = RigSmoother("balanced"), None, None
            for lm in frames:
                rig = rig_module.solve_rig(lm, camera, rig_module.FaceCalibration(), head, bones)
                head, bones = rig.head, rig.bones
                pose = retarget(smoother.update(rig), profile)
                encode_vmc(pose, time_s=0.0)
                pose_to_wire(pose, 0.0)
    finally:
        rig_module.solve_head = original
    return float(np.median(alone)) / 1e3, float(np.median(inside)) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", default="liveportrait/d10.mp4", help="relative to the media folder")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    clip = MEDIA / args.clip
    for run in range(args.runs):
        print(f"run {run + 1}: {args.clip}")
        report(engine_run(clip))
    alone, inside = isolation(clip)
    print(f"solve_head median: {alone:.1f} us in a loop of its own, {inside:.1f} us inside the per-frame sequence ({inside / alone:.1f}x)")


if __name__ == "__main__":
    main()
