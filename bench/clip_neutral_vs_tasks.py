"""How close Face Mesh's geometric blendshapes come to the Tasks model's (the learned reference)
on the same frames, measured against the canonical face and against the clip's own resting face
(``vtuber.calibrate.clip_neutral``, what ``vtuber convert --neutral clip`` uses).

Run: PYTHONPATH=. python bench/clip_neutral_vs_tasks.py   (landmarks cached by ``vtuber bench face``
in ~/.cache/vtuber/bench; clips from ../shared/media). Prints per clip the mean absolute
difference over all frames and the 48 ARKit channels other than eyeLook*, and the three channels
that differ most.
"""

from __future__ import annotations

import numpy as np

from vtuber.bench import face
from vtuber.calibrate.clip_neutral import NEUTRAL_SAMPLES, clip_neutral
from vtuber.solve.arkit import ARKIT_52
from vtuber.solve.rig import FaceCalibration, solve_rig

CLIPS = [f"dreamtalk_mead/M030_front_{e}_001.mp4" for e in (
    "neutral_level1", "angry_level3", "happy_level3", "sad_level3", "surprised_level3",
    "contempt_level3", "disgusted_level3", "fear_level3",
)] + [f"liveportrait/{c}.mp4" for c in ("d0", "d10", "d12", "d14", "d18")]  # fmt: skip
NAMES = [n for n in ARKIT_52 if not n.startswith("eyeLook")]


def main() -> None:
    totals: dict[str, list[np.ndarray]] = {"canonical": [], "clip": []}
    for clip in CLIPS:
        mesh = face.tracked_clip(face.MEDIA_DIR / clip, "mesh")
        tasks = face.tracked_clip(face.MEDIA_DIR / clip, "tasks")
        w, h = (int(v) for v in mesh["size"])
        camera = face._engine_camera(w, h)
        n = min(len(mesh["points"]), len(tasks["points"]))
        frames = [face.clip_landmarks(mesh, i) for i in range(n)]
        neutral = clip_neutral(frames[:: max(1, n // NEUTRAL_SAMPLES)], 60.0) or FaceCalibration()
        rows: dict[str, list[list[float]]] = {"canonical": [], "clip": [], "tasks": []}
        previous: dict[str, object] = dict.fromkeys(rows)
        for i in range(n):
            learned = face.clip_landmarks(tasks, i)
            if frames[i].face is None or learned.face is None:
                continue
            for key, lm, calibration in (("canonical", frames[i], FaceCalibration()), ("clip", frames[i], neutral), ("tasks", learned, FaceCalibration())):
                rig = solve_rig(lm, camera, calibration, previous[key])  # type: ignore[arg-type]
                previous[key] = rig.head
                rows[key].append([rig.blendshapes.get(name, 0.0) for name in NAMES])
        reference = np.array(rows["tasks"])
        line = [clip.split("/")[-1]]
        for key in ("canonical", "clip"):
            diff = np.abs(np.array(rows[key]) - reference)
            totals[key].append(diff)
            per_channel = diff.mean(axis=0)
            top = ", ".join(f"{NAMES[j]} {per_channel[j]:.2f}" for j in np.argsort(per_channel)[::-1][:3])
            line.append(f"{key} {diff.mean():.3f} [{top}]")
        print(" | ".join(line))
    for key, diffs in totals.items():
        d = np.concatenate(diffs)
        print(f"all clips, {key} neutral: {d.mean():.3f} ({int((d.mean(axis=0) > 0.2).sum())} channels above 0.2)")


if __name__ == "__main__":
    main()
