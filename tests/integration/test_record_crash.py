"""Kill a recording process and check what is left on disk.

A child process records a BVH (with a blendshape CSV) and a session at 50 fps, printing
``k monotonic_time`` after each frame is written. The parent kills it mid-recording; every frame
written more than one second before the kill must be in the (repaired) files, in order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vtuber.record.repair import repair_bvh, repair_csv, repair_session
from vtuber.record.session import read_session

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import math, sys, time
import numpy as np
from vtuber import geometry
from vtuber.record.bvh_file import BvhFileWriter
from vtuber.record.session import SessionWriter
from vtuber.records import Landmarks, Rig, frozen_mapping

bvh_path, csv_path, session_path = sys.argv[1:4]
bvh = BvhFileWriter(bvh_path, 50.0, blendshape_csv=csv_path, blendshape_names=["jawOpen"])
ses = SessionWriter(session_path, {"source": "crash-test", "fps": 50.0, "image_size": [64, 48]})
try:
    k = 0
    start = time.monotonic()
    while True:
        t = start + k / 50.0
        rots = {"Head": geometry.from_axis_angle((0, 1, 0), math.radians(k % 90))}
        # root x carries the frame number (cm) so the parent can check order and gaps
        bvh.write(rots, (k / 100.0, 0.95, 0.0), blendshapes={"jawOpen": (k % 100) / 100})
        face = np.full((478, 3), k, dtype=np.float32)
        from vtuber.records import FaceLandmarks
        lm = Landmarks(t=t, index=k, image_size=(64, 48), face=FaceLandmarks(points=face))
        ses.write(lm, Rig(t=t, index=k, bones={"Head": rots["Head"]}))
        print(k, time.monotonic(), flush=True)
        k += 1
        time.sleep(max(0.0, start + k / 50.0 - time.monotonic()))
finally:  # reached on Ctrl-C (KeyboardInterrupt), not on SIGKILL
    bvh.close()
    ses.close()
"""


def _run_and_signal(tmp_path, sig: int, seconds: float = 2.5):
    paths = [tmp_path / "rec.bvh", tmp_path / "rec.csv", tmp_path / "rec.jsonl"]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, *map(str, paths)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    reports: list[tuple[int, float]] = []
    deadline = None
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            k, t = line.split()
            reports.append((int(k), float(t)))
            if deadline is None:
                deadline = time.monotonic() + seconds
            if time.monotonic() >= deadline:
                break
        killed_at = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert reports, proc.stderr.read()  # type: ignore[union-attr]
    return paths, reports, killed_at, proc.returncode


def _bvh_roots(path: Path) -> tuple[int, list[float]]:
    _, motion = path.read_text().split("MOTION\n")
    lines = motion.split("\n")
    frames = int(lines[0].split()[1])
    return frames, [float(ln.split()[0]) for ln in lines[2:] if ln.strip()]


@pytest.mark.slow
def test_sigkill_then_repair_keeps_every_frame_older_than_a_second(tmp_path):
    (bvh, csv, ses), reports, killed_at, rc = _run_and_signal(tmp_path, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    old = [k for k, t in reports if t < killed_at - 1.0]
    assert len(old) > 20

    report = repair_bvh(bvh)
    frames, roots = _bvh_roots(bvh)
    assert frames == report.frames == len(roots)
    assert roots == [float(k) for k in range(len(roots))]  # in order, no gaps
    assert len(roots) >= max(old) + 1
    assert (
        len(roots) >= max(k for k, _ in reports) + 1
    )  # flushed per frame: nothing reported is lost
    bvhio = pytest.importorskip("bvhio")
    assert bvhio.readAsBvh(str(bvh)).FrameCount == frames

    repair_csv(csv)
    rows = csv.read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows[:frames]] == list(range(frames))

    repair_session(ses)
    _, it = read_session(ses)
    idx = [lm.index for lm, _ in it]
    assert idx == list(range(len(idx))) and len(idx) >= max(old) + 1


@pytest.mark.slow
def test_ctrl_c_leaves_a_valid_file_without_repair(tmp_path):
    (bvh, _, ses), reports, _, rc = _run_and_signal(tmp_path, signal.SIGINT, seconds=1.0)
    assert rc != 0  # KeyboardInterrupt after the finally block closed the files
    frames, roots = _bvh_roots(bvh)
    assert frames == len(roots) >= len(reports)
    assert not repair_bvh(bvh).changed
    assert not repair_session(ses).changed
