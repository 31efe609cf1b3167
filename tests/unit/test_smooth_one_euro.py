"""One Euro filter: the published behaviour, the vector form and the time rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtuber.smooth.one_euro import OneEuroFilter, smoothing_factor

DT = 1.0 / 30.0


def reference_one_euro(xs, ts, min_cutoff, beta, d_cutoff):
    """Casiez et al. 2012's scalar pseudo-code, written independently."""
    out, x_prev, dx_prev, t_prev = [], None, 0.0, None
    for x, t in zip(xs, ts):
        if x_prev is None:
            x_prev, t_prev = x, t
            out.append(x)
            continue
        te = t - t_prev
        a_d = 1.0 / (1.0 + 1.0 / (2 * math.pi * d_cutoff * te))
        dx = a_d * (x - x_prev) / te + (1 - a_d) * dx_prev
        cutoff = min_cutoff + beta * abs(dx)
        a = 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff * te))
        x_prev, dx_prev, t_prev = a * x + (1 - a) * x_prev, dx, t
        out.append(x_prev)
    return np.array(out)


def test_smoothing_factor_matches_time_constant_form():
    assert smoothing_factor(DT, 1.0) == pytest.approx(1.0 / (1.0 + 1.0 / (2 * math.pi * DT)))
    arr = smoothing_factor(DT, np.array([0.5, 5.0]))
    assert arr.shape == (2,) and 0 < arr[0] < arr[1] < 1


@pytest.mark.parametrize("dt", [0.0, -0.01, math.nan])
def test_smoothing_factor_rejects_non_positive_dt(dt):
    with pytest.raises(ValueError, match="dt must be > 0"):
        smoothing_factor(dt, 1.0)


def test_matches_published_algorithm_without_speed_floor():
    rng = np.random.default_rng(0)
    ts = np.cumsum(rng.uniform(0.02, 0.05, 200))
    xs = np.sin(ts * 3) + rng.normal(0, 0.05, ts.size)
    f = OneEuroFilter(1.2, 0.7, 1.5)
    got = np.array([float(f(x, t=t)) for x, t in zip(xs, ts)])
    np.testing.assert_allclose(got, reference_one_euro(xs, ts, 1.2, 0.7, 1.5), rtol=0, atol=1e-12)


def test_first_sample_passes_through_and_jitter_is_reduced_when_static():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(0.5, 0.1)
    noisy = 2.0 + rng.normal(0.0, 0.1, 600)
    out = np.array([float(f(x, t=i * DT)) for i, x in enumerate(noisy)])
    assert out[0] == noisy[0]
    assert out[60:].std() < noisy[60:].std() / 3
    assert abs(out[60:].mean() - 2.0) < 0.02


def test_step_lag_shrinks_with_beta():
    def frames_to_90(beta):
        f = OneEuroFilter(0.5, beta)
        for i in range(30):
            f(0.0, t=i * DT)
        for k in range(1, 100):
            if float(f(1.0, t=(29 + k) * DT)) >= 0.9:
                return k
        return 100

    slow, fast = frames_to_90(0.0), frames_to_90(10.0)
    assert fast <= 3 < slow


def test_vector_channels_have_their_own_parameters_and_speed():
    f = OneEuroFilter(np.array([0.2, 100.0]), 0.0)
    f(np.zeros(2), t=0.0)
    out = f(np.ones(2), t=DT)
    assert out[0] < 0.1
    assert out[1] > 0.9


def test_norm_speed_couples_components():
    coupled = OneEuroFilter(0.1, 50.0, norm_speed=True)
    separate = OneEuroFilter(0.1, 50.0)
    for f in (coupled, separate):
        f(np.zeros(2), t=0.0)
    # only x moves: the coupled filter opens y's cutoff too (y stays 0 anyway), and x moves the same
    a, b = coupled(np.array([1.0, 0.0]), t=DT), separate(np.array([1.0, 0.0]), t=DT)
    assert a[0] == pytest.approx(b[0])
    c = coupled(np.array([1.0, 1.0]), t=2 * DT)
    d = separate(np.array([1.0, 1.0]), t=2 * DT)
    assert c[1] > d[1]  # y benefits from x's speed


def test_speed_floor_ignores_slow_noise_but_not_steps():
    rng = np.random.default_rng(0)
    plain, floored = OneEuroFilter(0.3, 10.0, 2.0), OneEuroFilter(0.3, 10.0, 2.0, 0.3)
    noise = rng.normal(0.0, 0.007, 300)
    outs = {id(f): [float(f(x, t=i * DT)) for i, x in enumerate(noise)] for f in (plain, floored)}
    assert np.std(outs[id(floored)][30:]) < np.std(outs[id(plain)][30:])
    assert float(floored(0.35, t=300 * DT)) > 0.2


@pytest.mark.parametrize("t2", [1.0, 0.5])
def test_non_increasing_time_raises_and_keeps_state(t2):
    f = OneEuroFilter()
    f(1.0, t=1.0)
    with pytest.raises(ValueError, match="non-increasing time"):
        f(5.0, t=t2)
    assert float(f.value) == 1.0 and f.t == 1.0


def test_reset_makes_the_next_sample_a_first_sample():
    f = OneEuroFilter(0.1)
    f(0.0, t=0.0)
    f.reset()
    assert f.value is None
    assert float(f(7.0, t=0.0)) == 7.0


def test_large_gap_snaps_to_the_measurement():
    f = OneEuroFilter(1.0)
    f(0.0, t=0.0)
    assert float(f(1.0, t=100.0)) > 0.99


def test_reseed_zeroes_velocity_where_masked():
    f = OneEuroFilter(1.0, 1.0)
    f(np.zeros(2), t=0.0)
    f(np.ones(2), t=DT)
    f.reseed(np.array([5.0, 5.0]), t=2 * DT, mask=np.array([True, False]))
    v = f.value
    assert v[0] == 5.0 and v[1] < 1.0 and f.t == 2 * DT
    with pytest.raises(ValueError, match="seeded whole"):
        OneEuroFilter().reseed(1.0, mask=np.array(True), t=0.0)


def test_bad_parameters_and_shapes_raise():
    with pytest.raises(ValueError, match="min_cutoff_hz must be finite and > 0"):
        OneEuroFilter(0.0)
    with pytest.raises(ValueError, match="beta must be finite and >= 0"):
        OneEuroFilter(1.0, -1.0)
    f = OneEuroFilter()
    f(np.zeros(3), t=0.0)
    with pytest.raises(ValueError, match="shape"):
        f(np.zeros(2), t=1.0)
    with pytest.raises(ValueError, match="t must be finite"):
        f(np.zeros(3), t=math.inf)


def test_a_non_finite_sample_is_refused_and_the_state_kept() -> None:
    """A NaN sample used to be accepted and the output stayed NaN for good."""
    f = OneEuroFilter(1.0, 0.0, 1.0)
    f(np.array([1.0]), t=0.0)
    with pytest.raises(ValueError, match="non-finite"):
        f(np.array([np.nan]), t=0.1)
    assert np.isfinite(f(np.array([2.0]), t=0.2)).all()
