"""Measure the smoothing presets on seeded synthetic tracking noise and print a table.

Run: ``python bench/smoothing_tune.py`` (about 20 s; add ``--fps 60`` for one rate only).

Everything goes through ``RigSmoother.update`` as the engine calls it. Assumed noise (white,
Gaussian, per frame, independent of the frame rate), in line with MediaPipe FaceLandmarker on a
static face at webcam resolution:

* head rotation: a random rotation vector with 0.4 degree std per axis (0.3 and 0.5 also shown);
* head position: 2 mm std per axis;
* blendshapes: 0.02 std on a weight of 0.3;
* bones (hands/pose): 1 degree std per axis.

Metrics: ``jit`` is the std over time of each of yaw, pitch, roll of the output (worst axis,
degrees, first second of 30 skipped, mean of 3 seeds); ``f90`` the frames, counting the first frame that carries the
step, until the output first reaches 90% of a step (20 degrees of yaw; 5 cm; a 0 -> 0.6 weight;
a bone turning from 20 to 50 degrees); ``sway`` the RMS error in degrees while following a 1 Hz, +-15 degree
yaw sway (lag); ``blink`` the peak output of a noisy 150 ms blink (``BLINK_T``/``BLINK_W``) and ``bf90`` the
frames from its start to 90% closed; ``bljit`` the blink channel's jitter with the eye open.
``cost`` is the mean time of one ``update`` with a head, 60 blendshapes and 10 bones.
"""

from __future__ import annotations

import argparse
import math
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vtuber import geometry
from vtuber.records import HeadPose, Rig
from vtuber.smooth import PRESETS, RigSmoother, SmoothingPreset
from vtuber.smooth.quaternion import quat_exp, quat_mul

Preset = SmoothingPreset | str

ROT_NOISE_DEG = 0.4
POS_NOISE_M = 0.002
BS_NOISE = 0.02
BONE_NOISE_DEG = 1.0
# A blink: closing in 50 ms, closed 50 ms, opening in 50 ms (150 ms from start to open).
BLINK_T = [0.0, 0.05, 0.10, 0.15]
BLINK_W = [0.0, 1.0, 1.0, 0.0]
BLENDSHAPES = ["eyeBlinkLeft", "eyeBlinkRight", "jawOpen"] + [f"shape{i:02d}" for i in range(57)]
BONES = [
    "LeftUpperArm",
    "LeftLowerArm",
    "LeftHand",
    "RightUpperArm",
    "RightLowerArm",
    "RightHand",
    "Spine",
    "Chest",
    "Neck",
    "Hips",
]


def noisy_rotation(rng: np.random.Generator, q: np.ndarray, std_deg: float) -> np.ndarray:
    return quat_mul(quat_exp(rng.normal(0.0, math.radians(std_deg), 3)), q)


