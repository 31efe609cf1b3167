"""``RigSmoother``: One Euro smoothing of a whole ``Rig`` with hold-then-decay for lost channels.

Channels and their filters (created on first sight, parameters from a ``SmoothingPreset``):

* ``"head"``: the head rotation (quaternion-safe, ``vtuber.smooth.quaternion``) and position
  (metres, One Euro on the 3-vector with the speed norm). Lost when ``rig.head is None``.
* ``"bone:NAME"``: each bone rotation in ``rig.bones``; lost when absent from the mapping. The
  head and all bones run as one bank of quaternion filters (one row each; on floats, row by row,
  when every row is measured).
* ``"blendshape:NAME"``: each weight in ``rig.blendshapes``, all in one vector One Euro with
  per-channel parameters (``BLINK_CHANNELS`` use the preset's faster ``blinks``); outputs are
  clamped to [0, 1]. Lost when absent from the mapping.

A lost channel holds its last smoothed value for ``hold_s`` seconds, then eases to neutral over
``decay_s`` seconds along a smoothstep (3u^2 - 2u^3, zero slope at both ends): identity for the
head rotation, the last position for the head position, ``rest[NAME]`` (default identity) for a
bone, 0 for a blendshape. While lost its filter state follows what is shown, with zero velocity,
so on re-acquisition the filter starts from the shown value without a stale velocity. Output
``Rig.held`` names the lost channels (e.g. ``"head"``, ``"blendshape:eyeBlinkLeft"``,
``"bone:LeftHand"``); once seen, a channel stays in the output (at neutral after the decay).

Time policy (the smoother never raises for bad timing): ``rig.t`` equal to the previous
frame's (a repeated frame) returns the previous output re-stamped with this frame's index and
``tracked``; ``rig.t`` earlier than the previous (a seek or a looped file) resets every filter
and starts afresh; a non-finite ``t`` is skipped the same way as a repeat. A non-finite or zero
measurement counts as a missing one. Pure computation: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber import geometry
from vtuber.records import HeadPose, Rig
from vtuber.smooth.one_euro import one_euro_norm_step_floats, one_euro_step
from vtuber.smooth.presets import (
    BLINK_CHANNELS,
    DEFAULT_PRESET,
    OneEuroParams,
    SmoothingPreset,
    get_preset,
)
from vtuber.smooth.quaternion import (
    Quat4,
    quaternion_one_euro_row,
    quaternion_one_euro_step,
    slerp_batch,
)

F64 = NDArray[np.float64]

__all__ = ["RigSmoother", "ease_weight"]

HEAD = "head"
_HEAD_KEY = "<head>"  # the head's row key: not a HumanBodyBones name, so no bone can clash
_NO_HELD: frozenset[str] = frozenset()
_IDENTITY = (0.0, 0.0, 0.0, 1.0)
_NAN4 = (math.nan,) * 4
_ZERO3 = (0.0, 0.0, 0.0)


def ease_weight(age_s: F64, hold_s: float, decay_s: float) -> F64:
    """Weight in [0, 1] of neutral for channels lost ``age_s`` seconds ago (smoothstep)."""
    if decay_s <= 0.0:
        return (age_s > hold_s).astype(np.float64)
    u = np.clip((age_s - hold_s) / decay_s, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


class _Bank:
    """Per-channel bookkeeping shared by the scalar and the quaternion banks."""

    __slots__ = ("columns", "index", "labels", "last_seen", "names", "params", "present", "row_params")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.labels: list[str] = []
        self.params = np.empty((0, 4))  # rows of (min_cutoff_hz, beta, d_cutoff_hz, speed_floor)
        self.columns: tuple[F64, ...] = tuple(self.params.T.copy())  # the same, contiguous per parameter
        self.row_params: list[tuple[float, float, float, float]] = []  # the same, per row, as floats
        self.present = np.empty(0, dtype=bool)
        self.last_seen = np.empty(0)

    def _add(self, name: str, label: str, params: OneEuroParams, t: float) -> None:
        self.index[name] = len(self.names)
        self.names.append(name)
        self.labels.append(label)
        row = (params.min_cutoff_hz, params.beta, params.d_cutoff_hz, params.speed_floor)
        self.params = np.vstack([self.params, row])
        self.row_params.append(row)
        self.columns = tuple(self.params.T.copy())
        self.present = np.append(self.present, True)
        self.last_seen = np.append(self.last_seen, t)

    def held_labels(self, missing: F64) -> Iterable[str]:
        return (self.labels[i] for i in np.flatnonzero(missing))


class _ScalarBank(_Bank):
    """Blendshape weights: one vector One Euro, neutral 0."""

    __slots__ = ("dx", "held", "x")

    def __init__(self) -> None:
        super().__init__()
        self.x = np.empty(0)
        self.dx = np.empty(0)
        self.held = np.empty(0)

    def add(self, name: str, value: float, params: OneEuroParams, t: float) -> None:
        self._add(name, "blendshape:" + name, params, t)
        self.x = np.append(self.x, value)
        self.dx = np.append(self.dx, 0.0)
        self.held = np.append(self.held, value)

    def step(self, z: F64, t: float, dt: float, hold_s: float, decay_s: float) -> F64 | None:
        """Advance with measurements ``z`` (NaN = missing); returns the missing mask, None when
        nothing is missing."""
        present = np.isfinite(z)
        if present.all():
            one_euro_step(self.x, self.dx, z, dt, *self.columns)
            self.last_seen[:] = t
            self.present[:] = True
            return None
        lost = ~present & self.present
        self.held[lost] = self.x[lost]
        one_euro_step(self.x, self.dx, np.where(present, z, self.x), dt, *self.columns)
        missing = ~present
        w = ease_weight(t - self.last_seen[missing], hold_s, decay_s)
        self.x[missing] = self.held[missing] * (1.0 - w)
        self.dx[missing] = 0.0
        self.last_seen[present] = t
        self.present = present
        return missing


class _QuatBank(_Bank):
    """Head and bone rotations: one quaternion One Euro per row, neutral per row.

    ``q`` is replaced by a new array on every step, never written in place once a step has
    returned, so the smoother hands it out read-only (its rows are the output rotations)."""

    __slots__ = ("held", "neutral", "q", "w")

    def __init__(self) -> None:
        super().__init__()
        self.q = np.empty((0, 4))
        self.w = np.empty((0, 3))
        self.held = np.empty((0, 4))
        self.neutral = np.empty((0, 4))

    def add(
        self, name: str, label: str, q: F64, neutral: ArrayLike, params: OneEuroParams, t: float
    ) -> None:
        self._add(name, label, params, t)
        self.q = np.vstack([self.q, q])
        self.w = np.vstack([self.w, np.zeros(3)])
        self.held = np.vstack([self.held, q])
        self.neutral = np.vstack([self.neutral, neutral])

    def step_rows(self, rows: list[Quat4], t: float, dt: float) -> None:
        """Advance with every row measured: ``rows`` are the N unit quaternions in row order.
        Row by row on floats (``quaternion_one_euro_row``): a face rig has a handful of rows,
        too few for numpy's per-call cost to pay off."""
        new_q: list[Quat4] = []
        new_w: list[tuple[float, float, float]] = []
        step = quaternion_one_euro_row
        for z, q, w, params in zip(rows, self.q.tolist(), self.w.tolist(), self.row_params):
            q, w = step(q, w, z, dt, *params)
            new_q.append(q)
            new_w.append(w)
        self.q = np.array(new_q)
        self.w = np.array(new_w)
        self.last_seen.fill(t)
        self.present.fill(True)

    def step(self, z: F64, t: float, dt: float, hold_s: float, decay_s: float) -> F64 | None:
        """Advance with unit quaternions ``z`` (N, 4) (NaN rows = missing); returns the mask, None
        when nothing is missing."""
        self.q = self.q.copy()  # the last output's rows must not change
        present = np.isfinite(z[:, 3])
        if present.all():
            quaternion_one_euro_step(self.q, self.w, z, dt, *self.columns)
            self.last_seen[:] = t
            self.present[:] = True
            return None
        lost = ~present & self.present
        self.held[lost] = self.q[lost]
        quaternion_one_euro_step(self.q, self.w, np.where(present[:, None], z, self.q), dt, *self.columns)
        missing = ~present
        w = ease_weight(t - self.last_seen[missing], hold_s, decay_s)
        self.q[missing] = slerp_batch(self.held[missing], self.neutral[missing], w)
        self.w[missing] = 0.0
        self.last_seen[present] = t
        self.present = present
        return missing


