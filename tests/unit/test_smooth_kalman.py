"""Constant-velocity Kalman filter: smoothing, tracking, missing measurements and time rules."""

from __future__ import annotations

import numpy as np
import pytest

from vtuber.smooth.kalman import ConstantVelocityKalman

DT = 1.0 / 30.0


def test_static_noise_is_reduced():
    rng = np.random.default_rng(0)
    kf = ConstantVelocityKalman(2, measurement_std=0.01, accel_std=0.002)
    z = np.array([0.2, -0.6]) + rng.normal(0.0, 0.01, (300, 2))
    out = np.array([kf.update(zi, t=i * DT) for i, zi in enumerate(z)])
    assert np.all(out[60:].std(axis=0) < 0.01 / 3)


def test_tracks_a_ramp_without_lag_and_coasts_through_missing_frames():
    kf = ConstantVelocityKalman(measurement_std=0.01, accel_std=0.5)
    for i in range(60):
        kf.update([0.3 * i * DT], t=i * DT)  # 0.3 units/s
    assert kf.velocity[0] == pytest.approx(0.3, rel=0.05)
    pred = kf.update(None, t=60 * DT)  # predict only
    assert pred[0] == pytest.approx(0.3 * 60 * DT, abs=0.003)


def test_long_coast_stops_extrapolating():
    kf = ConstantVelocityKalman(measurement_std=0.01, accel_std=0.5, max_coast_s=0.2)
    for i in range(60):
        kf.update([1.0 * i * DT], t=i * DT)
    outs = [kf.update(None, t=(60 + k) * DT)[0] for k in range(1, 60)]
    assert outs[-1] == pytest.approx(outs[-2])  # held once max_coast_s passed
    assert outs[-1] < 59 * DT + 0.3  # no more than ~max_coast_s of extrapolation


def test_missing_before_first_measurement_and_reset():
    kf = ConstantVelocityKalman(measurement_std=0.01, accel_std=0.5)
    assert kf.update(None, t=0.0) is None and kf.value is None
    np.testing.assert_array_equal(kf.update([2.0], t=0.1), [2.0])
    kf.reset()
    np.testing.assert_array_equal(kf.update([-1.0], t=0.0), [-1.0])


@pytest.mark.parametrize("t2", [1.0, 0.9])
def test_non_increasing_time_raises(t2):
    kf = ConstantVelocityKalman(measurement_std=0.01, accel_std=0.5)
    kf.update([0.0], t=1.0)
    with pytest.raises(ValueError, match="non-increasing time"):
        kf.update([0.0], t=t2)


def test_bad_measurement_and_parameters_raise():
    kf = ConstantVelocityKalman(2, measurement_std=0.01, accel_std=0.5)
    with pytest.raises(ValueError, match="2 finite values"):
        kf.update([0.0], t=0.0)
    with pytest.raises(ValueError, match="2 finite values"):
        kf.update([0.0, np.nan], t=0.0)
    with pytest.raises(ValueError, match="measurement_std must be finite and > 0"):
        ConstantVelocityKalman(measurement_std=0.0, accel_std=1.0)
