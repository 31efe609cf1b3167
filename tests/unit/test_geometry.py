from __future__ import annotations

import math

import numpy as np
import pytest

from vtuber import geometry

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("trial", range(25))
def test_yaw_pitch_roll_round_trip(trial: int) -> None:
    angles = RNG.uniform([-math.pi, -1.5, -math.pi], [math.pi, 1.5, math.pi])
    q = geometry.from_yaw_pitch_roll(*angles)
    assert np.allclose(geometry.to_yaw_pitch_roll(q), angles, atol=1e-9)


@pytest.mark.parametrize("trial", range(25))
def test_matrix_round_trip(trial: int) -> None:
    q = geometry.canonical(RNG.normal(size=4))
    assert np.allclose(geometry.from_matrix(geometry.to_matrix(q)), q, atol=1e-12)


def test_multiply_composes_rotations() -> None:
    a = geometry.from_axis_angle((0, 0, 1), math.radians(90))
    b = geometry.from_axis_angle((1, 0, 0), math.radians(90))
    v = np.array([0.0, 1.0, 0.0])
    assert np.allclose(geometry.rotate(geometry.multiply(a, b), v), geometry.rotate(a, geometry.rotate(b, v)))


def test_slerp_halfway_and_shortest_path() -> None:
    a = geometry.IDENTITY
    b = geometry.from_axis_angle((0, 1, 0), math.radians(80))
    mid = geometry.slerp(a, b, 0.5)
    assert geometry.angle_between(mid, geometry.from_axis_angle((0, 1, 0), math.radians(40))) < 1e-9
    assert geometry.angle_between(geometry.slerp(a, -b, 0.5), mid) < 1e-9


def test_rotation_vector_round_trip() -> None:
    rvec = np.array([0.3, -0.2, 0.5])
    assert np.allclose(geometry.to_rotation_vector(geometry.from_rotation_vector(rvec)), rvec)


def test_rotation_between_directions() -> None:
    q = geometry.rotation_between([1, 0, 0], [0, 1, 0])
    assert np.allclose(geometry.rotate(q, [1, 0, 0]), [0, 1, 0])
    q = geometry.rotation_between([1, 0, 0], [-1, 0, 0])
    assert np.allclose(geometry.rotate(q, [1, 0, 0]), [-1, 0, 0])


def test_normalise_rejects_zero() -> None:
    with pytest.raises(ValueError, match="cannot normalise"):
        geometry.normalize([0, 0, 0, 0])
