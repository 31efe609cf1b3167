"""The 68-point path (dlib landmarks + vtuber.solve.face68) against the MediaPipe path on real
clips, and dlib's landmark error on the 300-W samples (issue 10's acceptance).

Head: per clip and per axis (yaw, pitch, roll), the mean absolute difference between the two
paths after removing the clip's mean difference (a constant offset) must stay under 5 degrees.
Blinks: per-eye, per-frame decisions (weight >= 0.5) of both paths, pooled over the clips;
F1 against the MediaPipe path's decisions must reach 0.8. Measured numbers: docs/face68.md.

d12 fails on yaw (a strict xfail); ``test_d12_yaw_gap_is_dlibs_landmarks_not_the_solver`` keeps
the diagnosis (docs/face68.md, "Why d12 fails") reproducible.
"""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from tests.conftest import MEDIA, media_path
from vtuber import geometry
from vtuber.capture.video import VideoFileSource
from vtuber.records import FaceLandmarks, HeadPose
from vtuber.solve import face68
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.eyes import solve_blinks
from vtuber.solve.face_model import canonical_face
from vtuber.solve.head import solve_head

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.mediapipe]

CLIPS = [
    "liveportrait/d12.mp4",  # yaw +-15, laughing, wide-open mouth
    "liveportrait/d14.mp4",  # about 13 blinks and a wink
    *(
        f"dreamtalk_mead/M030_front_{e}_001.mp4"
        for e in (
            "angry_level3", "contempt_level3", "disgusted_level3", "fear_level3",
            "happy_level3", "neutral_level1", "sad_level3", "surprised_level3",
        )
    ),
]
MAX_AXIS_ERROR_DEG = 5.0
MIN_BLINK_F1 = 0.8
MAX_NME_PER_IMAGE = 0.08  # inter-ocular (outer corners); the usual 300-W failure threshold
MAX_NME_MEAN = 0.06


@pytest.fixture(scope="module")
def dlib_tracker():
    pytest.importorskip("dlib", reason="dlib not installed (pip install dlib-bin face-recognition-models)")
    from vtuber.track.dlib_adapter import DlibTracker, default_predictor_path

    if not default_predictor_path().is_file():
        pytest.skip("shape_predictor_68_face_landmarks.dat not installed (pip install face-recognition-models)")
    with DlibTracker() as tracker:
        yield tracker


def _ypr_deg(q) -> np.ndarray:
    return np.degrees(geometry.to_yaw_pitch_roll(q))


@pytest.fixture(scope="module")
def runs(dlib_tracker):
    """Per clip: (MediaPipe yaw/pitch/roll, 68-path yaw/pitch/roll, MP blinks, 68 blinks)."""
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    out = {}
    for clip in CLIPS:
        source = VideoFileSource(media_path(clip))
        mp_tracker = MediaPipeTracker("face", face_backend="mesh")
        mp_prev = dl_prev = None
        rows = []
        while (frame := source.read()) is not None:
            w, h = frame.size
            camera = CameraIntrinsics.from_fov(w, h, 60.0)
            a = mp_tracker.track(frame).face
            b = dlib_tracker.track(frame).face
            if a is None or b is None:
                mp_prev = dl_prev = None
                continue
            mp_prev = solve_head(a, frame.size, camera, mp_prev)
            dl_prev = face68.solve_head68(b, frame.size, camera, dl_prev)
            if mp_prev is None or dl_prev is None:
                continue
            mb, db = solve_blinks(a, frame.size), face68.solve_blinks68(b, frame.size)
            rows.append(
                (
                    _ypr_deg(mp_prev.rotation),
                    _ypr_deg(dl_prev.rotation),
                    [mb["eyeBlinkLeft"], mb["eyeBlinkRight"]],
                    [db["eyeBlinkLeft"], db["eyeBlinkRight"]],
                )
            )
        mp_tracker.close()
        source.close()
        out[clip] = tuple(np.array([r[i] for r in rows]) for i in range(4))
    return out


# Known failure, kept visible: on d12's turns (MediaPipe yaw +-17 deg) dlib's landmarks follow only
# a fraction of the turn (the 68-point yaw spans about +-9 deg): dlib puts the far-side jaw contour
# off the face, onto the wooden wall behind it, and its nose and eye corners lag too. With the 68
# points taken from MediaPipe's mesh instead, the same solver passes (the test below), so the gap is
# dlib's landmarks, not the 68-point model or the fit; the rest of it is the 60 degree default view
# angle, likely too wide for this 512 px face crop, which a 2D-only fit feels much more than the
# MediaPipe path's depth-aware fit (docs/face68.md, "Why d12 fails"). strict: flags a pass.
D12_XFAIL = pytest.mark.xfail(strict=True, reason="dlib's landmarks under-read d12's turns (about 5.3 deg mean yaw gap)")


