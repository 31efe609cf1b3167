"""``vtuber calibrate``: print a board, calibrate from an image folder and a video of rendered
boards, manage profiles; errors are one line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.conftest import ROOT
from vtuber import cli
from vtuber.calibrate import store
from vtuber.calibrate.synthetic import EXAMPLE_CAMERA, synthetic_views
from vtuber.commands import calibrate as calibrate_command
from vtuber.commands import calibrate_guided
from vtuber.errors import VTuberError


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """The sub-command as ``vtuber.cli.main`` runs it (VTuberError -> one line, status 2)."""
    parser = argparse.ArgumentParser(prog="vtuber")
    calibrate_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args))
    except VTuberError as exc:
        sys.stderr.write(f"vtuber: error: {exc}\n")
        code = 2
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shots")
    for k, view in enumerate(synthetic_views(EXAMPLE_CAMERA, count=14, seed=4)):
        cv2.imwrite(str(folder / f"shot{k:02d}.png"), view.image)
    return folder


def test_board_out_writes_png_and_pdf(tmp_path, capsys) -> None:
    for name in ("board.png", "board.pdf"):
        code, _, err = run(["calibrate", "camera", "--board-out", str(tmp_path / name)], capsys)
        assert code == 0 and (tmp_path / name).stat().st_size > 10_000
        assert "8x6 squares of 28 mm" in err and "100 %" in err
    code, _, err = run(["calibrate", "camera", "--board", "checkerboard", "--board-out", str(tmp_path / "c.png")], capsys)
    assert code == 0 and "checkerboard 10x7 squares of 24 mm" in err


def test_calibrate_from_a_folder_saves_a_usable_profile(tmp_path, shots, capsys) -> None:
    root = tmp_path / "calibration"
    code, _, err = run(
        ["calibrate", "camera", "--source", str(shots), "--name", "synth", "--select", "--calibration-dir", str(root)], capsys
    )
    assert code == 0, err
    assert "view 14/25" in err and "coverage 12/12 cells" in err
    assert "RMS reprojection error" in err and "saved" in err
    found = store.load_camera_profile("synth", root=root)
    for a, b in [(found.fx, EXAMPLE_CAMERA.fx), (found.fy, EXAMPLE_CAMERA.fy), (found.cx, EXAMPLE_CAMERA.cx), (found.cy, EXAMPLE_CAMERA.cy)]:
        assert abs(a - b) / b < 0.015  # 14 views only
    assert store.selected("camera", root) == "synth"

    code, out, _ = run(["calibrate", "profiles", "--calibration-dir", str(root), "list"], capsys)
    assert code == 0 and out.startswith("* camera synth") and "640x480" in out
    code, _, _ = run(["calibrate", "profiles", "--calibration-dir", str(root), "select", "camera", "--none"], capsys)
    assert code == 0 and store.selected("camera", root) is None
    code, _, err = run(["calibrate", "profiles", "--calibration-dir", str(root), "delete", "camera", "synth"], capsys)
    assert code == 0 and "deleted" in err and store.list_profiles("camera", root) == []


def test_calibrate_from_a_video(tmp_path, shots, capsys) -> None:
    video = tmp_path / "board.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for path in sorted(shots.iterdir()):
        image = cv2.imread(str(path))
        for _ in range(3):  # a still board for a few frames: one view, not three
            writer.write(image)
    writer.release()
    code, _, err = run(["calibrate", "camera", "--source", str(video), "--name", "vid", "--calibration-dir", str(tmp_path)], capsys)
    assert code == 0, err
    assert "read 42 frames; board found in 42; 14 distinct views" in err


def test_errors_are_one_line(tmp_path, capsys) -> None:
    cases = [
        (["calibrate", "camera"], "needs --board-out"),
        (["calibrate", "camera", "--source", str(tmp_path)], "needs --name"),
        (["calibrate", "camera", "--source", str(tmp_path), "--name", "x"], "no images"),
        (["calibrate", "camera", "--board-out", str(tmp_path / "b.jpg")], "must end in .png or .pdf"),
        (["calibrate", "camera", "--board-out", str(tmp_path / "b.png"), "--squares", "14x10"], "markers"),
        (["calibrate", "profiles", "--calibration-dir", str(tmp_path), "select", "camera", "nope"], "camera profile not found"),
        (["calibrate", "profiles", "--calibration-dir", str(tmp_path), "delete", "user", "nope"], "no user profile named"),
    ]
    for argv, expected in cases:
        code, _, err = run(argv, capsys)
        assert code == 2 and expected in err, (argv, err)
        assert err.count("\n") == 1 and err.startswith("vtuber: error: ")


def test_too_few_views_explains_what_to_do(tmp_path, shots, capsys) -> None:
    folder = tmp_path / "few"
    folder.mkdir()
    for path in sorted(shots.iterdir())[:3]:
        (folder / path.name).write_bytes(path.read_bytes())
    code, _, err = run(["calibrate", "camera", "--source", str(folder), "--name", "few", "--calibration-dir", str(tmp_path)], capsys)
    assert code == 2 and "only 3 distinct views" in err.splitlines()[-1]


@pytest.mark.skipif("calibrate" not in cli.COMMAND_MODULES, reason="vtuber.cli does not list the calibrate command yet")
def test_installed_in_the_main_cli(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "vtuber", "calibrate", "profiles", "--calibration-dir", str(tmp_path), "list"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert done.returncode == 0 and "no profiles" in done.stdout


def test_calibration_dir_before_or_after_the_profiles_action(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # the default calibration/ is relative
    root = tmp_path / "cal"
    store.save_camera_profile("c920", EXAMPLE_CAMERA, rms_px=0.2, quality={}, root=root)
    for argv in (["--calibration-dir", str(root), "list"], ["list", "--calibration-dir", str(root)]):
        code, out, err = run(["calibrate", "profiles", *argv], capsys)
        assert code == 0 and out.startswith("  camera c920"), (argv, out, err)
    code, out, _ = run(["calibrate", "profiles", "list"], capsys)
    assert code == 0 and "no profiles in calibration/" in out  # the default is kept
    code, _, err = run(["calibrate", "profiles", "select", "camera", "c920", "--calibration-dir", str(root)], capsys)
    assert code == 0 and store.selected("camera", root) == "c920", err
    code, _, _ = run(["calibrate", "profiles", "--calibration-dir", str(tmp_path / "other"), "select", "camera", "--none",
                      "--calibration-dir", str(root)], capsys)
    assert code == 0 and store.selected("camera", root) is None  # after the action wins
    code, _, err = run(["calibrate", "profiles", "delete", "camera", "c920", "--calibration-dir", str(root)], capsys)
    assert code == 0 and "deleted" in err and store.list_profiles("camera", root) == []


@pytest.mark.parametrize("views", ["4", "0", "-3"])
def test_views_below_the_minimum_are_refused_while_parsing(tmp_path, shots, capsys, views) -> None:
    from vtuber.calibrate.camera import MIN_VIEWS

    argv = ["calibrate", "camera", "--source", str(shots), "--name", "x", "--calibration-dir", str(tmp_path), "--views", views]
    with pytest.raises(SystemExit) as exc:
        run(argv, capsys)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(f"error: argument --views: must be at least {MIN_VIEWS} (the fewest views a camera fit needs), got {views}")
    assert "looking for" not in err and not list(tmp_path.iterdir())  # nothing captured or saved
    parser = argparse.ArgumentParser(prog="vtuber")
    calibrate_command.register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["calibrate", "camera", "--views", str(MIN_VIEWS)]).views == MIN_VIEWS


@pytest.mark.skipif("calibrate" not in cli.COMMAND_MODULES, reason="vtuber.cli does not list the calibrate command yet")
def test_main_cli_option_order_and_views_minimum(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def vtuber(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vtuber", *argv], capture_output=True, text=True, timeout=60, env=env, check=False)

    done = vtuber("calibrate", "profiles", "list", "--calibration-dir", str(tmp_path))
    assert done.returncode == 0 and f"no profiles in {tmp_path}/" in done.stdout, done.stderr
    done = vtuber("calibrate", "camera", "--views", "4", "--source", str(tmp_path), "--name", "x")
    assert done.returncode == 2 and "argument --views: must be at least 5" in done.stderr.splitlines()[-1], done.stderr


def test_guided_step_options_are_checked_in_one_line(tmp_path, capsys) -> None:
    cases = [
        (["calibrate", "face", "--name", "me", "--steps", "neutral,blink"], "--steps 'neutral,blink': use a comma list of neutral, closed, wide, mouth"),
        (["calibrate", "body", "--name", "me", "--steps", "apose"], "--steps 'apose': use a comma list of relaxed, tpose"),
        (["calibrate", "face", "--name", "../x"], "bad profile name"),
        (["calibrate", "face", "--name", "me", "--seconds", "0"], "--seconds must be positive"),
        (["calibrate", "body", "--name", "me", "--source", str(tmp_path / "none.mp4")], "source not found"),
        (["calibrate", "face", "--name", "me", "--source", str(tmp_path), "--steps", "neutral,mouth", "--calibration-dir", str(tmp_path)],
         "give the mouth step(s) their own clips (--mouth-source)"),
    ]
    for argv, expected in cases:
        code, _, err = run(argv, capsys)
        assert code == 2 and expected in err, (argv, err)
        assert err.count("\n") == 1 and err.startswith("vtuber: error: "), err


def test_step_plans() -> None:
    plan = calibrate_guided.plan_steps
    steps = calibrate_guided.FACE_STEPS
    none = {s: None for s in steps[1:]}
    assert plan(None, steps, "webcam:0", none, True) == [(s, "webcam:0") for s in steps]
    assert plan(None, steps, "n.mp4", {**none, "mouth": "m.mp4"}, False) == [("neutral", "n.mp4"), ("mouth", "m.mp4")]
    assert plan(["closed"], steps, "c.mp4", none, False) == [("closed", "c.mp4")]  # --source serves the one step
    assert plan(["wide", "closed"], steps, "webcam:1", {**none, "wide": "w/"}, True) == [("wide", "w/"), ("closed", "webcam:1")]
    assert calibrate_guided.parse_steps("mouth, neutral", steps) == ["neutral", "mouth"]  # the guided order
    from vtuber.solve import body_calibration, calibration

    # the command keeps its own copies (no solver import to build the parser): they must agree
    assert calibrate_guided.FACE_STEPS == calibration.FACE_STEPS and calibrate_guided.FACE_TITLES == calibration.STEP_TITLES
    assert calibrate_guided.BODY_STEPS == body_calibration.BODY_STEPS and calibrate_guided.BODY_TITLES == body_calibration.STEP_TITLES
