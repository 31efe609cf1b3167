"""Calibration profiles: round trip, selection, and one-line errors naming file and field."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vtuber.calibrate import store
from vtuber.calibrate.store import field_value, load_camera_or_default, load_camera_profile
from vtuber.errors import ConfigError
from vtuber.solve.camera import CameraIntrinsics

CAM = CameraIntrinsics(640, 480, 612.5, 606.25, 327.5, 234.0, (-0.21, 0.12, 0.0012, -0.0008, -0.05))


def saved(tmp_path: Path, name: str = "c920") -> Path:
    return store.save_camera_profile(name, CAM, rms_px=0.21, quality={"views": 20}, root=tmp_path)


def test_camera_profile_round_trip_by_name_and_path(tmp_path) -> None:
    path = saved(tmp_path)
    assert path == tmp_path / "cameras" / "c920.toml"
    assert load_camera_profile("c920", root=tmp_path) == CAM
    assert load_camera_profile(str(path)) == CAM
    profile = store.read_camera_profile("c920", tmp_path)
    assert profile.rms_px == 0.21 and profile.quality["views"] == 20


def test_profile_is_rescaled_to_a_stream_of_the_same_aspect(tmp_path) -> None:
    saved(tmp_path)
    big = load_camera_profile("c920", (1280, 960), tmp_path)
    assert (big.width, big.fx, big.cx) == (1280, 2 * CAM.fx, 2 * CAM.cx)


BAD_FILES = {
    "malformed": ("fx = = 3\n", "not valid TOML"),
    "missing_field": (None, "[intrinsics] fx is missing"),
    "wrong_type": ("fx", "[intrinsics] fx must be a positive number, got \"wide\""),
    "negative": ("fx_negative", "[intrinsics] fx must be a positive number, got -600.0"),
    "missing_table": ("image", "[image] is missing"),
    "bad_distortion": ("distortion", "[intrinsics] distortion must have 4, 5, 8, 12 or 14 coefficients, got 3"),
    "centre_outside": ("cx", "[intrinsics] cx must be a number within the image width 0-640"),
    "width_type": ("width", "[image] width must be a positive integer, got \"640\""),
}


def write_bad(tmp_path: Path, case: str) -> Path:
    path = saved(tmp_path, case.replace("_", "-"))
    text = path.read_text()
    edit, _ = BAD_FILES[case]
    if case == "malformed":
        text = text.replace("fx = ", "fx = = ")
    elif case == "missing_field":
        text = "\n".join(line for line in text.splitlines() if not line.startswith("fx ="))
    elif edit == "fx":
        text = text.replace("fx = 612.5", 'fx = "wide"')
    elif edit == "fx_negative":
        text = text.replace("fx = 612.5", "fx = -600.0")
    elif edit == "image":
        text = text.replace("[image]\nwidth = 640\nheight = 480\n", "")
    elif edit == "distortion":
        text = text.replace("distortion = [-0.21, 0.12, 0.0012, -0.0008, -0.05]", "distortion = [-0.21, 0.12, 0.0]")
    elif edit == "cx":
        text = text.replace("cx = 327.5", "cx = 900.0")
    elif edit == "width":
        text = text.replace("width = 640", 'width = "640"')
    assert text != path.read_text()
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_camera_profiles_give_one_line_naming_file_and_field(tmp_path, case: str) -> None:
    path = write_bad(tmp_path, case)
    with pytest.raises(ConfigError) as info:
        load_camera_profile(path.stem, root=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path) + ": ")
    assert BAD_FILES[case][1] in message


def test_mismatched_image_size_names_the_image_table(tmp_path) -> None:
    path = saved(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_camera_profile("c920", (1280, 720), tmp_path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)) and "[image] 640x480" in message and "1280x720" in message


def test_missing_profile_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="camera profile not found"):
        load_camera_profile("nothing", root=tmp_path)


def test_engine_falls_back_to_none_with_a_warning(tmp_path, caplog) -> None:
    path = write_bad(tmp_path, "wrong_type")
    with caplog.at_level(logging.WARNING):
        assert load_camera_or_default(path.stem, root=tmp_path) is None
    assert "fx must be a positive number" in caplog.text and "field-of-view default" in caplog.text
    assert load_camera_or_default(None, root=tmp_path) is None  # nothing selected: default quietly


def test_selection_list_and_delete(tmp_path) -> None:
    saved(tmp_path, "a")
    saved(tmp_path, "b")
    store.save_user_section("me", "face", {"neutral_rotation": [0.0, 0.0, 0.0, 1.0]}, tmp_path)
    assert store.list_profiles("camera", tmp_path) == ["a", "b"]
    assert store.list_profiles("user", tmp_path) == ["me"]
    store.select("camera", "b", tmp_path)
    store.select("user", "me", tmp_path)
    assert store.selected("camera", tmp_path) == "b" and store.selected("user", tmp_path) == "me"
    assert load_camera_or_default(None, root=tmp_path) == CAM  # the selected camera
    with pytest.raises(ConfigError, match="no camera profile named 'zzz'"):
        store.select("camera", "zzz", tmp_path)
    store.delete_profile("camera", "b", tmp_path)
    assert store.list_profiles("camera", tmp_path) == ["a"]
    assert store.selected("camera", tmp_path) is None and store.selected("user", tmp_path) == "me"
    with pytest.raises(ConfigError, match="no camera profile named 'b'"):
        store.delete_profile("camera", "b", tmp_path)


@pytest.mark.parametrize("name", ["../evil", "", "a b", ".hidden", "x.toml"])
def test_bad_names_are_rejected(tmp_path, name: str) -> None:
    with pytest.raises(ConfigError, match="bad profile name"):
        store.profile_path("camera", name, tmp_path)


def test_user_sections_live_side_by_side(tmp_path) -> None:
    def parse_face(table: dict, where: str) -> float:
        return field_value(table, "blink_closed", float, where, "face")

    store.save_user_section("me", "face", {"blink_closed": 0.12}, tmp_path)
    store.save_user_section("me", "body", {"arm_span_m": 1.7}, tmp_path)  # keeps [face]
    assert store.load_user_section("me", "face", parse_face, tmp_path) == 0.12
    assert store.load_user_section("me", "hands", parse_face, tmp_path) is None
    path = store.profile_path("user", "me", tmp_path)
    path.write_text(path.read_text().replace("blink_closed = 0.12", 'blink_closed = "shut"'))
    with pytest.raises(ConfigError, match=r"me\.toml: \[face\] blink_closed must be a number"):
        store.load_user_section("me", "face", parse_face, tmp_path)
    assert store.load_user_section_or_default("me", "face", parse_face, tmp_path) is None


def test_toml_writer_round_trips() -> None:
    import tomllib

    data = {"a": 1, "b": 1.5e-07, "c": "x \"q\"", "d": [1.0, -2.0], "e": True, "t": {"u": {"v": float("inf")}}}
    assert tomllib.loads(store.dumps_toml(data)) == data
