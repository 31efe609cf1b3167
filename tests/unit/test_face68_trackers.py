"""The 68-point tracker adapters: dlib (real model, offline) and face-alignment's FAN (its own
classes; the weights are not on this machine, so FAN's accuracy is not tested here)."""

from __future__ import annotations

import numpy as np
import pytest

from vtuber.capture.demo import DemoSource
from vtuber.errors import TrackerError
from vtuber.records import Frame

# ---------------------------------------------------------------------------------------------
# dlib
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dlib_tracker():
    pytest.importorskip("dlib", reason="dlib not installed (pip install dlib-bin face-recognition-models)")
    from vtuber.track.dlib_adapter import DlibTracker, default_predictor_path

    if not default_predictor_path().is_file():
        pytest.skip("shape_predictor_68_face_landmarks.dat not installed (pip install face-recognition-models)")
    with DlibTracker() as tracker:
        yield tracker


def demo_frame() -> Frame:
    source = DemoSource()
    try:
        frame = source.read()
    finally:
        source.close()
    assert frame is not None
    return frame


def test_dlib_tracks_the_demo_face_in_the_ibug_layout(dlib_tracker) -> None:
    frame = demo_frame()
    landmarks = dlib_tracker.track(frame)
    assert landmarks.t == frame.t and landmarks.index == frame.index and landmarks.image_size == frame.size
    face = landmarks.face
    assert face is not None and face.layout == "ibug68" and face.points.dtype == np.float32
    p = face.points
    assert np.all((p[:, :2] > 0) & (p[:, :2] < 1)) and np.all(p[:, 2] == 0)
    # unmirrored frontal face: the subject's right eye (36-41) is on the image's left
    assert p[36:42, 0].mean() < p[27:31, 0].mean() < p[42:48, 0].mean()
    assert p[19, 1] < p[37, 1] < p[30, 1] < p[51, 1] < p[8, 1]  # brow, eye, nose, lip, chin


def test_dlib_reports_no_face_on_a_blank_frame(dlib_tracker) -> None:
    blank = Frame(np.full((240, 320, 3), 128, np.uint8), t=0.0, index=0)
    assert dlib_tracker.track(blank).face is None


def test_dlib_missing_model_is_one_line(tmp_path) -> None:
    pytest.importorskip("dlib", reason="dlib not installed")
    from vtuber.track.dlib_adapter import DlibTracker

    with pytest.raises(TrackerError) as info:
        DlibTracker(tmp_path / "nope.dat")
    assert "\n" not in str(info.value) and "nope.dat" in str(info.value)


def test_dlib_track_attaches_the_image_gaze(dlib_tracker) -> None:
    from vtuber.solve.face68 import LOOK_CHANNELS68

    face = dlib_tracker.track(demo_frame()).face
    assert face is not None and set(face.blendshapes) == set(LOOK_CHANNELS68)
    assert all(0.0 <= v <= 1.0 for v in face.blendshapes.values())


def test_dlib_wrong_predictor_fails_at_startup_in_one_line(dlib_tracker, monkeypatch) -> None:
    """dlib's 5-point model (shipped beside the 68-point one) is refused by the constructor,
    also through $VTUBER_DLIB_PREDICTOR, instead of failing on every frame."""
    from vtuber.track.dlib_adapter import PREDICTOR_ENV, DlibTracker, default_predictor_path

    five = default_predictor_path().with_name("shape_predictor_5_face_landmarks.dat")
    if not five.is_file():
        pytest.skip("shape_predictor_5_face_landmarks.dat not installed (face-recognition-models)")
    monkeypatch.setenv(PREDICTOR_ENV, str(five))
    with pytest.raises(TrackerError) as info:
        DlibTracker()
    message = str(info.value)
    assert "\n" not in message and str(five) in message and "5 points, not 68" in message


# ---------------------------------------------------------------------------------------------
# face-alignment (FAN)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def fan(monkeypatch, tmp_path):
    """The FAN adapter module, with torch hub pointed at an empty folder."""
    pytest.importorskip("face_alignment", reason="face-alignment not installed (pip install 'vtuber[fan]')")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    from vtuber.track import fan_adapter

    return fan_adapter


