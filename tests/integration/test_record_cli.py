"""Recording during a live run, crash safety, deterministic replay and conversion, via the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, media_path
from vtuber.record.bvh_file import BvhFileWriter  # noqa: F401 (import check: the module exists)
from vtuber.record.repair import repair_bvh

pytestmark = pytest.mark.mediapipe

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def vtuber(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vtuber", *args], capture_output=True, text=True, timeout=timeout, env=ENV)


def bvh_frames(path: Path) -> tuple[int, int]:
    """(the Frames: field, the number of motion lines)."""
    text = path.read_text()
    header, _, motion = text.partition("MOTION\n")
    lines = motion.splitlines()
    declared = int(lines[0].split(":")[1])
    return declared, len([line for line in lines[2:] if line.strip()])


def start_recording(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    clip = media_path("liveportrait/d10.mp4")
    out = tmp_path / "live.bvh"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vtuber", "run", "--source", str(clip), "--no-ws", "--no-vmc", "--quiet",
         "--face-backend", "mesh", "--record-bvh", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 5000):
        time.sleep(0.1)
    time.sleep(3.0)  # three seconds of paced 30 fps recording
    return proc, out


def test_sigkill_mid_recording_is_repairable(tmp_path: Path) -> None:
    proc, out = start_recording(tmp_path)
    killed_at = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    declared, lines_before = bvh_frames(out)
    report = repair_bvh(out)
    declared_after, lines_after = bvh_frames(out)
    assert declared_after == lines_after == report.frames
    # Every frame older than one second survives: at 30 fps, 3 s of recording minus 1 s.
    assert lines_after >= 60, (declared, lines_before, lines_after)
    assert time.monotonic() - killed_at < 30
    result = vtuber("repair", str(out))
    assert "already valid" in result.stderr


def test_sigterm_leaves_a_valid_bvh_without_repair(tmp_path: Path) -> None:
    proc, out = start_recording(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    declared, lines = bvh_frames(out)
    assert declared == lines >= 60
    assert out.with_suffix(".csv").is_file()


def test_replay_is_deterministic_and_convert_reexports(tmp_path: Path) -> None:
    clip = media_path("liveportrait/d0.mp4")
    session = tmp_path / "d0.jsonl"
    result = vtuber("run", "--source", str(clip), "--no-pace", "--no-ws", "--no-vmc", "--quiet", "--face-backend", "mesh",
                    "--record-session", str(session), "--record-bvh", str(tmp_path / "live.bvh"))
    assert result.returncode == 0, result.stderr
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"replay_{name}.bvh"
        result = vtuber("replay", str(session), "--no-pace", "--no-ws", "--no-vmc", "--record-bvh", str(out))
        assert result.returncode == 0, result.stderr
        outs.append(out.read_text())
    assert outs[0] == outs[1]  # the same input gives the same motion, byte for byte
    assert outs[0] == (tmp_path / "live.bvh").read_text()  # and the same as the live run
    result = vtuber("convert", str(session), "-o", str(tmp_path / "re.bvh"))
    assert result.returncode == 0, result.stderr
    assert bvh_frames(tmp_path / "re.bvh") == (78, 78)
    result = vtuber("plot", str(session), "-o", str(tmp_path / "d0.png"))
    assert result.returncode == 0 and (tmp_path / "d0.png").stat().st_size > 10000


def test_replay_uses_the_live_runs_settings(tmp_path: Path) -> None:
    """A run with non-default smoothing, field of view and mirroring: its session's replay
    (no flags) gives the live BVH byte for byte; a flag still overrides a stored setting."""
    clip = media_path("liveportrait/d0.mp4")
    session = tmp_path / "d0.jsonl"
    result = vtuber("run", "--source", str(clip), "--no-pace", "--no-ws", "--no-vmc", "--quiet", "--face-backend", "mesh",
                    "--smoothing", "smooth", "--fov", "40", "--mirror",
                    "--record-session", str(session), "--record-bvh", str(tmp_path / "live.bvh"))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "replay.bvh"
    result = vtuber("replay", str(session), "--no-pace", "--no-ws", "--no-vmc", "--record-bvh", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == (tmp_path / "live.bvh").read_text()
    result = vtuber("replay", str(session), "--no-pace", "--no-ws", "--no-vmc", "--profile", "vrm1", "--record-bvh", str(tmp_path / "vrm1.bvh"))
    assert result.returncode == 0, result.stderr


def test_convert_video_writes_bvh_and_csv(tmp_path: Path) -> None:
    clip = media_path("lia/ted_driving1.mp4")
    out = tmp_path / "ted.bvh"
    result = vtuber("convert", str(clip), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert bvh_frames(out) == (160, 160)
    assert "Frame Time: 0.1\n" in out.read_text()  # the clip's real 10 fps
    assert "ETA" in result.stderr
    assert len(out.with_suffix(".csv").read_text().splitlines()) == 161


def test_convert_missing_input_is_one_line(tmp_path: Path) -> None:
    result = vtuber("convert", str(tmp_path / "nope.mp4"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("vtuber: error: input not found")


@pytest.mark.parametrize("bvh_name", ["same.bvh", "same.jsonl"])
def test_one_path_for_session_and_bvh_is_refused_before_anything_is_written(tmp_path: Path, bvh_name: str) -> None:
    """A session sharing the BVH's path (or its blendshape CSV's) would interleave two recordings
    in one file, leaving neither readable: a one-line error naming the option, files untouched."""
    take = tmp_path / "same.bvh"
    take.write_text("an earlier take\n")
    session = take if bvh_name == "same.bvh" else tmp_path / "same.csv"
    result = vtuber("run", "--demo", "--duration", "1", "--no-ws", "--no-vmc", "--no-page", "--face-backend", "mesh",
                    "--record-session", str(session), "--record-bvh", str(tmp_path / bvh_name))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("vtuber: error: --record-session"), result.stderr
    assert "its own path" in lines[-1]
    assert take.read_text() == "an earlier take\n"
    assert not (tmp_path / "same.csv").exists()


@pytest.mark.parametrize("flag", ["--record-bvh", "--record-session"])
def test_an_earlier_take_is_kept_unless_overwrite_is_given(tmp_path: Path, flag: str) -> None:
    """A recording path that already holds a file is refused before anything opens (the earlier
    take byte for byte intact); ``--overwrite`` replaces it."""
    take = tmp_path / ("take.bvh" if flag == "--record-bvh" else "take.jsonl")
    take.write_text("an earlier take\n")
    run = ("run", "--demo", "--frames", "5", "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--quiet",
           "--face-backend", "mesh", flag, str(take))
    result = vtuber(*run)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"vtuber: error: {take} ({flag}) already exists and would be overwritten: choose another name, "
        "move the earlier take away, or pass --overwrite to replace it"
    )
    assert take.read_text() == "an earlier take\n"
    result = vtuber(*run, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert take.read_text() != "an earlier take\n"
    assert take.read_bytes().startswith(b"HIERARCHY" if flag == "--record-bvh" else b'{"format":"vtuber-session"')


def test_an_earlier_blendshape_csv_is_kept_too(tmp_path: Path) -> None:
    (tmp_path / "take.csv").write_text("frame,time\n0,0.0\n")
    result = vtuber("run", "--demo", "--frames", "5", "--no-ws", "--no-vmc", "--no-page", "--quiet",
                    "--record-bvh", str(tmp_path / "take.bvh"))
    assert result.returncode == 2, result.stderr
    assert "take.csv (the blendshape CSV beside --record-bvh) already exists" in result.stderr
    assert not (tmp_path / "take.bvh").exists()


def test_convert_and_replay_keep_earlier_files(tmp_path: Path) -> None:
    """convert refuses an output (or its CSV) that exists before converting anything; replay
    refuses to record onto the session it reads, even with --overwrite."""
    session = tmp_path / "s.jsonl"
    result = vtuber("run", "--demo", "--frames", "10", "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--quiet",
                    "--face-backend", "mesh", "--record-session", str(session))
    assert result.returncode == 0, result.stderr
    kept = session.read_bytes()
    out = tmp_path / "s.bvh"
    out.with_suffix(".csv").write_text("an earlier csv\n")
    result = vtuber("convert", str(session))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"vtuber: error: {out.with_suffix('.csv')} (the blendshape CSV beside the output) already exists and would be "
        "overwritten: choose another name, move the earlier take away, or pass --overwrite to replace it"
    )
    assert not out.exists() and out.with_suffix(".csv").read_text() == "an earlier csv\n"
    result = vtuber("convert", str(session), "--overwrite")
    assert result.returncode == 0, result.stderr
    assert bvh_frames(out) == (10, 10)
    twin = tmp_path / "t.csv"  # a session whose name is the CSV twin of the BVH asked for
    twin.write_bytes(kept)
    for replayed, bvh in ((session, session), (twin, tmp_path / "t.bvh")):
        result = vtuber("replay", str(replayed), "--no-pace", "--no-ws", "--no-vmc", "--no-page",
                        "--record-bvh", str(bvh), "--overwrite")
        assert result.returncode == 2, result.stderr
        what = "--record-bvh" if bvh.suffix == session.suffix else "the blendshape CSV beside --record-bvh"
        written = bvh if bvh.suffix == session.suffix else bvh.with_suffix(".csv")
        assert result.stderr.strip().splitlines()[-1] == (
            f"vtuber: error: {what} {written} is the input being read ({replayed}): give the recording its own name"
        )
        assert replayed.read_bytes() == kept


def test_replay_uses_the_recorded_calibration_not_the_profile_on_disk(tmp_path: Path) -> None:
    """A session records the calibration it was solved with: re-calibrating (here: rewriting the
    profile with another neutral head rotation) or deleting the profile afterwards does not change
    its replay; naming a profile with --user-profile on replay does."""
    import math

    from vtuber import geometry
    from vtuber.calibrate import store
    from vtuber.solve.calibration import calibration_to_table
    from vtuber.solve.rig import FaceCalibration

    def write_profile(yaw_deg: float) -> None:
        turned = geometry.from_yaw_pitch_roll(math.radians(yaw_deg), 0.0, 0.0)
        store.write_toml(profile, {"face": calibration_to_table(FaceCalibration(neutral_rotation=turned))})

    clip = media_path("liveportrait/d0.mp4")
    profile, session, live = tmp_path / "me.toml", tmp_path / "d0.jsonl", tmp_path / "live.bvh"
    write_profile(15.0)
    result = vtuber("run", "--source", str(clip), "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--quiet",
                    "--face-backend", "mesh", "--user-profile", str(profile),
                    "--record-session", str(session), "--record-bvh", str(live))
    assert result.returncode == 0, result.stderr
    write_profile(-15.0)  # re-calibrated since
    replayed = tmp_path / "replay.bvh"
    result = vtuber("replay", str(session), "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--record-bvh", str(replayed))
    assert result.returncode == 0, result.stderr
    assert replayed.read_text() == live.read_text()
    profile.unlink()  # and gone
    result = vtuber("replay", str(session), "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--record-bvh", str(replayed), "--overwrite")
    assert result.returncode == 0, result.stderr
    assert replayed.read_text() == live.read_text()
    write_profile(-15.0)
    other = tmp_path / "other.bvh"
    result = vtuber("replay", str(session), "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--user-profile", str(profile),
                    "--record-bvh", str(other))
    assert result.returncode == 0, result.stderr
    assert other.read_text() != live.read_text()


def test_a_face_mode_bvh_holds_the_untracked_arms_relaxed(tmp_path: Path) -> None:
    """Face mode tracks no arm: the BVH writes them at the live avatar's relaxed rest (arms
    hanging, fingers curled) in every frame, not in the T-pose."""
    from vtuber.encode import bvh
    from vtuber.solve.body import relaxed_rest

    out = tmp_path / "face.bvh"
    result = vtuber("run", "--demo", "--frames", "8", "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--quiet",
                    "--face-backend", "mesh", "--record-bvh", str(out))
    assert result.returncode == 0, result.stderr
    layout = bvh.bvh_layout()
    expected = bvh.bvh_motion_values(relaxed_rest(), layout=layout)
    arms = [n for n, j in enumerate(layout.joints) if "Arm" in j or "Index" in j]
    assert len(arms) >= 8
    columns = [3 + 3 * n + k for n in arms for k in range(3)]
    lines = out.read_text().partition("MOTION\n")[2].splitlines()[2:]
    assert len(lines) == 8
    for line in lines:
        values = np.array(line.split(), dtype=float)
        np.testing.assert_allclose(values[columns], expected[columns], atol=1e-5)
    assert np.abs(expected[columns]).max() > 40.0  # the rest is far from the T-pose's zeros


def test_convert_takes_the_resting_face_from_the_clip_without_a_profile(tmp_path: Path) -> None:
    """Face Mesh blendshapes against the canonical face read a real resting face as puffed
    cheeks and lowered brows; convert's default measures them against the clip's own median face
    (MEAD's neutral clip: a person talking calmly), --neutral none keeps the canonical face."""
    import csv
    import statistics

    clip = media_path("dreamtalk_mead/M030_front_neutral_level1_001.mp4")
    medians = {}
    for neutral in ("clip", "none"):
        out = tmp_path / f"{neutral}.bvh"
        result = vtuber("convert", str(clip), "-o", str(out), "--mode", "face", "--neutral", neutral)
        assert result.returncode == 0, result.stderr
        assert ("resting face taken from" in result.stderr) == (neutral == "clip"), result.stderr
        rows = list(csv.DictReader(out.with_suffix(".csv").open()))
        assert len(rows) == 94
        medians[neutral] = {k: statistics.median(float(r[k]) for r in rows) for k in ("cheekPuff", "browDownLeft", "browDownRight", "mouthLowerDownLeft")}
    assert max(medians["clip"].values()) < 0.3, medians
    assert min(medians["none"].values()) > 0.8, medians


def test_inputs_are_never_recorded_over_and_empty_takes_are_replaced(tmp_path: Path) -> None:
    """Even with --overwrite a recording never replaces the clip or session being read; a take
    that holds no frames (left by a run that failed at start) is replaced without --overwrite;
    `-o FOLDER/` writes into that folder."""
    clip = tmp_path / "myclip.mp4"
    clip.write_bytes(media_path("liveportrait/d0.mp4").read_bytes())
    kept = clip.read_bytes()
    for args in (("run", "--source", str(clip), "--record-bvh", str(clip)), ("convert", str(clip), "-o", str(clip))):
        result = vtuber(*args, "--overwrite", *(("--no-ws", "--no-vmc", "--no-page", "--quiet") if args[0] == "run" else ()))
        assert result.returncode == 2, result.stderr
        assert "is the input being read" in result.stderr.strip().splitlines()[-1]
        assert clip.read_bytes() == kept
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"format":"vtuber-session","version":1,"source":"demo","fps":30.0,"image_size":[0,0]}\n')
    result = vtuber("run", "--demo", "--frames", "5", "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--quiet",
                    "--face-backend", "mesh", "--record-session", str(empty))
    assert result.returncode == 0, result.stderr
    assert len(empty.read_text().splitlines()) == 6
    result = vtuber("convert", str(empty), "-o", str(tmp_path / "out") + "/")
    assert result.returncode == 0, result.stderr
    assert bvh_frames(tmp_path / "out" / "empty.bvh") == (5, 5)


def test_replay_settings_file_is_checked_and_wins_over_the_recorded_settings(tmp_path: Path) -> None:
    session, live = tmp_path / "s.jsonl", tmp_path / "live.bvh"
    result = vtuber("run", "--demo", "--frames", "30", "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--quiet",
                    "--face-backend", "mesh", "--record-session", str(session), "--record-bvh", str(live))
    assert result.returncode == 0, result.stderr
    settings = tmp_path / "replay.toml"
    settings.write_text('[smoothing]\npreset = "nonsense"\n')
    replay = ("replay", str(session), "--no-pace", "--no-ws", "--no-vmc", "--no-page", "--config", str(settings))
    result = vtuber(*replay, "--record-bvh", str(tmp_path / "bad.bvh"))
    assert result.returncode == 2, result.stderr
    assert "[smoothing] preset must be one of" in result.stderr and not (tmp_path / "bad.bvh").exists()
    settings.write_text('[smoothing]\npreset = "none"\n')
    result = vtuber(*replay, "--record-bvh", str(tmp_path / "raw.bvh"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "raw.bvh").read_text() != live.read_text()  # unsmoothed, unlike the live take
