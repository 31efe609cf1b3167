"""The One Euro filter: a speed-adaptive first-order low-pass.

Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for Noisy Input
in Interactive Systems", CHI 2012 (https://gery.casiez.net/1euro/). At low speed the cutoff is
``min_cutoff_hz`` (little jitter); as the filtered speed grows the cutoff grows by ``beta`` per
unit of speed (little lag). Parameters:

* ``min_cutoff_hz``: cutoff in Hz at zero speed.
* ``beta``: extra cutoff in Hz per unit/s of filtered speed, so its unit is 1/(signal unit)
  (1/rad for angles, 1/m for positions, dimensionless for blendshape weights in [0, 1]).
* ``d_cutoff_hz``: cutoff in Hz of the low-pass applied to the speed estimate itself.
* ``speed_floor`` (an extension, 0 gives the published filter): filtered speed, in signal units
  per second, that ``beta`` ignores: the cutoff is ``min_cutoff_hz + beta * max(0, speed -
  speed_floor)``. Tracker noise alone produces a filtered speed of a few tenths of a unit/s;
  with the floor just above it a static signal keeps the ``min_cutoff_hz`` smoothing while a
  real movement still opens the filter fully, which is how ``vtuber.smooth.presets`` meets both
  the jitter and the step-response targets with one setting.

Every parameter may be a scalar or an array broadcastable to the signal (one value per channel),
which lets one vector filter run channels with different tunings (e.g. blinks in a blendshape
vector). Time is the caller's capture time ``t`` in seconds; nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]

__all__ = ["OneEuroFilter", "one_euro_norm_step_floats", "one_euro_step", "smoothing_factor"]


def smoothing_factor(dt: float, cutoff_hz: ArrayLike) -> F64 | float:
    """Exponential smoothing factor ``alpha`` in (0, 1] of a first-order low-pass.

    ``alpha = r / (r + 1)`` with ``r = 2 pi cutoff_hz dt``, i.e. ``1 / (1 + tau / dt)`` with the
    time constant ``tau = 1 / (2 pi cutoff_hz)`` (Casiez et al. 2012, eq. 3). ``dt`` in seconds
    must be > 0; ``cutoff_hz`` (Hz, scalar or array) must be > 0. A scalar cutoff gives a float.
    """
    if not dt > 0.0:
        raise ValueError(f"dt must be > 0 seconds, got {dt!r}")
    if type(cutoff_hz) is np.ndarray and cutoff_hz.ndim and cutoff_hz.dtype == np.float64:  # the banks' usual case
        r = (2.0 * math.pi * dt) * cutoff_hz
    elif np.ndim(cutoff_hz) == 0:
        r = 2.0 * math.pi * float(cutoff_hz) * dt  # type: ignore[arg-type]
        return r / (r + 1.0)
    else:
        r = (2.0 * math.pi * dt) * np.asarray(cutoff_hz, dtype=np.float64)
    r /= r + 1.0
    return r


def elapsed_s(t: float, last_t: float) -> float:
    """``t - last_t``; ValueError unless time moved forward (filters never invent a clock)."""
    dt = t - last_t
    if not dt > 0.0:
        raise ValueError(f"non-increasing time: t={t!r} s after t={last_t!r} s (dt must be > 0)")
    return dt


def check_shape(sample: tuple[int, ...], state: tuple[int, ...]) -> None:
    """ValueError when a sample's shape differs from the filter state's."""
    if sample != state:
        raise ValueError(f"sample shape {sample} differs from the filter's {state}")


def _positive(name: str, value: ArrayLike, *, allow_zero: bool = False) -> F64 | float:
    a = np.asarray(value, dtype=np.float64)
    ok = (a >= 0.0) if allow_zero else (a > 0.0)
    if not (np.all(ok) and np.all(np.isfinite(a))):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return float(a) if a.ndim == 0 else a.copy()


def one_euro_step(
    x_hat: F64,
    dx_hat: F64,
    x: F64,
    dt: float,
    min_cutoff_hz: ArrayLike,
    beta: ArrayLike,
    d_cutoff_hz: ArrayLike,
    speed_floor: ArrayLike = 0.0,
    *,
    norm_speed: bool = False,
) -> None:
    """One One Euro update, in place on the estimate ``x_hat`` and its speed ``dx_hat``.

    ``x`` is the new sample ``dt`` seconds (> 0) after the last; all arrays share one shape and
    the parameters broadcast to it. Pure arithmetic, no checks: the building block of
    ``OneEuroFilter`` and of the smoother's channel banks.
    """
    # Speed of the raw signal against the last estimate, low-passed at d_cutoff (eq. 5-6). The
    # temporaries are updated in place (fewer allocations, the same arithmetic).
    diff = x - x_hat  # used twice: x_hat only changes on the last line
    change = diff / dt
    change -= dx_hat
    change *= smoothing_factor(dt, d_cutoff_hz)
    dx_hat += change
    speed = math.sqrt(float(np.dot(dx_hat.ravel(), dx_hat.ravel()))) if norm_speed else np.abs(dx_hat)
    # Adaptive cutoff (eq. 4, with the optional dead zone), then the low-pass itself (eq. 1-2).
    cutoff = min_cutoff_hz + beta * np.maximum(speed - speed_floor, 0.0)
    diff *= smoothing_factor(dt, cutoff)
    x_hat += diff


def one_euro_norm_step_floats(
    x_hat: Sequence[float],
    dx_hat: Sequence[float],
    x: Sequence[float],
    dt: float,
    min_cutoff_hz: float,
    beta: float,
    d_cutoff_hz: float,
    speed_floor: float = 0.0,
) -> tuple[list[float], list[float]]:
    """``one_euro_step(..., norm_speed=True)`` on a short vector of Python floats with scalar
    parameters: (new estimate, new speed) from the estimate ``x_hat``, its speed ``dx_hat`` and
    the sample ``x`` taken ``dt`` seconds (> 0) later.

    The same operations in the same order as ``one_euro_step`` (equal results, up to the last
    bit of the speed norm, which numpy may sum differently), without a numpy call per
    operation: for a 3-vector such as the head position those calls cost far more than the
    arithmetic, the more so when numpy's code is out of the CPU caches between frames."""
    r = 2.0 * math.pi * d_cutoff_hz * dt  # smoothing_factor's scalar form
    alpha = r / (r + 1.0)
    diffs: list[float] = []
    speeds: list[float] = []
    sum_sq = 0.0
    for estimate, speed, sample in zip(x_hat, dx_hat, x):
        diff = sample - estimate
        speed += (diff / dt - speed) * alpha
        diffs.append(diff)
        speeds.append(speed)
        sum_sq += speed * speed
    excess = math.sqrt(sum_sq) - speed_floor
    r = 2.0 * math.pi * (min_cutoff_hz + beta * max(excess, 0.0)) * dt
    alpha = r / (r + 1.0)
    return [estimate + diff * alpha for estimate, diff in zip(x_hat, diffs)], speeds


