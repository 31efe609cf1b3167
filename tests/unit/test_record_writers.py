"""Recording fixes: CSV columns when the first frames have no face, writers that open (with
their headers) before the run, unwritable paths, damaged sessions on replay, a capture thread
that dies, repair of a BVH without its last newline, and frame-rate validation."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from vtuber.capture.latest import LatestFrameGrabber
from vtuber.capture.replay import SessionReplay
from vtuber.config import load_config
from vtuber.errors import ConfigError, RecordingError, SourceError
from vtuber.record.bvh_file import BvhFileWriter, rig_blendshape_names
from vtuber.record.repair import repair, repair_bvh
from vtuber.record.session import SessionWriter, read_session
from vtuber.records import FaceLandmarks, Frame, Landmarks, frozen_mapping

BONES = ["Hips", "Spine"]


def _csv_rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()]


def _landmarks(k: int, size: tuple[int, int] = (640, 480)) -> Landmarks:
    face = FaceLandmarks(
        points=np.full((478, 3), 0.5, np.float32), presence=1.0, blendshapes=frozen_mapping({"jawOpen": 0.5})
    )
    return Landmarks(t=k / 30.0, index=k, image_size=size, face=face)


def _session(path: Path, n: int) -> None:
    with SessionWriter(path, {"source": "test", "fps": 30.0, "image_size": (0, 0)}) as w:
        for k in range(n):
            w.write(_landmarks(k))


# --- blendshape CSV ---------------------------------------------------------------------------


def test_csv_keeps_every_column_when_the_first_frames_have_no_face(tmp_path: Path) -> None:
    bvh_path, csv = tmp_path / "a.bvh", tmp_path / "a.csv"
    with BvhFileWriter(bvh_path, 10.0, bones=BONES, blendshape_csv=csv) as w:
        w.write({})  # no face: no blendshapes
        w.write({}, blendshapes={})
        w.write({}, blendshapes={"jawOpen": 0.5, "eyeBlinkLeft": 1.0})
        w.write({}, blendshapes={"jawOpen": 0.25})
    rows = _csv_rows(csv)
    assert rows[0] == ["frame", "time", "eyeBlinkLeft", "jawOpen"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]  # one row per motion line
    assert rows[1][2:] == rows[2][2:] == ["0.000000", "0.000000"]
    assert rows[3][2:] == ["1.000000", "0.500000"] and rows[4][2:] == ["0.000000", "0.250000"]
    assert {len(r) for r in rows} == {4}
    assert repair_bvh(bvh_path).frames == 4 and not repair(csv).changed


def test_csv_without_any_blendshapes_is_still_one_row_per_frame(tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    with BvhFileWriter(tmp_path / "a.bvh", 10.0, bones=BONES, blendshape_csv=csv) as w:
        for _ in range(3):
            w.write({})
    assert csv.read_text().splitlines() == ["frame,time", "0,0.000000", "1,0.100000", "2,0.200000"]


def test_known_names_write_the_csv_header_when_the_file_opens(tmp_path: Path) -> None:
    bvh_path, csv = tmp_path / "a.bvh", tmp_path / "a.csv"
    names = rig_blendshape_names()
    w = BvhFileWriter(bvh_path, 30.0, bones=BONES, blendshape_csv=csv, blendshape_names=names)
    assert _csv_rows(csv) == [["frame", "time", *names]]  # before any frame: a crash keeps it
    w.write({})  # a first frame without a face still has every column
    w.close()
    rows = _csv_rows(csv)
    assert len(rows) == 2 and len(rows[1]) == len(names) + 2
    assert {"jawOpen", "eyeBlinkLeft", "aa", "oh"} <= set(names) and len(names) == 57


def test_a_zero_frame_recording_is_valid_and_repairable(tmp_path: Path) -> None:
    bvh_path, csv, session = tmp_path / "a.bvh", tmp_path / "a.csv", tmp_path / "a.jsonl"
    BvhFileWriter(bvh_path, 30.0, bones=BONES, blendshape_csv=csv, blendshape_names=rig_blendshape_names()).close()
    SessionWriter(session, {"source": "test", "fps": 30.0, "image_size": (0, 0)}).close()
    for path in (bvh_path, csv, session):
        report = repair(path)
        assert report.frames == 0 and not report.changed, path
    header, frames = read_session(session)
    assert header["image_size"] == [0, 0] and list(frames) == []


def test_a_recording_that_never_wrote_a_header_is_named_as_empty(tmp_path: Path) -> None:
    empty = tmp_path / "x.csv"
    empty.write_bytes(b"")
    with pytest.raises(RecordingError, match="empty"):
        repair(empty)


# --- unwritable paths -------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["bvh", "csv", "session"])
def test_an_unwritable_path_is_a_one_line_recording_error(tmp_path: Path, which: str) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"not a folder")
    bad = blocker / f"x.{which}"  # its "folder" is a file: cannot be created
    with pytest.raises(RecordingError) as info:
        if which == "bvh":
            BvhFileWriter(bad, 30.0, bones=BONES)
        elif which == "csv":
            BvhFileWriter(tmp_path / "ok.bvh", 30.0, bones=BONES, blendshape_csv=bad)
        else:
            SessionWriter(bad, {"source": "test", "fps": 30.0, "image_size": (0, 0)})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot write {bad}: cannot create the folder {blocker} (")
    assert message.endswith("; choose a writable folder")
    assert blocker.read_bytes() == b"not a folder"


def test_missing_folders_are_created(tmp_path: Path) -> None:
    bvh, csv, session = tmp_path / "a" / "b" / "x.bvh", tmp_path / "c" / "x.csv", tmp_path / "d" / "s.jsonl"
    with BvhFileWriter(bvh, 30.0, bones=BONES, blendshape_csv=csv), SessionWriter(session, {"source": "test", "fps": 30.0, "image_size": (0, 0)}):
        pass
    assert bvh.read_bytes().startswith(b"HIERARCHY") and csv.is_file() and session.read_bytes().startswith(b"{")


# --- sessions ---------------------------------------------------------------------------------


def test_an_unknown_image_size_is_filled_in_from_the_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with SessionWriter(path, {"source": "test", "fps": 30.0, "image_size": (0, 0)}) as w:
        assert json.loads(path.read_bytes().splitlines()[0])["image_size"] == [0, 0]
        w.write(_landmarks(0, size=(12345, 67890)))
        w.write(_landmarks(1, size=(1, 1)))  # only the first frame's size goes in the header
    header, frames = read_session(path)
    assert header["image_size"] == [12345, 67890]
    assert [lm.index for lm, _ in frames] == [0, 1]
    assert not repair(path).changed


def _damage_line(path: Path, line: int, replacement: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = replacement
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize(
    "replacement",
    [b'{"i": 2, "t": 0.1, "lm": {"t": 0.1, "index": 2, "si', b'{"i": 2, "t": 0.1}', b"[1, 2]"],
    ids=["cut", "no-landmarks", "not-an-object"],
)
def test_a_damaged_middle_line_names_the_file_and_line(tmp_path: Path, replacement: bytes) -> None:
    path = tmp_path / "s.jsonl"
    _session(path, 5)
    _damage_line(path, 4, replacement)  # line 1 is the header: frames 0, 1 come before
    _, frames = read_session(path)
    with pytest.raises(RecordingError, match=rf"^{path}: line 4 is damaged") as info:
        for _ in frames:
            pass
    assert "\n" not in str(info.value)


def test_replaying_a_damaged_session_is_a_source_error(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    _session(path, 5)
    _damage_line(path, 3, b'{"i": 1, "t": 0.03')
    replay = SessionReplay(path)
    assert replay.source.read() is not None
    with pytest.raises(SourceError, match=rf"{path}: line 3 is damaged"):
        replay.source.read()


class _BrokenSource:
    """A recorded source whose second read raises something other than ``SourceError``."""

    name = "broken"
    nominal_fps = 30.0
    live = False

    def __init__(self) -> None:
        self.reads = 0

    def read(self) -> Frame | None:
        self.reads += 1
        if self.reads > 1:
            raise KeyError("lm")
        return Frame(image=np.zeros((1, 1, 3), np.uint8), t=0.0, index=0)

    def close(self) -> None:
        pass


def test_a_capture_thread_that_raises_ends_failed_instead_of_hanging() -> None:
    grabber = LatestFrameGrabber(_BrokenSource(), paced=True).start()
    try:
        assert grabber.get(timeout_s=5.0) is not None
        started = time.monotonic()
        assert grabber.get(timeout_s=5.0) is None
        assert time.monotonic() - started < 2.0  # ended, not a timeout
        assert grabber.state == "failed" and grabber.finished
        assert grabber.error is not None and "broken" in grabber.error and "lm" in grabber.error
    finally:
        grabber.stop()


# --- repair -----------------------------------------------------------------------------------


def _bvh_without_last_newline(tmp_path: Path, frames_field: int | None) -> tuple[Path, bytes]:
    path = tmp_path / "n.bvh"
    with BvhFileWriter(path, 30.0, bones=BONES) as w:
        for _ in range(3):
            w.write({})
    data = path.read_bytes()
    if frames_field is not None:
        data = data.replace(b"Frames: 3", f"Frames: {frames_field}".encode())
    path.write_bytes(data.rstrip(b"\n"))
    return path, data.rstrip(b"\n")


def test_repair_keeps_a_whole_last_frame_without_a_newline(tmp_path: Path) -> None:
    path, data = _bvh_without_last_newline(tmp_path, None)
    report = repair_bvh(path)
    assert report.frames == 3 and not report.changed
    assert path.read_bytes() == data


def test_repair_still_drops_a_last_line_the_header_does_not_count(tmp_path: Path) -> None:
    path, _ = _bvh_without_last_newline(tmp_path, 2)  # a crash: Frames lags, line unterminated
    report = repair_bvh(path)
    assert report.frames == 2 and report.changed
    assert path.read_bytes().endswith(b"\n")


# --- frame rates ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_a_bad_frame_rate_in_the_config_is_a_one_line_config_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[source]\nfps = {value}\n")
    with pytest.raises(ConfigError, match=r"\[source\] fps must be a frame rate above 0") as info:
        load_config(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# --- bones a frame does not carry ---------------------------------------------------------------


def _motion_lines(path: Path) -> list[list[float]]:
    motion = path.read_text().partition("MOTION\n")[2].splitlines()[2:]
    return [[float(v) for v in line.split()] for line in motion]


def test_bones_a_frame_does_not_carry_take_the_rest_rotation(tmp_path: Path) -> None:
    """Hips carried by the frames, Spine not: Spine is written at the writer's ``rest`` (here a
    known 30 degree turn about +X), and at the T-pose (0) without one."""
    from vtuber import geometry

    turned = geometry.from_axis_angle([1.0, 0.0, 0.0], np.radians(30.0))
    lines = {}
    for name, rest in (("rest", {"Spine": turned}), ("tpose", None)):
        path = tmp_path / f"{name}.bvh"
        with BvhFileWriter(path, 30.0, bones=BONES, rest=rest) as writer:
            writer.write({"Hips": geometry.from_axis_angle([0.0, 1.0, 0.0], np.radians(10.0))})
            writer.write({"Hips": geometry.IDENTITY, "Spine": geometry.IDENTITY})  # carried: wins over rest
        lines[name] = _motion_lines(path)
    # channels: Hips position (3), Hips ZXY (3), Spine ZXY (3)
    assert lines["rest"][0][3:6] == lines["tpose"][0][3:6] == pytest.approx([0.0, 0.0, 10.0])
    assert lines["rest"][0][6:9] == pytest.approx([0.0, 30.0, 0.0])
    assert lines["tpose"][0][6:9] == pytest.approx([0.0, 0.0, 0.0])
    assert lines["rest"][1][6:9] == pytest.approx([0.0, 0.0, 0.0])


def test_a_recording_with_no_frames_holds_no_data(tmp_path: Path) -> None:
    """``safety.holds_data``: header-only BVH, CSV and session files (a run that failed at start)
    may be replaced; one frame, or a file of another format, may not."""
    from vtuber.record.safety import holds_data

    for frames in (0, 1):
        bvh, session = tmp_path / f"{frames}.bvh", tmp_path / f"{frames}.jsonl"
        with BvhFileWriter(bvh, 30.0, bones=BONES, blendshape_csv=bvh.with_suffix(".csv"), blendshape_names=["jawOpen"]) as w:
            for _ in range(frames):
                w.write({}, blendshapes={"jawOpen": 0.5})
        _session(session, frames)
        expected = frames > 0
        assert holds_data(bvh, "bvh") is expected
        assert holds_data(bvh.with_suffix(".csv"), "csv") is expected
        assert holds_data(session, "session") is expected
    other = tmp_path / "notes.txt"
    other.write_text("frame,time\n")
    assert holds_data(other, "bvh") and holds_data(other, "session")
    assert not holds_data(other, "csv")  # a header row alone is an empty table whatever made it


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ([("takes/", "--record-bvh", "bvh")], "--record-bvh takes/ is a folder: name a file in it (e.g. takes/take1.bvh)"),
        ([("odd.csv", "--record-bvh", "bvh")], "--record-bvh odd.csv ends in .csv, the name of the blendshape CSV written beside the BVH: name the BVH odd.bvh"),
        ([("a.bvh", "--record-bvh", "bvh"), ("./a.bvh", "--record-session", "session")], "--record-bvh a.bvh is also --record-session: two recordings in one file"),
        ([("clip.mp4", "--record-bvh", "bvh")], "--record-bvh clip.mp4 is the input being read (clip.mp4): give the recording its own name"),
    ],
)
def test_recordings_that_would_destroy_data_are_refused_even_with_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, targets: list[tuple[str, str, str]], message: str) -> None:
    from vtuber.record.safety import Target, check_targets

    monkeypatch.chdir(tmp_path)
    Path("clip.mp4").write_bytes(b"a video")
    with pytest.raises(ConfigError) as info:
        check_targets([Target(*t) for t in targets], [Path("clip.mp4")], overwrite=True)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
    assert Path("clip.mp4").read_bytes() == b"a video" and not Path("takes").exists()


def test_a_symlink_to_an_input_is_the_input(tmp_path: Path) -> None:
    from vtuber.record.safety import bvh_targets, check_targets

    session = tmp_path / "take.jsonl"
    _session(session, 2)
    (tmp_path / "lk.csv").symlink_to(session)  # the CSV beside lk.bvh would be the session
    with pytest.raises(ConfigError, match=r"the blendshape CSV beside --record-bvh .*lk\.csv is the input being read"):
        check_targets(bvh_targets(str(tmp_path / "lk.bvh"), "--record-bvh"), [session], overwrite=True)
