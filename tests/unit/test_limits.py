"""limits: the right side's angles are the left's mirror image (twist negated), known rotations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vtuber import conventions, geometry
from vtuber.solve import limits

R = math.radians


@pytest.mark.parametrize("bone", ["UpperArm", "LowerArm", "Hand", "IndexProximal", "ThumbProximal"])
def test_mirroring_keeps_flex_and_abd_and_negates_twist(bone: str) -> None:
    left = limits.bone_rotation(f"Left{bone}", R(40), R(10), R(-70))
    right = limits.bone_rotation(f"Right{bone}", R(40), R(10), R(70))
    assert geometry.angle_between(conventions.mirror_quaternion(left), right) < 1e-9


def test_right_forearm_supination_is_positive_twist() -> None:
    # T-pose: palm down (-Y), thumb forward (+Z). Supinating 90 degrees turns the thumb up and
    # the palm forward (+Z) on either arm: a - twist on the left (rest +X), + on the right (-X)
    for side, sign in (("Left", -1.0), ("Right", 1.0)):
        q = limits.bone_rotation(f"{side}LowerArm", twist=sign * R(90))
        np.testing.assert_allclose(geometry.rotate(q, (0.0, -1.0, 0.0)), (0.0, 0.0, 1.0), atol=1e-12)
        np.testing.assert_allclose(geometry.rotate(q, (0.0, 0.0, 1.0)), (0.0, 1.0, 0.0), atol=1e-12)


def test_for_bone_mirrors_only_the_right_twist_range() -> None:
    lim = limits.LOWER_ARM
    assert limits.LOWER_ARM.for_bone("LeftLowerArm") == lim
    right = lim.for_bone("RightLowerArm")
    assert right.twist == (-lim.twist[1], -lim.twist[0]) == (-30.0, 170.0)
    assert right.flex == lim.flex and right.abd == lim.abd
    assert limits.UPPER_ARM.for_bone("RightUpperArm").twist == (-100.0, 90.0)
