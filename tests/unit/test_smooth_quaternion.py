"""Quaternion-safe One Euro: unit outputs, sign-safety, equivalence to the scalar filter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtuber import geometry
from vtuber.smooth.one_euro import OneEuroFilter
from vtuber.smooth.quaternion import (
    QuaternionOneEuroFilter,
    quat_exp,
    quat_log,
    quat_mul,
    slerp_batch,
)

DT = 1.0 / 30.0


def yaw(deg: float) -> np.ndarray:
    return geometry.from_axis_angle((0, 1, 0), math.radians(deg))


def test_batch_helpers_match_geometry():
    rng = np.random.default_rng(0)
    a = np.array([geometry.normalize(v) for v in rng.normal(size=(5, 4))])
    b = np.array([geometry.normalize(v) for v in rng.normal(size=(5, 4))])
    for i in range(5):
        np.testing.assert_allclose(quat_mul(a, b)[i], geometry.multiply(a[i], b[i]), atol=1e-15)
        s = slerp_batch(a, b, 0.3)[i]
        assert geometry.angle_between(s, geometry.slerp(a[i], b[i], 0.3)) < 1e-7
    r = rng.normal(size=(5, 3))
    r *= (0.9 * math.pi / np.linalg.norm(r, axis=1))[:, None] * rng.uniform(0, 1, (5, 1))
    np.testing.assert_allclose(quat_log(quat_exp(r)), r, atol=1e-12)
    np.testing.assert_allclose(quat_log(quat_exp(np.zeros(3))), np.zeros(3))


def test_single_axis_matches_scalar_one_euro_on_the_angle():
    rng = np.random.default_rng(0)
    angles = np.cumsum(rng.normal(0.0, 0.5, 200))  # degrees, a random walk
    qf, sf = QuaternionOneEuroFilter(0.7, 3.0, 1.5), OneEuroFilter(0.7, 3.0, 1.5)
    for i, a in enumerate(angles):
        q = qf(yaw(a), t=i * DT)
        ref = float(sf(math.radians(a), t=i * DT))
        axis, ang = geometry.to_axis_angle(q)
        assert ang * np.sign(axis[1] if ang > 0 else 1) == pytest.approx(ref, abs=1e-9)


def test_outputs_are_unit_and_sign_flips_of_the_input_change_nothing():
    rng = np.random.default_rng(0)
    a, b = QuaternionOneEuroFilter(0.5, 5.0), QuaternionOneEuroFilter(0.5, 5.0)
    prev = None
    for i in range(100):
        q = geometry.normalize(yaw(i) + rng.normal(0, 0.01, 4))
        sign = -1.0 if rng.uniform() < 0.5 else 1.0
        qa, qb = a(q, t=i * DT), b(sign * q, t=i * DT)
        assert np.linalg.norm(qa) == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(qa, qb, atol=1e-12)  # same rotation and same sign
        if prev is not None:
            assert np.dot(qb, prev) > 0.0  # sign-continuous output
        prev = qb


def test_never_flips_when_yaw_crosses_180_degrees():
    f = QuaternionOneEuroFilter(1.0, 5.0)
    prev = None
    for i, deg in enumerate(np.linspace(150.0, 210.0, 61)):
        q = geometry.canonical(yaw(deg))  # canonical() flips the sign at 180 degrees
        out = f(q, t=i * DT)
        if prev is not None:
            assert geometry.angle_between(prev, out) < math.radians(3.0)
            assert np.dot(prev, out) > 0.0
        prev = out
    assert geometry.angle_between(prev, yaw(210.0)) < math.radians(2.0)


def test_static_jitter_is_reduced_and_a_step_is_reached():
    rng = np.random.default_rng(0)
    f = QuaternionOneEuroFilter(0.3, 12.0, 2.0, 0.6)
    raw, out = [], []
    for i in range(300):
        q = quat_mul(quat_exp(rng.normal(0, math.radians(0.4), 3)), yaw(10.0))
        raw.append(geometry.to_yaw_pitch_roll(q)[0])
        out.append(geometry.to_yaw_pitch_roll(f(q, t=i * DT))[0])
    assert np.std(out[30:]) < np.std(raw[30:]) / 4
    for k in range(1, 4):
        q = f(yaw(30.0), t=(299 + k) * DT)
    assert geometry.angle_between(q, yaw(30.0)) < math.radians(2.0)


def test_batch_rows_are_independent():
    batch = QuaternionOneEuroFilter(np.array([0.5, 5.0]), 0.0)
    singles = [QuaternionOneEuroFilter(0.5, 0.0), QuaternionOneEuroFilter(5.0, 0.0)]
    for i, deg in enumerate([0.0, 20.0, 25.0]):
        qs = np.array([yaw(deg), yaw(-deg)])
        out = batch(qs, t=i * DT)
        for r in range(2):
            np.testing.assert_allclose(out[r], singles[r](qs[r], t=i * DT), atol=1e-12)


def test_time_and_input_errors():
    f = QuaternionOneEuroFilter()
    f(yaw(0), t=1.0)
    with pytest.raises(ValueError, match="non-increasing time"):
        f(yaw(1), t=1.0)
    with pytest.raises(ValueError, match="zero or non-finite"):
        f(np.zeros(4), t=2.0)
    with pytest.raises(ValueError, match=r"shape \(4,\) or \(N, 4\)"):
        f(np.zeros(3), t=2.0)
    f.reset()
    assert f.value is None
    np.testing.assert_allclose(f(2 * yaw(5), t=0.0), yaw(5))
