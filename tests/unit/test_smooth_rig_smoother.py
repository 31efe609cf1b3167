"""RigSmoother: preset targets, hold-then-decay, re-acquisition, time policy, clamping."""

from __future__ import annotations

import math
from itertools import pairwise
from types import MappingProxyType

import numpy as np
import pytest

from vtuber import geometry
from vtuber.errors import ConfigError
from vtuber.records import HeadPose, Rig
from vtuber.smooth import PRESETS, RigSmoother, ease_weight, get_preset
from vtuber.smooth.quaternion import quat_exp, quat_mul

FPS = 30.0
POS = np.array([0.0, 0.05, -0.6])


def head(yaw_deg: float = 0.0, pos: np.ndarray = POS) -> HeadPose:
    return HeadPose(geometry.from_yaw_pitch_roll(math.radians(yaw_deg), 0.0, 0.0), pos)


def rig(i: int, fps: float = FPS, **kw) -> Rig:
    return Rig(t=i / fps, index=i, **kw)


def yaw_of(out: Rig) -> float:
    assert out.head is not None
    return math.degrees(geometry.to_yaw_pitch_roll(out.head.rotation)[0])


# --- preset targets (seeded synthetic MediaPipe-like noise) -------------------------------------


def static_jitter_deg(preset: str, noise_deg: float, fps: float = FPS, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    sm = RigSmoother(preset)
    angles = []
    for i in range(int(20 * fps)):
        q = quat_mul(quat_exp(rng.normal(0.0, math.radians(noise_deg), 3)), head(5.0).rotation)
        out = sm.update(rig(i, fps, head=HeadPose(q, POS)))
        angles.append(geometry.to_yaw_pitch_roll(out.head.rotation))
    return float(np.degrees(np.array(angles)[int(fps) :]).std(axis=0).max())


def frames_to_90(preset: str, noise_deg: float, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    sm = RigSmoother(preset)
    for i in range(120):
        yaw = 0.0 if i < 60 else 20.0
        q = quat_mul(quat_exp(rng.normal(0.0, math.radians(noise_deg), 3)), head(yaw).rotation)
        if yaw_of(sm.update(rig(i, head=HeadPose(q, POS)))) >= 18.0:
            return i - 59
    return 999


@pytest.mark.parametrize("noise_deg,seed", [(0.3, 0), (0.4, 0), (0.4, 1), (0.4, 2)])
def test_balanced_static_jitter_is_at_most_a_tenth_of_a_degree(noise_deg, seed):
    assert static_jitter_deg("balanced", noise_deg, seed=seed) <= 0.1


def test_balanced_static_jitter_at_the_top_of_the_noise_range():
    # one 20 s window of a 0.25 Hz low-pass varies by +-20%: judge the mean of a few
    assert np.mean([static_jitter_deg("balanced", 0.5, seed=s) for s in range(4)]) <= 0.1


def test_presets_order_by_smoothness():
    j = {p: static_jitter_deg(p, 0.4) for p in ("responsive", "balanced", "smooth")}
    assert j["smooth"] < j["balanced"] < j["responsive"]
    assert static_jitter_deg("none", 0.4) > 0.3  # pass-through keeps the raw noise


@pytest.mark.parametrize("noise_deg,seed", [(0.0, 0), (0.5, 1), (0.5, 2)])
def test_responsive_reaches_90_percent_of_a_20_degree_step_within_2_frames(noise_deg, seed):
    assert frames_to_90("responsive", noise_deg, seed) <= 2


def test_balanced_step_is_also_fast():
    assert frames_to_90("balanced", 0.0) <= 3


def test_blink_keeps_its_depth():
    sm = RigSmoother("smooth")  # even the smoothest preset
    peak = 0.0
    for i in range(60):
        closed = 30 <= i < 33  # 100 ms
        out = sm.update(
            rig(i, blendshapes={"eyeBlinkLeft": 1.0 if closed else 0.0, "jawOpen": 0.0})
        )
        peak = max(peak, out.blendshapes["eyeBlinkLeft"])
    assert peak >= 0.9


# --- hold then decay ------------------------------------------------------------------------------


def test_face_loss_holds_then_eases_to_neutral():
    sm = RigSmoother("balanced")
    p = get_preset("balanced")
    for i in range(30):
        last = sm.update(rig(i, head=head(30.0), blendshapes={"jawOpen": 0.8, "eyeBlinkLeft": 0.4}))
    held_yaw, held_pos = yaw_of(last), last.head.position.copy()
    outs = [sm.update(rig(30 + k)) for k in range(1, 40)]  # face lost from t = 31/30
    lost_t = 29 / FPS  # last time the face was seen
    for out in outs:
        age = out.t - lost_t
        assert out.held == {"head", "blendshape:jawOpen", "blendshape:eyeBlinkLeft"}
        np.testing.assert_allclose(out.head.position, held_pos)  # position is held, not eased
        if age <= p.hold_s:
            assert yaw_of(out) == pytest.approx(held_yaw, abs=1e-9)
            assert out.blendshapes["jawOpen"] == pytest.approx(0.8, abs=1e-3)
        elif age >= p.hold_s + p.decay_s:
            assert geometry.angle_between(out.head.rotation, geometry.IDENTITY) < 1e-9
            assert out.blendshapes["jawOpen"] == 0.0
    yaws = [yaw_of(o) for o in outs]
    assert all(b <= a + 1e-9 for a, b in pairwise(yaws))  # monotone ease
    assert max(abs(b - a) for a, b in pairwise(yaws)) < 2.5  # no jump (30 deg over 0.6 s)


def test_missing_bone_eases_to_its_rest_and_is_named_in_held():
    rest = geometry.from_axis_angle((0, 0, 1), 1.2)
    sm = RigSmoother("balanced", rest={"LeftUpperArm": rest})
    q = geometry.from_axis_angle((1, 0, 0), 0.5)
    for i in range(10):
        sm.update(rig(i, bones={"LeftUpperArm": q, "LeftHand": q}))
    for i in range(10, 50):
        out = sm.update(rig(i, bones={"LeftHand": q}))
    assert out.held == {"bone:LeftUpperArm"}
    assert geometry.angle_between(out.bones["LeftUpperArm"], rest) < 1e-9
    assert geometry.angle_between(out.bones["LeftHand"], q) < 1e-6
    assert out.head is None  # never tracked


def test_reacquisition_starts_from_the_shown_pose_without_stale_velocity():
    sm = RigSmoother("balanced")
    for i in range(30):  # turning fast right before the loss: a velocity builds up
        sm.update(rig(i, head=head(i * 1.0)))
    for i in range(30, 33):  # a 100 ms dropout: held
        held = sm.update(rig(i))
    out = sm.update(rig(33, head=head(29.0)))  # back where it was lost
    assert abs(yaw_of(out) - 29.0) < abs(yaw_of(held) - 29.0) + 1e-9  # no overshoot past it
    # and after a full decay, the return moves toward the measurement without a jump to it
    sm2 = RigSmoother("smooth")
    for i in range(10):
        sm2.update(rig(i, head=head(20.0)))
    for i in range(10, 70):
        sm2.update(rig(i))
    first = yaw_of(sm2.update(rig(70, head=head(20.0))))
    assert 0.0 < first < 20.0
    ys = [yaw_of(sm2.update(rig(71 + k, head=head(20.0)))) for k in range(30)]
    assert all(b >= a - 1e-9 for a, b in zip([first] + ys, ys)) and ys[-1] > 19.5


# --- time policy ------------------------------------------------------------------------------------


def test_repeated_timestamp_returns_the_previous_output():
    sm = RigSmoother()
    a = sm.update(rig(0, head=head(0.0), blendshapes={"jawOpen": 0.1}))
    b = sm.update(Rig(t=0.0, index=1, head=head(40.0), tracked=MappingProxyType({"face": True})))
    assert b.index == 1 and b.tracked == {"face": True}
    assert yaw_of(b) == yaw_of(a) and b.blendshapes == a.blendshapes


def test_time_going_backwards_resets():
    sm = RigSmoother()
    for i in range(10):
        sm.update(rig(i, head=head(0.0)))
    out = sm.update(rig(0, head=head(40.0)))  # a looped file: first sample again
    assert yaw_of(out) == pytest.approx(40.0)


def test_non_finite_time_and_values_never_crash():
    sm = RigSmoother()
    assert sm.update(Rig(t=math.nan, index=0)).index == 0
    sm.update(
        rig(0, head=head(0.0), blendshapes={"jawOpen": 0.5}, bones={"Neck": geometry.IDENTITY})
    )
    out = sm.update(
        rig(
            1,
            head=HeadPose(np.zeros(4), POS),
            blendshapes={"jawOpen": math.nan},
            bones={"Neck": np.array([math.nan, 0, 0, 1.0])},
        )
    )
    assert out.held == {"head", "blendshape:jawOpen", "bone:Neck"}
    assert sm.update(Rig(t=math.inf, index=2)).index == 2


def test_large_gap_with_tracking_on_both_sides_snaps_sanely():
    sm = RigSmoother()
    sm.update(rig(0, head=head(0.0)))
    out = sm.update(Rig(t=60.0, index=1, head=head(30.0)))
    assert yaw_of(out) == pytest.approx(30.0, abs=0.5) and out.held == frozenset()


# --- channels -----------------------------------------------------------------------------------


def test_blendshapes_are_clamped_and_new_names_join_mid_stream():
    sm = RigSmoother("responsive")
    sm.update(rig(0, blendshapes={"jawOpen": 1.3}))
    out = sm.update(rig(1, blendshapes={"jawOpen": -0.2, "aa": 0.7}))
    assert 0.0 <= out.blendshapes["jawOpen"] <= 1.0
    assert out.blendshapes["aa"] == pytest.approx(0.7)


def test_tracked_is_copied_and_outputs_are_read_only():
    sm = RigSmoother()
    tracked = MappingProxyType({"face": True, "left_hand": False})
    out = sm.update(rig(0, head=head(0.0), bones={"Neck": geometry.IDENTITY}, tracked=tracked))
    assert out.tracked == tracked
    with pytest.raises(ValueError, match="read-only"):
        out.head.rotation[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        out.bones["Neck"][0] = 1.0


def test_bone_named_like_the_head_label_does_not_clash():
    sm = RigSmoother()
    out = sm.update(
        rig(0, head=head(10.0), bones={"head": geometry.IDENTITY, "Head": geometry.IDENTITY})
    )
    assert set(out.bones) == {"head", "Head"} and yaw_of(out) == pytest.approx(10.0)


def test_none_preset_passes_through_and_unknown_names_raise():
    r = rig(0, head=head(3.0), blendshapes={"jawOpen": 0.2})
    assert RigSmoother("none").update(r) is r
    with pytest.raises(ConfigError, match="unknown smoothing preset 'silky'"):
        RigSmoother("silky")
    assert set(PRESETS) == {"responsive", "balanced", "smooth", "none"}


def test_ease_weight_is_a_smoothstep():
    w = ease_weight(np.array([0.0, 0.4, 0.7, 1.0, 2.0]), 0.4, 0.6)
    np.testing.assert_allclose(w, [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(ease_weight(np.array([0.1, 0.5]), 0.4, 0.0), [0.0, 1.0])