class OneEuroFilter:
    """A One Euro filter over a vector (or scalar) signal.

    ``f(x, t=...)`` returns the filtered value, a new float64 array of ``x``'s shape. The first
    sample (or the first after ``reset``) is returned unchanged with zero speed. Each later
    sample must come with ``t`` strictly greater than the previous one, else ValueError (the
    filter state is left untouched). A gap raises ``alpha`` (``r = 2 pi f_c dt``) but does not
    snap: after 2 s at a 0.25 Hz cutoff the output moves 76 % of the way to the new sample (a 30
    degree step leaves 7 degrees); tracking loss is the rig smoother's job (hold, then decay).
    Non-finite samples raise ValueError (the state would stay NaN for good).

    Speed is per component by default (independent channels such as blendshape weights). With
    ``norm_speed=True`` the Euclidean norm of the speed vector drives one shared cutoff, the
    right choice for geometric vectors (a position, a rotation vector) whose filtering must not
    depend on the axes.
    """

    __slots__ = (
        "_dx",
        "_t",
        "_x",
        "beta",
        "d_cutoff_hz",
        "min_cutoff_hz",
        "norm_speed",
        "speed_floor",
    )

    def __init__(
        self,
        min_cutoff_hz: ArrayLike = 1.0,
        beta: ArrayLike = 0.0,
        d_cutoff_hz: ArrayLike = 1.0,
        speed_floor: ArrayLike = 0.0,
        *,
        norm_speed: bool = False,
    ) -> None:
        self.min_cutoff_hz = _positive("min_cutoff_hz", min_cutoff_hz)
        self.beta = _positive("beta", beta, allow_zero=True)
        self.d_cutoff_hz = _positive("d_cutoff_hz", d_cutoff_hz)
        self.speed_floor = _positive("speed_floor", speed_floor, allow_zero=True)
        self.norm_speed = norm_speed
        self._x: F64 | None = None
        self._dx: F64 | None = None
        self._t: float | None = None

    @property
    def value(self) -> F64 | None:
        """The last filtered value (a copy), None before the first sample."""
        return None if self._x is None else self._x.copy()

    @property
    def t(self) -> float | None:
        """Time in seconds of the last accepted sample, None before the first."""
        return self._t

    def reset(self) -> None:
        """Forget the state: the next sample is a first sample."""
        self._x = None
        self._dx = None
        self._t = None

    def reseed(
        self, value: ArrayLike, *, t: float | None = None, mask: ArrayLike | None = None
    ) -> None:
        """Set the estimate to ``value`` with zero speed (where ``mask`` is True, else everywhere).

        Used to re-acquire a channel from what was last shown (a held or eased value) without a
        stale velocity. ``t`` (seconds), when given, becomes the time of the last sample. An
        unseeded filter can only be seeded whole (``mask=None``) and then also needs ``t``.
        """
        v = np.array(value, dtype=np.float64)
        if self._x is None or self._dx is None:
            if mask is not None or t is None:
                raise ValueError("an empty filter must be seeded whole (mask=None) and with t")
            self._x = v
            self._dx = np.zeros_like(v)
        elif mask is None:
            self._x = np.broadcast_to(v, self._x.shape).copy()
            self._dx = np.zeros_like(self._x)
        else:
            m = np.asarray(mask, dtype=bool)
            self._x[m] = np.broadcast_to(v, self._x.shape)[m]
            self._dx[m] = 0.0
        if t is not None:
            self._t = float(t)

    def __call__(self, x: ArrayLike, *, t: float) -> F64:
        """Filter sample ``x`` taken at time ``t`` (seconds); returns the estimate (a new array)."""
        xs = np.array(x, dtype=np.float64)
        if not math.isfinite(t):
            raise ValueError(f"t must be finite seconds, got {t!r}")
        if not np.all(np.isfinite(xs)):
            raise ValueError(f"cannot filter a non-finite sample {xs!r}")
        if self._x is None or self._dx is None or self._t is None:
            self._x = xs
            self._dx = np.zeros_like(xs)
            self._t = float(t)
            return xs.copy()
        dt = elapsed_s(t, self._t)
        check_shape(xs.shape, self._x.shape)
        one_euro_step(
            self._x,
            self._dx,
            xs,
            dt,
            self.min_cutoff_hz,
            self.beta,
            self.d_cutoff_hz,
            self.speed_floor,
            norm_speed=self.norm_speed,
        )
        self._t = float(t)
        return self._x.copy()