def head_run(
    preset: Preset,
    fps: float,
    yaw_deg: np.ndarray,
    noise_deg: float,
    seed: int = 0,
    pos_z: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed (yaw, pitch, roll) in degrees (n, 3) and positions (n, 3) for a yaw sequence."""
    rng = np.random.default_rng(seed)
    sm = RigSmoother(preset)
    angles, positions = [], []
    for i, yaw in enumerate(yaw_deg):
        q = noisy_rotation(
            rng, geometry.from_yaw_pitch_roll(math.radians(yaw), 0.0, 0.0), noise_deg
        )
        z = -0.6 if pos_z is None else pos_z[i]
        p = np.array([0.0, 0.0, z]) + rng.normal(0.0, POS_NOISE_M if noise_deg else 0.0, 3)
        out = sm.update(Rig(t=i / fps, index=i, head=HeadPose(q, p)))
        assert out.head is not None
        angles.append(geometry.to_yaw_pitch_roll(out.head.rotation))
        positions.append(out.head.position)
    return np.degrees(np.array(angles)), np.array(positions)


def frames_to(values: np.ndarray, start: int, level: float) -> int:
    hit = np.flatnonzero(values[start:] >= level)
    return int(hit[0]) + 1 if hit.size else -1


def head_metrics(preset: Preset, fps: int) -> dict[str, float]:
    n = 30 * fps
    res: dict[str, float] = {}
    for nz in (0.3, 0.4, 0.5):  # mean over 3 seeds: a 30 s window of a 0.25 Hz low-pass varies
        res[f"jit{nz}"] = float(
            np.mean(
                [
                    head_run(preset, fps, np.zeros(n), nz, seed=s)[0][fps:].std(axis=0).max()
                    for s in range(3)
                ]
            )
        )
    _, pos = head_run(preset, fps, np.zeros(n), ROT_NOISE_DEG)
    res["pos_jit_mm"] = float(pos[fps:].std(axis=0).max() * 1000.0)
    k = 2 * fps
    step = np.r_[np.zeros(k), np.full(2 * fps, 20.0)]
    res["f90"] = frames_to(head_run(preset, fps, step, 0.0)[0][:, 0], k, 18.0)
    res["f90_noisy"] = float(
        np.median(
            [
                frames_to(head_run(preset, fps, step, 0.5, seed=s)[0][:, 0], k, 18.0)
                for s in range(5)
            ]
        )
    )
    tt = np.arange(n) / fps
    sway = 15.0 * np.sin(2.0 * math.pi * tt)
    ang, _ = head_run(preset, fps, sway, 0.0)
    res["sway_rms"] = float(np.sqrt(np.mean((ang[fps:, 0] - sway[fps:]) ** 2)))
    z = np.r_[np.full(k, -0.6), np.full(2 * fps, -0.55)]
    _, pos = head_run(preset, fps, np.zeros(4 * fps), 0.0, pos_z=z)
    res["pos_f90"] = frames_to(pos[:, 2] + 0.6, k, 0.045)
    return res


def channel_metrics(preset: Preset, fps: int) -> dict[str, float]:
    """Blendshape and bone jitter/steps, and the blink peak."""
    rng = np.random.default_rng(0)
    # 20 s of steady input (after a 1 s settle) before the step: the jitter std of a slow filter
    # needs many independent samples (a 1 s window read about 18 % low)
    k = 21 * fps
    n = k + 4 * fps
    sm = RigSmoother(preset)
    jaw, blink_out, bone = [], [], []
    blink = np.interp(np.arange(n) / fps - (k + fps) / fps, BLINK_T, BLINK_W)
    for i in range(n):
        jaw_v = 0.3 if i < k else 0.6
        blink_v = float(np.clip(blink[i] + rng.normal(0.0, BS_NOISE), 0.0, 1.0))
        bone_angle = math.radians(20.0 if i < k else 50.0)
        rig = Rig(
            t=i / fps,
            index=i,
            blendshapes={"jawOpen": jaw_v + rng.normal(0.0, BS_NOISE), "eyeBlinkLeft": blink_v},
            bones={
                "LeftHand": noisy_rotation(
                    rng, geometry.from_axis_angle((0, 0, 1), bone_angle), BONE_NOISE_DEG
                )
            },
        )
        out = sm.update(rig)
        jaw.append(out.blendshapes["jawOpen"])
        blink_out.append(out.blendshapes["eyeBlinkLeft"])
        axis, angle = geometry.to_axis_angle(out.bones["LeftHand"])
        bone.append(math.degrees(angle) * (1.0 if axis[2] >= 0 else -1.0))
    jaw_a, bone_a = np.array(jaw), np.array(bone)
    # noiseless step for frames-to-90%
    sm = RigSmoother(preset)
    jaw_clean = [
        sm.update(
            Rig(t=i / fps, index=i, blendshapes={"jawOpen": 0.0 if i < k else 0.6})
        ).blendshapes["jawOpen"]
        for i in range(n)
    ]
    return {
        "bs_jit": float(jaw_a[fps:k].std()),
        "bs_f90": frames_to(np.array(jaw_clean), k, 0.54),
        "blink_peak": float(max(blink_out)),
        "blink_f90": frames_to(np.array(blink_out), k + fps, 0.9),
        "blink_jit": float(np.array(blink_out)[fps:k].std()),
        "bone_jit": float(bone_a[fps:k].std()),
        "bone_f90": frames_to(bone_a, k, 47.0),
    }


def full_rig(rng: np.random.Generator, i: int, fps: float, face: bool = True) -> Rig:
    bs = {name: float(v) for name, v in zip(BLENDSHAPES, rng.uniform(0.0, 1.0, len(BLENDSHAPES)))}
    bones = {name: geometry.from_axis_angle((0, 1, 0), 0.1 * j) for j, name in enumerate(BONES)}
    head = HeadPose(geometry.from_yaw_pitch_roll(0.1, 0.0, 0.0), np.array([0.0, 0.0, -0.6]))
    return Rig(
        t=i / fps, index=i, head=head if face else None, blendshapes=bs if face else {}, bones=bones
    )


def cost_ms(preset: str, face: bool) -> float:
    rng = np.random.default_rng(0)
    rigs = [full_rig(rng, i, 30.0, face=face or i < 10) for i in range(3100)]
    sm = RigSmoother(preset)
    it = iter(rigs)
    for _ in range(20):
        sm.update(next(it))
    number = 1000
    seconds = min(timeit.repeat(lambda: sm.update(next(it)), number=number, repeat=3))
    return seconds / number * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fps", type=int, choices=(30, 60), action="append")
    args = ap.parse_args()
    names = [p for p in PRESETS if p != "none"]
    print(
        f"noise: head {ROT_NOISE_DEG} deg/axis (jit also at 0.3/0.5), {POS_NOISE_M * 1000:.0f} mm,"
        f" blendshape {BS_NOISE}, bone {BONE_NOISE_DEG} deg"
    )
    header = (
        "preset      fps  jit.3  jit.4  jit.5  f90 f90n sway  posjit posf90  bsjit  bsf90"
        " blink bf90 bljit  bonejit bonef90"
    )
    print(header)
    for fps in args.fps or (30, 60):
        for name in names:
            h = head_metrics(name, fps)
            c = channel_metrics(name, fps)
            print(
                f"{name:10s} {fps:4d}  {h['jit0.3']:.3f}  {h['jit0.4']:.3f}  {h['jit0.5']:.3f}"
                f"  {h['f90']:3.0f}  {h['f90_noisy']:3.0f} {h['sway_rms']:5.2f}  "
                f"{h['pos_jit_mm']:5.2f}  {h['pos_f90']:5.0f}  {c['bs_jit']:.4f}  {c['bs_f90']:4.0f}"
                f"  {c['blink_peak']:.2f}  {c['blink_f90']:3.0f} {c['blink_jit']:.3f}   {c['bone_jit']:.3f}   "
                f"{c['bone_f90']:4.0f}"
            )
    for name in ("balanced", "none"):
        print(
            f"cost {name}: face tracked {cost_ms(name, True):.3f} ms/update, "
            f"face lost (hold/decay) {cost_ms(name, False):.3f} ms/update"
        )


if __name__ == "__main__":
    main()