@pytest.mark.parametrize(
    ("kwargs", "first_file", "also"),
    [
        ({"face_detector": "dlib"}, "2DFAN4-", []),  # dlib's HOG detector needs no weights
        ({}, "s3fd-", ["2DFAN4-"]),  # the default S3FD detector is loaded first
        ({"landmarks": "3d", "face_detector": "dlib"}, "3DFAN4-", ["depth-"]),
    ],
)
def test_fan_missing_weights_is_one_line_naming_file_and_folder(fan, tmp_path, kwargs, first_file, also) -> None:
    if kwargs.get("face_detector") == "dlib":
        pytest.importorskip("dlib", reason="dlib not installed")
    with pytest.raises(TrackerError) as info:
        fan.FanTracker(**kwargs)  # download=False: face-alignment's own loader, no network
    message = str(info.value)
    assert "\n" not in message
    folder = str(tmp_path / "torch" / "hub" / "checkpoints")
    assert f"not found in {folder}" in message
    assert f"weights missing: {first_file}" in message
    for name in also:
        assert name in message
    assert "docs/face68.md" in message


def _broken_checkpoint(kind: str) -> bytes:
    """A deliberately broken weights file: a real torch checkpoint cut short, or nothing."""
    import io

    import torch

    if kind == "empty":
        return b""
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(4096)}, buffer, _use_new_zipfile_serialization=kind != "legacy")
    data = buffer.getvalue()
    return data[: len(data) - 64] if kind == "zip_tail" else data[: len(data) // 2] if kind == "zip_half" else data[:300]


@pytest.mark.parametrize(
    ("kwargs", "name", "kind"),
    [
        ({}, "s3fd-619a316812.pth", "zip_tail"),  # the default S3FD detector, its end cut off
        ({"face_detector": "dlib"}, "2DFAN4-11f355bf06.pth.tar", "zip_half"),
        ({"face_detector": "dlib"}, "2DFAN4-11f355bf06.pth.tar", "legacy"),
        ({"face_detector": "dlib"}, "2DFAN4-11f355bf06.pth.tar", "empty"),
    ],
)
def test_fan_corrupt_weights_is_one_line_naming_file_and_folder(fan, tmp_path, kwargs, name, kind) -> None:
    """A truncated or empty weights file, loaded by face-alignment's own code: one TrackerError
    line naming the file and folder, not torch's traceback."""
    if kwargs.get("face_detector") == "dlib":
        pytest.importorskip("dlib", reason="dlib not installed")
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(_broken_checkpoint(kind))
    with pytest.raises(TrackerError) as info:
        fan.FanTracker(**kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert f"{name} in {folder} are corrupt or incomplete; copy it again" in message
    import torch
    import torch.serialization

    assert torch.load is torch.serialization.load  # the adapter's recording wrapper is gone again


def test_fan_missing_weights_names_the_files_face_alignment_requests(fan) -> None:
    import face_alignment

    urls = fan.network_weight_urls("3d")
    assert urls == [face_alignment.api.models_urls["3DFAN-4"], face_alignment.api.models_urls["depth"]]
    assert fan.checkpoint_dir().endswith("checkpoints")


def test_fan_unknown_detector_and_landmarks(fan) -> None:
    with pytest.raises(TrackerError):
        fan.FanTracker("4d")  # type: ignore[arg-type]
    with pytest.raises(TrackerError, match="detector"):
        fan.FanTracker(face_detector="nonesuch")  # type: ignore[arg-type]


def _ground_truth_points() -> np.ndarray:
    """A plausible 68-point face (the packaged model, frontal) in pixels of a 320x240 image."""
    from vtuber.solve.face68 import face68_model

    v = face68_model().vertices_cm
    return np.stack([160 + 6.0 * v[:, 0], 120 - 6.0 * v[:, 1]], axis=1)


def _heatmaps(points_px: np.ndarray, center: np.ndarray, scale: float):
    """(1, 68, 64, 64) heatmaps of image points: face-alignment's own training targets."""
    import torch
    from face_alignment import utils as fa_utils

    return fa_utils.create_target_heatmap(torch.from_numpy(points_px[None]).float(), [center], [scale])


def _cell_px(scale: float) -> float:
    """One heatmap cell in image pixels (face-alignment crops 200 * scale px to 64 cells)."""
    return 200.0 * scale / 64.0


def test_fan_output_decodes_through_face_alignment_to_landmarks(fan) -> None:
    """face-alignment's heatmap decoder -> its (68, 2) pixel output -> FaceLandmarks."""
    from face_alignment import utils as fa_utils

    truth = _ground_truth_points()
    center, scale = np.array([160.0, 125.0]), 1.0
    _, pts_img, scores = fa_utils.get_preds_fromhm(_heatmaps(truth, center, scale).numpy(), center, scale)
    points = pts_img.reshape(68, 2)  # what get_landmarks_from_image returns per face (2D)
    assert np.abs(points - truth).max() < 2.0 * _cell_px(scale)  # heatmap quantisation
    face = fan.fan_to_face(points, (320, 240), scores.reshape(68))
    assert face.layout == "ibug68" and face.points.dtype == np.float32
    np.testing.assert_allclose(face.points[:, 0], points[:, 0] / 320, rtol=1e-6)
    np.testing.assert_allclose(face.points[:, 1], points[:, 1] / 240, rtol=1e-6)
    assert 0.0 < face.presence <= 1.0
    depth = np.column_stack([points, np.linspace(-20, 20, 68)])  # 3D: depth in pixels
    face3d = fan.fan_to_face(depth, (320, 240))
    np.testing.assert_allclose(face3d.points[:, 2], -depth[:, 2] / 320, rtol=1e-6)
    with pytest.raises(ValueError):
        fan.fan_to_face(np.zeros((5, 2)), (320, 240))


def test_fan_tracker_runs_face_alignments_pipeline(fan, monkeypatch) -> None:
    """``FanTracker.track`` through ``FaceAlignment.get_landmarks_from_image`` (crop, network
    call, flip, heatmap decoding), with a test double in place of the network that emits
    heatmaps of known points: this checks the plumbing, not FAN's accuracy."""
    import face_alignment
    import torch

    truth = _ground_truth_points()
    box_small = np.array([100.0, 60.0, 140.0, 100.0, 0.9])
    box = np.array([truth[:, 0].min(), truth[:, 1].min() - 20, truth[:, 0].max(), truth[:, 1].max(), 0.99])
    center = np.array([box[2] - (box[2] - box[0]) / 2.0, box[3] - (box[3] - box[1]) / 2.0])
    center[1] -= (box[3] - box[1]) * face_alignment.utils.CENTER_Y_OFFSET
    scale = (box[2] - box[0] + box[3] - box[1]) / face_alignment.utils.REFERENCE_SCALE
    heatmaps = _heatmaps(truth, center, scale)

    class Detector:
        reference_scale = face_alignment.utils.REFERENCE_SCALE

        def detect_from_image(self, image):
            return [box_small, box]

    def network(batch):
        return heatmaps.repeat(batch.shape[0], 1, 1, 1)

    fa = face_alignment.FaceAlignment.__new__(face_alignment.FaceAlignment)
    fa.device, fa.dtype, fa.flip_input, fa.max_batch_size = "cpu", torch.float32, False, 1
    fa.landmarks_type, fa.face_detector, fa.face_alignment_net = face_alignment.LandmarksType.TWO_D, Detector(), network
    tracker = fan.FanTracker.__new__(fan.FanTracker)
    tracker._fa, tracker._flip, tracker.name = fa, False, "test double"
    landmarks = tracker.track(Frame(np.zeros((240, 320, 3), np.uint8), t=1.5, index=7))
    assert (landmarks.t, landmarks.index, landmarks.image_size) == (1.5, 7, (320, 240))
    assert landmarks.face is not None  # the larger of the two boxes was kept
    assert np.abs(landmarks.face.points[:, :2] * (320, 240) - truth).max() < 2.0 * _cell_px(scale)
    assert landmarks.face.blendshapes == {}  # a black frame: no pupil to measure, no gaze