def _axis_errors(mp: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Mean absolute per-axis difference (deg) after removing the mean difference (the offset)."""
    diff = other - mp
    return np.abs(diff - diff.mean(axis=0)).mean(axis=0)


@pytest.mark.parametrize("clip", [pytest.param(c, marks=D12_XFAIL) if c.endswith("d12.mp4") else c for c in CLIPS])
def test_head_rotation_agrees_with_the_mediapipe_path(runs, clip) -> None:
    mp, dl, _, _ = runs[clip]
    assert len(mp) > 0.9 * 90  # both paths solved nearly every frame (the shortest clip has 91)
    diff = dl - mp
    error = _axis_errors(mp, dl)
    print(f"{clip}: yaw/pitch/roll error {np.round(error, 2)} deg, offset {np.round(diff.mean(axis=0), 1)}")
    assert np.all(error < MAX_AXIS_ERROR_DEG), error


def _mesh_anchors() -> tuple[np.ndarray, np.ndarray]:
    """Per 68-point model vertex: the canonical-face triangle it lies on and its barycentric
    coordinates there (the closest triangle; the model was built on that surface, so the
    vertices lie within 0.2 cm of it). Applied to a Face Mesh, they give that mesh's 68 points."""
    canon = canonical_face()
    corners = canon.vertices_cm[canon.triangles]  # (T, 3 corners, 3)
    a, e1, e2 = corners[:, 0], corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    gram = np.stack([np.einsum("ij,ij->i", e1, e1), np.einsum("ij,ij->i", e1, e2), np.einsum("ij,ij->i", e2, e2)], 1)
    det = gram[:, 0] * gram[:, 2] - gram[:, 1] ** 2
    tris, barys = [], []
    for p in face68.face68_model().vertices_cm:
        d = p - a  # in-plane coordinates of p's projection, then clipped onto the triangle
        r1, r2 = np.einsum("ij,ij->i", d, e1), np.einsum("ij,ij->i", d, e2)
        u = (gram[:, 2] * r1 - gram[:, 1] * r2) / det
        v = (gram[:, 0] * r2 - gram[:, 1] * r1) / det
        bary = np.clip(np.stack([1.0 - u - v, u, v], 1), 0.0, None)
        bary /= bary.sum(axis=1, keepdims=True)
        t = int(np.argmin(np.linalg.norm(np.einsum("tk,tkj->tj", bary, corners) - p, axis=1)))
        tris.append(canon.triangles[t])
        barys.append(bary[t])
    return np.array(tris), np.array(barys)


def test_d12_yaw_gap_is_dlibs_landmarks_not_the_solver(dlib_tracker) -> None:
    """Diagnosis of the d12 xfail: the same 68-point solver on 68 points read off MediaPipe's mesh
    (the model's own correspondence) agrees with the MediaPipe path; dlib's points do not, and
    swapping only dlib's six jaw-contour points for the mesh's closes most of the gap. Also prints
    how much of the rest a narrower assumed view angle removes (d12 is a 512 px crop)."""
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    tris, barys = _mesh_anchors()
    contour = [0, 1, 2, 14, 15, 16]
    source = VideoFileSource(media_path("liveportrait/d12.mp4"))
    mp_tracker = MediaPipeTracker("face", face_backend="mesh")
    frames: list[tuple[tuple[int, int], dict[str, FaceLandmarks]]] = []
    while (frame := source.read()) is not None:
        a = mp_tracker.track(frame).face
        b = dlib_tracker.track(frame).face
        if a is None or b is None:
            continue
        mesh = np.asarray(a.points[:468, :2], dtype=np.float64)
        mesh68 = np.einsum("ik,ikj->ij", barys, mesh[tris])  # normalised image coordinates
        swap = np.asarray(b.points, dtype=np.float64).copy()
        swap[contour, :2] = mesh68[contour]
        frames.append((frame.size, {
            "mp": a,
            "dlib": b,
            "swap": FaceLandmarks(swap.astype(np.float32)),
            "mesh68": FaceLandmarks(np.column_stack([mesh68, np.zeros(68)]).astype(np.float32)),
        }))
    mp_tracker.close()
    source.close()
    assert len(frames) > 0.9 * 183

    def errors_at(fov_deg: float) -> dict[str, np.ndarray]:
        previous: dict[str, HeadPose | None] = dict.fromkeys(frames[0][1])
        rows: dict[str, list[np.ndarray]] = {k: [] for k in previous}
        for size, faces in frames:
            camera = CameraIntrinsics.from_fov(*size, fov_deg)
            for key, face in faces.items():
                solve = solve_head if key == "mp" else face68.solve_head68
                previous[key] = solve(face, size, camera, previous[key])
            if any(p is None for p in previous.values()):
                continue
            for key, pose in previous.items():
                rows[key].append(_ypr_deg(pose.rotation))
        mp = np.array(rows["mp"])
        assert len(mp) > 0.9 * len(frames)
        return {key: _axis_errors(mp, np.array(rows[key])) for key in ("dlib", "swap", "mesh68")}

    by_fov = {fov: errors_at(fov) for fov in (30.0, 45.0, 60.0)}
    for fov, errors in by_fov.items():
        print(f"d12 at {fov:.0f} deg, yaw/pitch/roll error vs the MediaPipe path: "
              + "; ".join(f"{k} {np.round(v, 2)}" for k, v in errors.items()))
    errors = by_fov[60.0]  # the default view angle, as in the acceptance test
    assert np.all(errors["mesh68"] < MAX_AXIS_ERROR_DEG), errors["mesh68"]  # solver and model are fine
    assert errors["swap"][0] < errors["dlib"][0] - 1.0  # dlib's contour carries most of the yaw gap


def test_blinks_are_detected_in_the_same_frames(runs) -> None:
    tp = fp = fn = 0
    for clip in CLIPS:
        _, _, mp, dl = runs[clip]
        a, b = mp >= 0.5, dl >= 0.5
        tp += int((a & b).sum())
        fp += int((~a & b).sum())
        fn += int((a & ~b).sum())
    f1 = 2 * tp / (2 * tp + fp + fn)
    print(f"blink F1 {f1:.3f} (tp {tp}, fp {fp}, fn {fn})")
    assert tp > 100  # d14's blinks are in there
    assert f1 >= MIN_BLINK_F1


def test_dlib_landmarks_on_300w_reach_detector_accuracy(dlib_tracker) -> None:
    root = MEDIA / "mmpose_testdata" / "300w"
    annotations = json.loads(media_path("mmpose_testdata/300w/test_300w.json").read_text())
    errors = []
    for image in annotations["images"]:
        truth = next(a for a in annotations["annotations"] if a["image_id"] == image["id"])
        gt = np.array(truth["keypoints"], dtype=np.float64).reshape(68, 3)[:, :2]
        rgb = cv2.cvtColor(cv2.imread(str(root / image["file_name"])), cv2.COLOR_BGR2RGB)
        points = dlib_tracker.landmarks_px(rgb)
        assert points is not None, image["file_name"]
        inter_ocular = float(np.linalg.norm(gt[36] - gt[45]))
        errors.append(float(np.linalg.norm(points - gt, axis=1).mean()) / inter_ocular)
    print(f"300-W NME (inter-ocular): {np.round(errors, 4)}, mean {np.mean(errors):.4f}")
    assert max(errors) < MAX_NME_PER_IMAGE
    assert float(np.mean(errors)) < MAX_NME_MEAN
    assert not math.isnan(float(np.mean(errors)))


def test_d14_gaze_reaches_the_68_point_rig_and_survives_a_session(dlib_tracker) -> None:
    """d14 frame 60: the subject looks to her right (checked on the image). The dlib run's rig
    has that gaze (right eye out, left eye in, both eye bones turned to her right), and the
    landmarks record as a session stores it gives the same rig (replay reproduces the gaze)."""
    import json as _json

    from vtuber.record.session import landmarks_from_json, landmarks_to_json
    from vtuber.records import Frame
    from vtuber.solve.rig import solve_rig

    capture = cv2.VideoCapture(str(media_path("liveportrait/d14.mp4")))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, 60)
        ok, bgr = capture.read()
    finally:
        capture.release()
    assert ok
    frame = Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t=2.0, index=60)
    camera = CameraIntrinsics.from_fov(*frame.size, 60.0)
    landmarks = dlib_tracker.track(frame)
    rig = solve_rig(landmarks, camera)
    b = rig.blendshapes
    print({k: round(v, 2) for k, v in b.items() if k.startswith("eyeLook")})
    assert b["eyeLookOutRight"] > 0.3 and b["eyeLookInLeft"] > 0.3
    assert b["eyeLookInRight"] == 0.0 and b["eyeLookOutLeft"] == 0.0
    for bone in ("LeftEye", "RightEye"):
        assert math.degrees(geometry.to_yaw_pitch_roll(rig.bones[bone])[0]) < -5.0  # + = her left
    replayed = solve_rig(landmarks_from_json(_json.loads(_json.dumps(landmarks_to_json(landmarks)))), camera)
    for name in face68.LOOK_CHANNELS68:
        assert replayed.blendshapes[name] == pytest.approx(b[name], abs=1e-6)
    for bone in ("LeftEye", "RightEye"):
        np.testing.assert_allclose(replayed.bones[bone], rig.bones[bone], atol=1e-6)
