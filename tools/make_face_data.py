"""Regenerate the face data files under vtuber/data/ (run once; the outputs are committed).

* ``canonical_face.npz``: MediaPipe's canonical face model (468 vertices in centimetres, its
  texture coordinates, 898 triangles and the Procrustes landmark weights), read from the
  ``geometry_pipeline_metadata_landmarks.binarypb`` inside the official ``face_landmarker.task``
  bundle (Apache-2.0, Google). Axes: x to the subject's left, y up, z out of the face.
* ``astronaut_face.npz``: where those 478 landmarks (with iris) lie on
  ``skimage.data.astronaut()``, found by MediaPipe Face Mesh with iris refinement. The demo source
  and the face benchmark texture the canonical mesh with that photo through these points.

Usage: python tools/make_face_data.py [--models ../shared/models]
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "vtuber" / "data"


def canonical_face(task_path: Path) -> None:
    from mediapipe.modules.face_geometry.protos import geometry_pipeline_metadata_pb2

    meta = geometry_pipeline_metadata_pb2.GeometryPipelineMetadata()
    with zipfile.ZipFile(task_path) as bundle:
        meta.ParseFromString(bundle.read("geometry_pipeline_metadata_landmarks.binarypb"))
    mesh = meta.canonical_mesh
    vertex = np.array(mesh.vertex_buffer, dtype=np.float64).reshape(-1, 5)
    triangles = np.array(mesh.index_buffer, dtype=np.int32).reshape(-1, 3)
    basis = np.array([(b.landmark_id, b.weight) for b in meta.procrustes_landmark_basis])
    np.savez_compressed(
        OUT / "canonical_face.npz",
        vertices_cm=vertex[:, :3],
        uv=vertex[:, 3:],
        triangles=triangles,
        procrustes_ids=basis[:, 0].astype(np.int32),
        procrustes_weights=basis[:, 1],
    )
    print(f"canonical_face.npz: {len(vertex)} vertices, {len(triangles)} triangles")


def astronaut_face() -> None:
    import mediapipe as mp
    from skimage import data

    image = data.astronaut()
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
        result = mesh.process(image)
    if not result.multi_face_landmarks:
        raise SystemExit("no face found on skimage.data.astronaut()")
    lms = result.multi_face_landmarks[0].landmark
    h, w = image.shape[:2]
    points = np.array([(p.x * w, p.y * h, p.z * w) for p in lms], dtype=np.float64)
    np.savez_compressed(OUT / "astronaut_face.npz", points_px=points, image_size=np.array([w, h]))
    print(f"astronaut_face.npz: {len(points)} points")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("../shared/models"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    canonical_face(args.models / "face_landmarker.task")
    astronaut_face()


if __name__ == "__main__":
    main()