class _HeadPosition:
    """The head position's One Euro filter: ``one_euro_step`` with ``norm_speed`` (as
    ``OneEuroFilter(..., norm_speed=True)`` runs it) on the smoother's time steps, on floats
    (``one_euro_norm_step_floats``) and without that class's per-call checks (the position is
    filtered or reseeded on every frame the head exists). Positions in metres."""

    __slots__ = ("dx", "params", "x")

    def __init__(self, params: OneEuroParams) -> None:
        self.params = (params.min_cutoff_hz, params.beta, params.d_cutoff_hz, params.speed_floor)
        self.x: list[float] | None = None
        self.dx: Sequence[float] = _ZERO3

    def reset(self) -> None:
        """Forget the state: the next sample is a first sample."""
        self.x = None

    def hold(self) -> F64:
        """The last estimate (a new array), kept with zero speed (``OneEuroFilter.reseed`` to its
        value)."""
        assert self.x is not None
        self.dx = _ZERO3
        return np.array(self.x)

    def step(self, x: list[float], dt: float | None) -> F64:
        """Filter sample ``x`` (3 floats) ``dt`` seconds after the last (None: a first sample);
        returns the estimate (a new array)."""
        if self.x is None or dt is None:
            self.x = x
            self.dx = _ZERO3
        else:
            self.x, self.dx = one_euro_norm_step_floats(self.x, self.dx, x, dt, *self.params)
        return np.array(self.x)


