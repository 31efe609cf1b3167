"""VMC receiver presets (pure part) and the send-rate cap."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pytest

from vtuber import conventions, geometry
from vtuber.errors import ConfigError
from vtuber.records import AvatarPose, BoneTransform
from vtuber.retarget.profile import load_profile
from vtuber.send.vmc_presets import PRESETS, RateCap, apply_preset, get_preset

SOURCE = {"eyeBlinkLeft": 0.8, "eyeBlinkRight": 0.1, "aa": 0.5, "jawOpen": 0.6, "mouthSmileLeft": 0.3}


def pose() -> AvatarPose:
    root = BoneTransform(rotation=geometry.from_axis_angle((0, 1, 0), 0.3), position=np.array([0.1, 0.0, 0.2]))
    return AvatarPose(0.0, 0, root, MappingProxyType({}), MappingProxyType({"Blink_L": 0.8}),
                      source_blendshapes=MappingProxyType(SOURCE))


def test_all_five_receivers_have_presets() -> None:
    assert {"vseeface", "warudo", "vnyan", "vmagicmirror", "evmc4u"} <= set(PRESETS)
    assert get_preset("VSeeFace").name == "vseeface"
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("obs")


def test_no_preset_sends_per_frame_or_zero_bone_positions() -> None:
    # EVMC4U applies received positions as localPosition (Bone Position Synchronize): only rest offsets.
    assert all(p.bone_positions is False for p in PRESETS.values())


def test_warudo_turns_the_root_180_degrees_through_conventions() -> None:
    p = pose()
    out = apply_preset(p, get_preset("warudo"), None)
    q, _ = conventions.turn_around_y(p.root.rotation, p.root.position)
    assert out.root.rotation == pytest.approx(q)
    assert out.root.position == pytest.approx([-0.1, 0.0, -0.2])
    # The avatar now faces -Z: forward turned around.
    assert geometry.rotate(out.root.rotation, [0, 0, 1])[2] < 0
    assert apply_preset(p, get_preset("vseeface"), None).root is p.root


@pytest.mark.parametrize(("preset", "expected"), [
    ("vseeface", {"Blink_L": 0.8, "Blink_R": 0.1, "A": 0.5}),
    ("vmagicmirror", {"EyeBlinkLeft": 0.8, "JawOpen": 0.6, "MouthSmileLeft": 0.3}),
])
def test_blendshape_profile_per_receiver(preset: str, expected: dict[str, float]) -> None:
    p = get_preset(preset)
    out = apply_preset(pose(), p, load_profile(p.profile))
    for name, value in expected.items():
        assert out.blendshapes[name] == pytest.approx(value)


def test_vrm1_profile_option_for_warudo() -> None:
    p = get_preset("warudo").with_options(profile="vrm1")
    out = apply_preset(pose(), p, load_profile("vrm1"))
    assert out.blendshapes["blinkLeft"] == pytest.approx(0.8) and out.blendshapes["aa"] == pytest.approx(0.5)
    with pytest.raises(ConfigError):
        get_preset("warudo").with_options(colour="red")


def test_rate_cap_halves_a_120_hz_source() -> None:
    cap = RateCap(60)
    allowed = [t for t in np.arange(0, 2.0, 1 / 120) if cap.allow(float(t))]
    assert 119 <= len(allowed) <= 121
    assert min(np.diff(allowed)) > 1 / 60 * 0.75


def test_rate_cap_keeps_every_frame_of_a_jittery_60_hz_source() -> None:
    rng = np.random.default_rng(0)
    times = np.arange(0, 5.0, 1 / 60) + rng.uniform(-0.002, 0.002, 300)
    cap = RateCap(60)
    assert sum(cap.allow(float(t)) for t in times) == 300


def test_rate_cap_long_run_rate_never_exceeds_the_cap() -> None:
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(0.0, 0.01, 5000))  # ~200 Hz, irregular
    cap = RateCap(30)
    n = sum(cap.allow(float(t)) for t in times)
    assert n <= times[-1] * 30 + 2
    assert n >= times[-1] * 30 * 0.9


def test_rate_cap_zero_means_no_cap_and_clock_restart_is_tolerated() -> None:
    assert all(RateCap(0).allow(t) for t in (0.0, 0.0, 0.001))
    cap = RateCap(10)
    assert cap.allow(100.0)
    assert cap.allow(0.0)  # the engine clock restarted: no eternal skip
