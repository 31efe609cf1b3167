"""A constant-velocity Kalman filter over independent channels, on filterpy's ``KalmanFilter``.

Each of the ``n`` channels has the state ``(position, velocity)`` in (unit, unit/s); the state
vector interleaves them ``[x0, v0, x1, v1, ...]`` and only positions are measured. The model is
the continuous white-noise-acceleration one: for a step of ``dt`` seconds (from the samples'
capture times, never a clock)

    F = [[1, dt], [0, 1]],   Q = accel_std**2 * [[dt**3/3, dt**2/2], [dt**2/2, dt]]

per channel (block-diagonal), rebuilt at every step. ``update(None, t=...)`` predicts without a
measurement (a missed frame). Coasting is bounded: once the last measurement is more than
``max_coast_s`` old the velocity is zeroed, so a long loss holds the estimate instead of
extrapolating a stale velocity off to infinity.

The One Euro filters are what the rig smoother uses; this filter is the model-based option for
signals with a known noise level (e.g. head position), and a reference to compare against.
"""

from __future__ import annotations

import math

import numpy as np
from filterpy.kalman import KalmanFilter
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]

__all__ = ["ConstantVelocityKalman"]


class ConstantVelocityKalman:
    """Constant-velocity Kalman filter of ``n_channels`` independent channels.

    Args:
        n_channels: number of channels (>= 1).
        measurement_std: measurement noise standard deviation, signal units.
        accel_std: process noise, the standard deviation density of the unmodelled
            acceleration in units/s^2 per sqrt(Hz); larger follows faster and smooths less.
        initial_velocity_std: prior standard deviation of the velocity at the first sample,
            units/s.
        max_coast_s: seconds of predict-only coasting after which the velocity is zeroed.
    """

    __slots__ = (
        "_kf",
        "_t",
        "_t_measured",
        "accel_std",
        "initial_velocity_std",
        "max_coast_s",
        "measurement_std",
        "n_channels",
    )

    def __init__(
        self,
        n_channels: int = 1,
        *,
        measurement_std: float,
        accel_std: float,
        initial_velocity_std: float = 1.0,
        max_coast_s: float = 0.5,
    ) -> None:
        if n_channels < 1:
            raise ValueError(f"n_channels must be >= 1, got {n_channels}")
        for name, v in (
            ("measurement_std", measurement_std),
            ("accel_std", accel_std),
            ("initial_velocity_std", initial_velocity_std),
        ):
            if not (math.isfinite(v) and v > 0.0):
                raise ValueError(f"{name} must be finite and > 0, got {v!r}")
        if not max_coast_s >= 0.0:
            raise ValueError(f"max_coast_s must be >= 0 seconds, got {max_coast_s!r}")
        self.n_channels = n_channels
        self.measurement_std = measurement_std
        self.accel_std = accel_std
        self.initial_velocity_std = initial_velocity_std
        self.max_coast_s = max_coast_s
        n = n_channels
        kf = KalmanFilter(dim_x=2 * n, dim_z=n)
        kf.H = np.kron(np.eye(n), np.array([[1.0, 0.0]]))
        kf.R = np.eye(n) * measurement_std**2
        self._kf = kf
        self._t: float | None = None
        self._t_measured: float | None = None

    @property
    def value(self) -> F64 | None:
        """Position estimates (n,), None before the first measurement."""
        return None if self._t is None else self._kf.x[0::2, 0].copy()

    @property
    def velocity(self) -> F64 | None:
        """Velocity estimates (n,) in units/s, None before the first measurement."""
        return None if self._t is None else self._kf.x[1::2, 0].copy()

    def reset(self) -> None:
        """Forget the state: the next measurement initialises the filter."""
        self._t = None
        self._t_measured = None

    def _matrices(self, dt: float) -> tuple[F64, F64]:
        f = np.array([[1.0, dt], [0.0, 1.0]])
        q = self.accel_std**2 * np.array([[dt**3 / 3.0, dt**2 / 2.0], [dt**2 / 2.0, dt]])
        eye = np.eye(self.n_channels)
        return np.kron(eye, f), np.kron(eye, q)

    def update(self, z: ArrayLike | None, *, t: float) -> F64 | None:
        """Advance to ``t`` seconds and fuse measurement ``z`` (n,), or only predict if None.

        Returns the position estimates (n,), or None while no measurement was ever given.
        Raises ValueError when ``t`` does not increase or ``z`` has the wrong shape.
        """
        if not math.isfinite(t):
            raise ValueError(f"t must be finite seconds, got {t!r}")
        zs = None if z is None else np.asarray(z, dtype=np.float64).reshape(-1)
        if zs is not None and (zs.shape != (self.n_channels,) or not np.all(np.isfinite(zs))):
            raise ValueError(
                f"measurement must be {self.n_channels} finite values, got {np.asarray(z)!r}"
            )
        kf = self._kf
        if self._t is None or self._t_measured is None:
            if zs is None:
                return None
            kf.x = np.zeros((2 * self.n_channels, 1))
            kf.x[0::2, 0] = zs
            kf.P = np.kron(
                np.eye(self.n_channels),
                np.diag([self.measurement_std**2, self.initial_velocity_std**2]),
            )
            self._t = self._t_measured = float(t)
            return zs.copy()
        dt = t - self._t
        if not dt > 0.0:
            raise ValueError(
                f"non-increasing time: t={t!r} s after t={self._t!r} s (dt must be > 0)"
            )
        if zs is None and t - self._t_measured > self.max_coast_s:
            kf.x[1::2, 0] = 0.0  # stop extrapolating a stale velocity
        kf.F, kf.Q = self._matrices(dt)
        kf.predict()
        if zs is not None:
            kf.update(zs.reshape(-1, 1))
            self._t_measured = float(t)
        self._t = float(t)
        return kf.x[0::2, 0].copy()
