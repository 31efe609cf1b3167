"""Avatar profiles (avatars/*.toml, vtuber.retarget.profile): validated sources and gains, and
symmetric look presets."""

from __future__ import annotations

from pathlib import Path

import pytest

from vtuber.errors import ConfigError
from vtuber.retarget.profile import builtin_profiles, load_profile
from vtuber.retarget.retarget import map_blendshapes
from vtuber.solve.gaze import EyeGaze, look_weights


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\n[blendshapes]\n' + body, encoding="utf-8")
    return p


def test_builtin_profiles_are_the_avatar_profiles_and_all_load() -> None:
    names = builtin_profiles()
    assert names == ["perfect_sync", "vrm0", "vrm1"]  # osc_vrchat.toml is an OSC map, not a profile
    for n in names:
        assert load_profile(n).blendshapes


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('Blink = "eyeblinkLeft"\n', "not an engine channel"),  # case typo: would send 0 forever
        ('A = { source = "aa", gain = nan }\n', "finite"),
        ('A = { source = "aa", gain = -1 }\n', "finite number >= 0"),
        ('A = { source = "aa", gain = true }\n', "finite number >= 0"),
    ],
)
def test_profile_sources_and_gains_are_checked(tmp_path: Path, body: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        load_profile(write(tmp_path, body))
    assert "\n" not in str(info.value) and "mine.toml" in str(info.value)


@pytest.mark.parametrize("profile", ["vrm0", "vrm1"])
def test_look_left_and_right_are_symmetric(profile: str) -> None:
    p = load_profile(profile)
    left, right = ("LookLeft", "LookRight") if profile == "vrm0" else ("lookLeft", "lookRight")
    for deg in (5.0, 10.0, 20.0):
        toward_left = map_blendshapes({**look_weights(EyeGaze(deg, 0.0), "L"), **look_weights(EyeGaze(deg, 0.0), "R")}, p)
        toward_right = map_blendshapes({**look_weights(EyeGaze(-deg, 0.0), "L"), **look_weights(EyeGaze(-deg, 0.0), "R")}, p)
        assert toward_left[left] == pytest.approx(toward_right[right], abs=1e-9), deg
        assert toward_left[right] == toward_right[left] == 0.0


def test_builtin_files_are_found_from_any_working_directory(tmp_path, monkeypatch) -> None:
    """`[osc] map`'s default is the relative path avatars/osc_vrchat.toml: it must not depend
    on being started in the repository."""
    from vtuber.encode.osc_map import load_osc_map
    from vtuber.retarget.profile import AVATARS_DIR, avatar_file

    monkeypatch.chdir(tmp_path)
    assert avatar_file("avatars/osc_vrchat.toml") == AVATARS_DIR / "osc_vrchat.toml"
    assert avatar_file("osc_vrchat.toml") == AVATARS_DIR / "osc_vrchat.toml"
    assert load_osc_map("avatars/osc_vrchat.toml").addresses
    # a file of the user's own beats the built-in one of the same name
    (tmp_path / "avatars").mkdir()
    own = tmp_path / "avatars" / "osc_vrchat.toml"
    own.write_text("x")
    assert avatar_file("avatars/osc_vrchat.toml") == own.relative_to(tmp_path)
    # anything else is left as given, so the error names what was asked for
    assert str(avatar_file("elsewhere/osc_vrchat.toml")) == "elsewhere/osc_vrchat.toml"
    assert str(avatar_file("nope.toml")) == "nope.toml"
