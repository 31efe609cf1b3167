"""Recording and conversion when something goes wrong, via the real CLI in subprocesses: bad
paths and frame rates, clashing outputs, corrupt clips and SIGTERM in a ``convert`` batch,
damaged sessions on replay, faceless first frames and zero-frame recordings."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import media_path
from tests.integration.test_record_cli import ENV, bvh_frames, vtuber
from vtuber.record.repair import repair

CSV_COLUMNS = 2 + 57  # frame, time and the rig's blendshapes (ARKit 52 + 5 vowels)


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def csv_shape(path: Path) -> tuple[int, set[int]]:
    """(data rows, the set of column counts of every line, header included)."""
    lines = path.read_text().splitlines()
    return len(lines) - 1, {len(line.split(",")) for line in lines}


# --- checks before anything runs (no tracker needed) ------------------------------------------


def test_convert_refuses_two_inputs_writing_the_same_output(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "clip.mp4").write_bytes(b"not converted")
    a, b = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    result = vtuber("convert", str(a), str(b), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"vtuber: error: {a} and {b} would both write")
    assert not (tmp_path / "out" / "clip.bvh").exists()


@pytest.mark.parametrize("fps", ["-5", "0", "nan"])
def test_convert_rejects_a_bad_frame_rate(tmp_path: Path, fps: str) -> None:
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0001.png"), np.zeros((32, 32, 3), np.uint8))
    result = vtuber("convert", str(folder), f"--fps={fps}", "-o", str(tmp_path / "x.bvh"))
    assert result.returncode == 2
    assert result.stderr == f"vtuber: error: --fps must be a frame rate above 0 (e.g. 30), got {float(fps):g}\n"


# --- runs (MediaPipe) -------------------------------------------------------------------------


@pytest.mark.mediapipe
@pytest.mark.parametrize("flag", ["--record-bvh", "--record-session"])
def test_an_unwritable_record_path_fails_before_the_run(tmp_path: Path, flag: str) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"")
    target = blocker / "x.out"  # its folder would have to replace a file
    result = vtuber("run", "--demo", "--frames", "5", "--quiet", "--no-ws", "--no-vmc", flag, str(target))
    assert result.returncode == 2, result.stderr
    assert last_line(result.stderr) == (
        f"vtuber: error: cannot write {target}: cannot create the folder {blocker} (File exists); choose a writable folder"
    )
    assert "Traceback" not in result.stderr and "frames in" not in result.stderr


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20-frame demo session (face mode), recorded with a BVH beside it."""
    folder = tmp_path_factory.mktemp("recorded")
    session = folder / "s.jsonl"
    result = vtuber("run", "--demo", "--frames", "20", "--no-pace", "--quiet", "--no-ws", "--no-vmc",
                    "--record-session", str(session), "--record-bvh", str(folder / "live.bvh"))
    assert result.returncode == 0, result.stderr
    return session


@pytest.mark.mediapipe
def test_a_live_recording_has_every_csv_column_and_the_real_image_size(recorded: Path) -> None:
    header = json.loads(recorded.read_bytes().splitlines()[0])
    assert header["image_size"] == [480, 480]  # filled in from the first frame
    assert csv_shape(recorded.with_name("live.csv")) == (20, {CSV_COLUMNS})
    assert bvh_frames(recorded.with_name("live.bvh")) == (20, 20)


@pytest.mark.mediapipe
def test_replay_with_faceless_first_frames_keeps_every_csv_column(recorded: Path, tmp_path: Path) -> None:
    lines = recorded.read_bytes().splitlines()
    for k in (1, 2, 3):  # the first three frames lose their face
        frame = json.loads(lines[k])
        frame["lm"]["face"] = None
        lines[k] = json.dumps(frame).encode()
    session = tmp_path / "noface_first.jsonl"
    session.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "r.bvh"
    result = vtuber("replay", str(session), "--no-pace", "--no-ws", "--no-vmc", "--record-bvh", str(out))
    assert result.returncode == 0, result.stderr
    frames, _ = bvh_frames(out)
    assert frames >= 17
    assert csv_shape(out.with_suffix(".csv")) == (frames, {CSV_COLUMNS})


