"""The float (per-row) forms of the smoothing steps against the numpy forms they replace on the
smoother's usual path, and the smoother's read-only outputs staying unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtuber import conventions, geometry
from vtuber.records import HeadPose, Rig
from vtuber.smooth import RigSmoother
from vtuber.smooth.one_euro import one_euro_norm_step_floats, one_euro_step
from vtuber.smooth.quaternion import quaternion_one_euro_row, quaternion_one_euro_step


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("seed", range(5))
def test_quaternion_row_matches_the_batched_step(seed: int) -> None:
    rng = np.random.default_rng(seed)
    params = (0.5, 2.0, 1.0, 0.3)
    for _ in range(400):
        q_hat = _unit(rng.normal(size=4))
        scale = rng.choice([0.0, 1e-10, 1e-4, 0.05, 1.0, 3.0])  # 0: equal; 3: far, often the other hemisphere
        q = _unit(q_hat + scale * rng.normal(size=4))
        if rng.random() < 0.3:
            q = -q  # the same rotation, the other sign
        w_hat = rng.normal(size=3) * rng.choice([0.0, 0.2, 5.0])
        dt = float(rng.choice([1 / 60, 1 / 30, 0.7]))
        batch_q, batch_w = q_hat[None].copy(), w_hat[None].copy()
        quaternion_one_euro_step(batch_q, batch_w, q[None], dt, *[np.array([p]) for p in params])
        row_q, row_w = quaternion_one_euro_row(tuple(q_hat), tuple(w_hat), tuple(q), dt, *params)
        np.testing.assert_allclose(row_q, batch_q[0], rtol=0, atol=1e-14)
        np.testing.assert_allclose(row_w, batch_w[0], rtol=1e-12, atol=1e-12)
        assert math.isclose(math.sqrt(sum(v * v for v in row_q)), 1.0, abs_tol=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_norm_step_on_floats_matches_one_euro_step(seed: int) -> None:
    rng = np.random.default_rng(seed)
    params = (1.0, 4.0, 1.0, 0.05)
    for _ in range(400):
        x_hat = rng.normal(size=3)
        dx_hat = rng.normal(size=3) * rng.choice([0.0, 0.01, 1.0])
        x = x_hat + rng.normal(size=3) * rng.choice([0.0, 1e-4, 0.1])
        dt = float(rng.choice([1 / 60, 1 / 30, 0.5]))
        ref_x, ref_dx = x_hat.copy(), dx_hat.copy()
        one_euro_step(ref_x, ref_dx, x, dt, *params, norm_speed=True)
        new_x, new_dx = one_euro_norm_step_floats(x_hat.tolist(), dx_hat.tolist(), x.tolist(), dt, *params)
        np.testing.assert_allclose(new_x, ref_x, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(new_dx, ref_dx, rtol=1e-15, atol=1e-15)


def test_float_geometry_helpers_give_the_array_functions_numbers() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        q = rng.normal(size=4)
        assert geometry.normalize_floats(q) == tuple(geometry.normalize(q).tolist())
        m = geometry.to_matrix(q)
        assert tuple(geometry.from_matrix(m).tolist()) == geometry.from_matrix_floats(m.tolist())
        position = rng.normal(size=3)
        r, t = conventions.internal_head_to_opencv_pose(q, position)
        assert np.array_equal(r, conventions.OPENCV_TO_INTERNAL @ geometry.to_matrix(q))
        assert np.array_equal(t, conventions.OPENCV_TO_INTERNAL @ (position * conventions.CENTIMETRES_PER_METRE))
        rotation, pos = conventions.canonical_face_pose_to_internal(r, t)
        assert np.array_equal(rotation, geometry.from_matrix(conventions.OPENCV_TO_INTERNAL @ r))
        assert np.array_equal(pos, (conventions.OPENCV_TO_INTERNAL @ t) / conventions.CENTIMETRES_PER_METRE)
    with pytest.raises(ValueError):
        geometry.normalize_floats([0.0, 0.0, 0.0, 0.0])


def _rig(t: float, index: int, angle: float, bones: bool = True) -> Rig:
    q = geometry.from_axis_angle((0.0, 1.0, 0.0), angle)
    return Rig(
        t=t,
        index=index,
        head=HeadPose(q, np.array([0.0, 0.0, -0.6])),
        blendshapes={"jawOpen": 0.5 + 0.1 * math.sin(angle)},
        bones={"Neck": q, "LeftEye": q} if bones else {"Neck": q},
    )


def test_smoothed_rotations_handed_out_never_change() -> None:
    """The smoother hands out its rotation rows read-only and without a copy; later frames,
    including the masked path of a lost bone, must leave earlier outputs as they were."""
    smoother = RigSmoother("balanced")
    outputs = []
    for k in range(30):
        out = smoother.update(_rig(k / 30, k, 0.05 * k, bones=not 10 <= k < 20))
        outputs.append((out, out.head.rotation.copy(), {n: q.copy() for n, q in out.bones.items()}))
    for out, head_q, bones in outputs:
        assert np.array_equal(out.head.rotation, head_q)
        assert not out.head.rotation.flags.writeable
        for name, q in bones.items():
            assert np.array_equal(out.bones[name], q)
            assert not out.bones[name].flags.writeable
    assert "bone:LeftEye" in outputs[15][0].held