def _as_float(v: object) -> float:
    """``v`` as a float, NaN (missing) when it is not a number."""
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _unit_or_nan(q: ArrayLike | None) -> Quat4 | None:
    """``q`` normalised, as a 4-tuple, if finite and non-zero, else None (treated as missing)."""
    if q is None:
        return None
    if not (type(q) is np.ndarray and q.shape == (4,) and q.dtype == np.float64):  # not the usual rotation
        q = np.asarray(q, dtype=np.float64)
        if q.shape != (4,):
            return None
    try:
        return geometry.normalize_floats(q)
    except ValueError:  # zero length, NaN or inf
        return None


class RigSmoother:
    """Smooths a stream of ``Rig`` records (see the module docstring for the channel policy).

    Args:
        preset: a ``SmoothingPreset`` or a preset name (``"responsive"``, ``"balanced"``,
            ``"smooth"``, ``"none"``); ConfigError for an unknown name.
        rest: bone name -> the rotation (x, y, z, w) a lost bone eases to; identity otherwise.
    """

    __slots__ = ("_bs", "_head_err", "_last", "_pos", "_rest", "_rot", "_t", "preset")

    def __init__(
        self,
        preset: SmoothingPreset | str = DEFAULT_PRESET,
        *,
        rest: Mapping[str, ArrayLike] | None = None,
    ) -> None:
        self.preset = get_preset(preset) if isinstance(preset, str) else preset
        self._rest = {k: _unit_or_nan(v) or _IDENTITY for k, v in (rest or {}).items()}
        self._pos = _HeadPosition(self.preset.head_position)
        self.reset()

    def reset(self) -> None:
        """Forget every channel and the time: the next rig is a first frame."""
        self._t: float | None = None
        self._last: Rig | None = None
        self._bs = _ScalarBank()
        self._rot = _QuatBank()
        self._pos.reset()
        self._head_err = 0.0

    def _unit_rows(self, bones: Mapping[str, ArrayLike], head_q: Quat4 | None) -> list[Quat4] | None:
        """Every rotation row's unit measurement in row order, or None when one is missing or
        invalid (then ``_gather_rotations`` and the bank's masked step take over)."""
        rows: list[Quat4] = []
        get = bones.get
        try:
            for name in self._rot.names:
                q = head_q if name == _HEAD_KEY else _unit_or_nan(get(name))
                if q is None:
                    return None
                rows.append(q)
        except (TypeError, ValueError):  # a malformed bone: the masked path sorts it out
            return None
        return rows

    def _gather_rotations(self, bones: Mapping[str, ArrayLike], head_q: Quat4 | None) -> F64:
        """(N, 4) unit measurements in row order, NaN rows for missing or invalid ones."""
        rot = self._rot
        nan4 = _NAN4
        rows = [bones.get(name, nan4) for name in rot.names]
        if head_q is not None:
            rows[rot.index[_HEAD_KEY]] = head_q
        try:
            z = np.array(rows, dtype=np.float64)
        except (TypeError, ValueError):  # a malformed bone: per row, treating it as missing
            z = np.array([_unit_or_nan(r) or nan4 for r in rows])
        if z.shape != (len(rows), 4):
            z = np.array([_unit_or_nan(r) or nan4 for r in rows])
        norm = np.sqrt(np.einsum("ij,ij->i", z, z))
        if all(1e-12 < n < math.inf for n in norm.tolist()):  # usual: every row valid (NaN fails)
            z /= norm[:, None]  # (the test on floats: cheaper than four numpy calls on a few rows)
            return z
        good = (norm > 1e-12) & (norm < math.inf)  # NaN fails both
        with np.errstate(invalid="ignore", divide="ignore"):
            z /= norm[:, None]
        z[~good] = math.nan
        return z

    def update(self, rig: Rig) -> Rig:
        """The smoothed rig for ``rig`` (same ``t``, ``index`` and ``tracked``)."""
        if self.preset.passthrough:
            return rig
        t = float(rig.t)
        if self._t is not None:
            if not math.isfinite(t) or t == self._t:
                assert self._last is not None
                return replace(self._last, index=rig.index, tracked=rig.tracked)
            if t < self._t:
                self.reset()
        elif not math.isfinite(t):
            return rig
        dt = None if self._t is None else t - self._t
        held: list[str] = []

        # Blendshapes: new names get a channel seeded at their value.
        bs = self._bs
        values = rig.blendshapes
        in_order = list(values)
        same_layout = in_order == bs.names  # usual: the same names in the same order every frame
        if not same_layout:  # new channels join in the rig's own order (deterministic layout)
            index = bs.index
            for name in in_order:
                if name in index:
                    continue
                v = _as_float(values[name])
                if math.isfinite(v):
                    params = self.preset.blinks if name in BLINK_CHANNELS else self.preset.blendshapes
                    bs.add(name, v, params, t)
            same_layout = in_order == bs.names
        if dt is not None and bs.names:
            n = len(bs.names)
            try:
                if same_layout:
                    z = np.fromiter(values.values(), np.float64, n)
                else:
                    get = values.get
                    z = np.fromiter((get(name, math.nan) for name in bs.names), np.float64, n)
            except (TypeError, ValueError):  # a non-numeric weight counts as missing
                z = np.array([_as_float(values.get(name)) for name in bs.names])
            missing = bs.step(z, t, dt, self.preset.hold_s, self.preset.decay_s)
            if missing is not None and missing.any():
                held.extend(bs.held_labels(missing))

        # Rotations: the head and every bone in one bank (row by row on floats when all are measured).
        rot = self._rot
        head = rig.head
        head_q = None
        head_pos: list[float] = []
        if head is not None:
            head_q = _unit_or_nan(head.rotation)
            pos = np.asarray(head.position, dtype=np.float64)
            head_pos = pos.tolist() if pos.shape == (3,) else []
            if head_q is None or not (head_pos and all(map(math.isfinite, head_pos))):
                head_q = None
        bones = rig.bones
        for name in [b for b in bones if b not in rot.index] if bones else ():
            q = _unit_or_nan(bones[name])
            if q is not None:
                rot.add(
                    name,
                    "bone:" + name,
                    np.array(q),
                    self._rest.get(name, _IDENTITY),
                    self.preset.bones,
                    t,
                )
        if head_q is not None and _HEAD_KEY not in rot.index:
            rot.add(_HEAD_KEY, HEAD, np.array(head_q), _IDENTITY, self.preset.head_rotation, t)
            head_new = True
        else:
            head_new = False
        if dt is not None and rot.names:
            rows = self._unit_rows(bones, head_q)
            if rows is not None:  # usual: every rotation measured
                rot.step_rows(rows, t, dt)
            else:
                missing = rot.step(
                    self._gather_rotations(bones, head_q),
                    t,
                    dt,
                    self.preset.hold_s,
                    self.preset.decay_s,
                )
                if missing is not None and missing.any():
                    held.extend(rot.held_labels(missing))

        qs = rot.q  # the bank replaces it on the next step, never writes it: handed out read-only
        qs.setflags(write=False)
        # Head position: held (not eased) while the face is lost.
        out_head = None
        head_row = rot.index.get(_HEAD_KEY)
        if head_row is not None:
            if head_q is not None and head is not None:
                if head_new:
                    self._pos.reset()
                position = self._pos.step(head_pos, dt)
                self._head_err = float(head.reprojection_error_px)
            else:
                position = self._pos.hold()  # zero velocity, follows the shown value
            position.setflags(write=False)
            out_head = HeadPose(qs[head_row], position, self._head_err)

        out_bs = MappingProxyType(dict(zip(bs.names, np.minimum(np.maximum(bs.x, 0.0), 1.0).tolist())))
        out_bones = MappingProxyType(
            {name: qs[i] for i, name in enumerate(rot.names) if name != _HEAD_KEY}
        )
        out = Rig(
            t=rig.t,
            index=rig.index,
            head=out_head,
            blendshapes=out_bs,
            bones=out_bones,
            tracked=rig.tracked,
            held=frozenset(held) if held else _NO_HELD,
        )
        self._t = t
        self._last = out
        return out