@pytest.mark.mediapipe
@pytest.mark.parametrize("pace", [True, False], ids=["paced", "no-pace"])
def test_replaying_a_damaged_session_ends_with_exit_1(recorded: Path, tmp_path: Path, pace: bool) -> None:
    lines = recorded.read_bytes().split(b"\n")
    lines[5] = lines[5][:100]  # line 6 cut in the middle of the file
    session = tmp_path / "damaged.jsonl"
    session.write_bytes(b"\n".join(lines))
    out = tmp_path / "r.bvh"
    result = vtuber("replay", str(session), *([] if pace else ["--no-pace"]), "--no-ws", "--no-vmc",
                    "--record-bvh", str(out), timeout=60)
    assert result.returncode == 1, result.stderr
    assert "source failed: cannot replay" in last_line(result.stderr)
    assert f"{session}: line 6 is damaged" in last_line(result.stderr)
    assert "Traceback" not in result.stderr
    frames, lines_written = bvh_frames(out)
    # the frames before the damage are kept and the file is valid; paced, the engine takes the
    # newest frame and may drop some on a loaded machine (by design: never queued)
    assert frames == lines_written >= (1 if pace else 3)


@pytest.mark.mediapipe
def test_a_zero_frame_recording_is_a_valid_empty_recording(recorded: Path, tmp_path: Path) -> None:
    session = tmp_path / "header_only.jsonl"
    session.write_bytes(recorded.read_bytes().split(b"\n")[0] + b"\n")
    out = tmp_path / "empty.bvh"
    result = vtuber("replay", str(session), "--no-pace", "--no-ws", "--no-vmc", "--record-bvh", str(out))
    assert result.returncode == 0, result.stderr
    assert csv_shape(out.with_suffix(".csv")) == (0, {CSV_COLUMNS})
    result = vtuber("repair", str(out), str(out.with_suffix(".csv")), str(session))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("already valid, 0 frames") == 3


def header_only_avi(path: Path) -> Path:
    """An AVI that opens (its header says 30 frames) but holds no frame data: a cut download."""
    import cv2

    full = path.with_name("full.avi")
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 64))
    for k in range(30):
        writer.write(np.random.default_rng(k).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    writer.release()
    data = full.read_bytes()
    path.write_bytes(data[: data.index(b"movi") + 4])
    return path


@pytest.mark.mediapipe
def test_convert_batch_reports_a_corrupt_clip_converts_the_rest_and_exits_1(tmp_path: Path) -> None:
    bad = header_only_avi(tmp_path / "bad.avi")
    good = media_path("liveportrait/d0.mp4")
    out = tmp_path / "out"
    result = vtuber("convert", str(bad), str(good), "-o", str(out))
    assert result.returncode == 1, result.stderr
    failures = [line for line in result.stderr.splitlines() if line.startswith(f"vtuber: {bad}: source failed")]
    assert len(failures) == 1 and "no decodable frames" in failures[0]
    assert f"vtuber: wrote {out / 'd0.bvh'} (78 frames)" in result.stderr
    assert bvh_frames(out / "d0.bvh") == (78, 78)
    assert last_line(result.stderr) == "vtuber: 1 of 2 inputs failed"


@pytest.mark.mediapipe
def test_sigterm_stops_a_convert_batch_with_exit_130(tmp_path: Path) -> None:
    first, second = media_path("liveportrait/d10.mp4"), media_path("liveportrait/d0.mp4")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "vtuber", "convert", str(first), str(second), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    bvh = out / "d10.bvh"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (bvh.exists() and bvh.stat().st_size > 20000):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert last_line(stderr).startswith("vtuber: stopped after 0 of 2 inputs")
    assert not (out / "d0.bvh").exists()  # the batch did not go on
    frames, lines = bvh_frames(bvh)
    assert 0 < frames == lines < 448  # cut short, and valid without repair
    assert not repair(bvh).changed


def test_repair_on_a_folder_says_to_name_the_files(tmp_path: Path) -> None:
    result = vtuber("repair", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"vtuber: error: {tmp_path} is a folder: name the recordings in it "
        f"(e.g. vtuber repair {tmp_path}/*.bvh {tmp_path}/*.jsonl)\n"
    )
