"""Face acceptance numbers that are deterministic enough to assert (real MediaPipe on the clips
in ../shared/media and on synthetic renders). Landmarks are cached (vtuber.bench.face)."""

from __future__ import annotations

import pytest

from vtuber.bench import face

pytestmark = pytest.mark.mediapipe

needs_media = pytest.mark.skipif(not (face.MEDIA_DIR / "liveportrait" / "d14.mp4").is_file(), reason="../shared/media not present")
needs_model = pytest.mark.skipif(not (face.MODELS_DIR / "face_landmarker.task").is_file(), reason="face_landmarker.task not present")


@needs_media
@needs_model
def test_blink_f1_on_labelled_clips() -> None:
    r = face.blinks("tasks", "landmarks")
    assert r["frame_f1"] >= 0.9 and r["event_f1"] >= 0.9, r


@needs_media
@needs_model
def test_mead_head_angles_within_four_degrees() -> None:
    r = face.mead_head("tasks")
    assert r["clips"] == 8
    assert all(c > 0.3 for c in r["correlation_yaw_pitch_roll"])  # the documented signs hold
    assert max(r["yaw"], r["pitch"], r["roll"]) <= 4.0, r
    # The clips barely move (a constant 0-degree solver scores 0.71 / 0.81 / 0.47 deg on the
    # per-clip metric, better than ours on pitch), so the acceptance number alone cannot tell a
    # tracking solver from a constant one. That it tracks motion: the per-axis correlation with
    # the fits (per-clip means removed; a constant's is 0) is well above 0 on every axis (today
    # 0.92 / 0.64 / 0.91), and on yaw and roll it beats the constant on the per-clip metric too.
    assert min(r["correlation_yaw_pitch_roll"]) >= 0.5, r["correlation_yaw_pitch_roll"]
    assert r["yaw"] < r["constant"]["yaw"] and r["roll"] < r["constant"]["roll"], (r["constant"], r)


def test_winks_with_face_mesh_landmarks() -> None:
    synth = face._Synth("mesh")
    try:
        r = face.winks(synth)
    finally:
        synth.close()
    # 11 of 12 pass today (see docs/benchmarks.md); the open eye is never dragged closed there
    assert r["max_open"] <= 0.3, r
    assert r["passed"] >= 11, r
    # at 12 random held-out poses Face Mesh's lids fail far more often (14 of 24 pass today: a
    # tracker limit, docs/benchmarks.md); guard against it getting worse
    assert r["held_out"]["frames"] == 24 and r["held_out"]["passed"] >= 14, {k: v for k, v in r["held_out"].items() if k != "rows"}


@needs_model
def test_vowels_with_the_default_back_end() -> None:
    """The prototype mouths (exact landmarks: 15/15) through the default hybrid back end (Face Mesh
    and Tasks lip measures averaged): default prototypes at three poses, then after
    calibrate_vowels on the frontal mouths at four other poses; the exaggerated mouths after their
    own calibration. Today's counts (docs/benchmarks.md), as regression guards."""
    synth = face._Synth("hybrid")
    try:
        r = face.vowels(synth)
    finally:
        synth.close()
    assert r["shapes"] == 15 and r["correct"] >= 14, [(x["pose"], x["vowel"], x["winner"]) for x in r["rows"]]
    assert r["calibrated"]["shapes"] == 20 and r["calibrated"]["correct"] == 20, [(x["pose"], x["vowel"], x["winner"]) for x in r["calibrated"]["rows"]]
    assert r["exaggerated"]["calibrated_correct"] >= 19, r["exaggerated"]["calibrated_correct"]


@needs_model
def test_synthetic_head_pose_within_acceptance() -> None:
    """20 renders (fresh detection, held 6 frames): the depth-aware fit on the Tasks landmarks."""
    synth = face._Synth("tasks")
    try:
        r = face.synthetic_head(synth, 20)
    finally:
        synth.close()
    assert r["missed"] == 0, r
    assert max(r["default"][k] for k in ("yaw", "pitch", "roll")) <= 3.0, r
    assert max(r["true"][k] for k in ("yaw", "pitch", "roll")) <= 2.0, r
