"""A user's body calibration and how the arm solver applies it (pure: no I/O, no clock).

``vtuber calibrate body`` (``vtuber.solve.body_calibration``) measures two held poses with the
pose model: relaxed arms hanging at the sides, and a T-pose (arms straight out to the sides at
shoulder height). For each arm it keeps the measured upper-arm direction and elbow bend of both
(``ArmPose``) and, from the T-pose, the upper-arm and forearm lengths relative to the shoulder
width (``ArmCalibration.upper_arm_ratio`` / ``forearm_ratio``: scale-free, so they hold at any
distance from the camera).

Angles are ``vtuber.solve.limits``' arm angles, in degrees, of the upper arm's direction in the
chest (UpperChest) frame: ``flex`` swings it forward from the T-pose (+ forward), ``abd`` raises
it (+ up, - down; -90 hangs straight down); ``elbow`` is the angle between upper arm and forearm
(0 straight). The avatar's own poses in the same angles: T-pose (0, 0, 0) and the relaxed rest of
``body.relaxed_rest`` (``AVATAR_RELAXED_*``).

Applied by ``arms.solve_arm`` as two "zeros": the user's measured T-pose maps onto the avatar's
T-pose and the user's measured relaxed arms onto the avatar's relaxed rest, so a person whose
relaxed arms the tracker sees 60 degrees down and 25 degrees forward (shoulders, clothes, a chair,
the tracker's own bias) drives the avatar's arms to its rest instead of into or away from its body.
The correction is a rotation of the observed upper-arm direction (``ArmCalibration.map_direction``)
that depends on its elevation: growing from none at straight down to the relaxed pose's at the
relaxed elevation, blended into the T-pose's at the T-pose elevation, fading to none at straight
up. The elbow is
remapped piecewise linearly (T-pose bend -> 0, relaxed bend -> the avatar's, 145 kept). The whole
arm (forearm and hand) turns with the corrected upper arm, so the humeral twist, the elbow bend and
the hand's pose relative to the arm are kept. The length ratios gate the arm
(``ArmCalibration.lengths_plausible``): a bone far shorter or longer than the user's own is a
mis-tracked joint, not a pose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from vtuber import geometry
from vtuber.solve.limits import BoneAxes, angles_direction, bone_axes

F64 = NDArray[np.float64]

AVATAR_RELAXED_FLEX_DEG = 10.0  # relaxed arms hang slightly forward of the body's plane
AVATAR_RELAXED_ABD_DEG = -75.0  # ... 75 degrees below the T-pose (not straight down: hips)
AVATAR_RELAXED_ELBOW_DEG = 15.0  # ... with the elbows bent a little
ELBOW_MAX_DEG = 145.0  # the elbow hinge's limit (``limits.LOWER_ARM``), a fixed point of the remap
RELAXED_ABD_RANGE = (-90.0, -20.0)  # a hanging arm
TPOSE_ABD_RANGE = (-45.0, 45.0)  # an arm held out roughly sideways (the capture checks it tighter)
MIN_POSE_SPREAD_DEG = 15.0  # relaxed and T-pose elevations closer than this cannot anchor a remap
# MediaPipe's world arm lengths relative to the shoulder width stay within +-25 % of their median
# on the development clips (test_video, SOUP, ted_driving1: 0.54-0.88 around 0.7); a bone outside
# 0.6-1.6 times the user's own is a joint the tracker has lost, not a pose.
LENGTH_RATIO_RANGE = (0.6, 1.6)


@dataclass(frozen=True, slots=True)
class ArmPose:
    """One arm's measured pose (degrees, see the module docstring): upper-arm ``flex`` (forward)
    and ``abd`` (up), and ``elbow`` bend (None: the wrist was not in view)."""

    flex_deg: float
    abd_deg: float
    elbow_deg: float | None = None

    def __post_init__(self) -> None:
        elbow_ok = self.elbow_deg is None or 0.0 <= self.elbow_deg <= 180.0
        if not (-180.0 <= self.flex_deg <= 180.0 and -90.0 <= self.abd_deg <= 90.0 and elbow_ok):
            raise ValueError(f"ArmPose angles out of range: {self}")


@dataclass(frozen=True, slots=True)
class ArmCalibration:
    """One arm of a user (subject's side): the measured relaxed and T-pose (either may be None:
    that step was not calibrated) and the T-pose's bone lengths / shoulder width."""

    relaxed: ArmPose | None = None
    tpose: ArmPose | None = None
    upper_arm_ratio: float | None = None
    forearm_ratio: float | None = None

    def __post_init__(self) -> None:
        if self.relaxed is not None and not RELAXED_ABD_RANGE[0] <= self.relaxed.abd_deg <= RELAXED_ABD_RANGE[1]:
            raise ValueError(f"a relaxed arm's abd must be in {RELAXED_ABD_RANGE} degrees: {self}")
        if self.tpose is not None and not TPOSE_ABD_RANGE[0] <= self.tpose.abd_deg <= TPOSE_ABD_RANGE[1]:
            raise ValueError(f"a T-pose arm's abd must be in {TPOSE_ABD_RANGE} degrees: {self}")
        spread = None if self.relaxed is None or self.tpose is None else self.tpose.abd_deg - self.relaxed.abd_deg
        if spread is not None and not spread >= MIN_POSE_SPREAD_DEG:
            raise ValueError(f"the T-pose must be at least {MIN_POSE_SPREAD_DEG:g} degrees above the relaxed arm: {self}")
        for name in ("upper_arm_ratio", "forearm_ratio"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0.0):
                raise ValueError(f"{name} must be a positive number, got {v}")

    @property
    def remaps(self) -> bool:
        """Whether this arm changes the solved angles (it has a measured pose)."""
        return self.relaxed is not None or self.tpose is not None

    def map_direction(self, direction: F64, side: str) -> F64:
        """The avatar's upper-arm direction for the user's observed unit ``direction`` (chest
        frame) of this arm (``side``: the subject's ``left`` or ``right``), see the module docstring.

        The rotation applied depends on the direction's elevation only: none straight down, the
        one taking the user's relaxed direction onto the avatar's at the relaxed elevation, the one
        taking the user's T-pose onto the avatar's at the T-pose elevation (none there without a
        T-pose: the avatar's T-pose is assumed seen as it is), none straight up, slerped between
        these. Working on directions, not angles, keeps it continuous where the forward angle is
        undefined (an arm hanging straight down)."""
        up = bone_axes("LeftUpperArm" if side == "left" else "RightUpperArm").side
        abd = math.degrees(math.asin(min(1.0, max(-1.0, float(direction @ up)))))
        knots = _knots(self, side)
        for (lo, q_lo), (hi, q_hi) in pairwise(knots):
            if abd <= hi:
                return geometry.rotate(geometry.slerp(q_lo, q_hi, _fraction(abd, lo, hi)), direction)
        return direction

    def remap_elbow(self, flex: float) -> float:
        """The avatar's elbow flexion (radians) for the user's measured one (radians)."""
        e = math.degrees(flex)
        xs, ys = [], []
        t_e = self.tpose.elbow_deg if self.tpose is not None and self.tpose.elbow_deg is not None else 0.0
        xs.append(t_e)
        ys.append(0.0)
        r_e = self.relaxed.elbow_deg if self.relaxed is not None else None
        if r_e is not None and t_e < r_e < ELBOW_MAX_DEG:
            xs.append(r_e)
            ys.append(AVATAR_RELAXED_ELBOW_DEG)
        if xs[-1] >= ELBOW_MAX_DEG:
            return flex
        xs.append(ELBOW_MAX_DEG)
        ys.append(ELBOW_MAX_DEG)
        if e <= xs[0]:
            return 0.0 if e >= 0.0 else flex  # straighter than the user's straightest: straight
        return math.radians(_interp(e, xs, ys)) if e < ELBOW_MAX_DEG else flex

    def lengths_plausible(self, upper_ratio: float | None, forearm_ratio: float | None) -> tuple[bool, bool]:
        """(upper arm, forearm) plausible: each observed length / shoulder width within
        ``LENGTH_RATIO_RANGE`` times the calibrated one (True when either is unknown)."""
        lo, hi = LENGTH_RATIO_RANGE

        def ok(observed: float | None, own: float | None) -> bool:
            return observed is None or own is None or lo <= observed / own <= hi

        return ok(upper_ratio, self.upper_arm_ratio), ok(forearm_ratio, self.forearm_ratio)


@dataclass(frozen=True, slots=True)
class BodyCalibration:
    """Both arms of a user (the subject's left and right) and, for information, the T-pose's
    shoulder width in MediaPipe world metres (the model's estimate, not a measurement)."""

    left: ArmCalibration = ArmCalibration()
    right: ArmCalibration = ArmCalibration()
    shoulder_width_m: float | None = None

    def arm(self, side: str) -> ArmCalibration:
        """The ``left`` or ``right`` arm."""
        return self.left if side == "left" else self.right


@lru_cache(maxsize=16)
def _knots(arm: ArmCalibration, side: str) -> tuple[tuple[float, F64], ...]:
    """(elevation in degrees, correction rotation xyzw) of ``ArmCalibration.map_direction``,
    computed once per calibration and side."""
    axes = bone_axes("LeftUpperArm" if side == "left" else "RightUpperArm")
    knots: list[tuple[float, F64]] = [(-90.0, geometry.IDENTITY)]
    if arm.relaxed is not None:
        knots.append((arm.relaxed.abd_deg, _swing(axes, arm.relaxed, AVATAR_RELAXED_FLEX_DEG, AVATAR_RELAXED_ABD_DEG)))
    tp = arm.tpose
    knots.append((tp.abd_deg, _swing(axes, tp, 0.0, 0.0)) if tp is not None else (0.0, geometry.IDENTITY))
    knots.append((90.0, geometry.IDENTITY))
    return tuple(knots)


def _swing(axes: BoneAxes, user: ArmPose, flex_deg: float, abd_deg: float) -> F64:
    """The shortest rotation (xyzw) from the user's measured direction to the avatar's one."""
    r = math.radians
    return geometry.rotation_between(
        angles_direction(r(user.flex_deg), r(user.abd_deg), axes), angles_direction(r(flex_deg), r(abd_deg), axes)
    )


def _fraction(x: float, lo: float, hi: float) -> float:
    """Where ``x`` lies between ``lo`` (0) and ``hi`` (1), clamped; 1 when they coincide."""
    return 1.0 if hi - lo < 1e-9 else min(1.0, max(0.0, (x - lo) / (hi - lo)))


def _interp(x: float, xs: list[float], ys: list[float]) -> float:
    """Piecewise-linear through (xs, ys) (xs increasing), clamped to the end values."""
    if x <= xs[0]:
        return ys[0]
    for i in range(1, len(xs)):
        if x <= xs[i]:
            x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1
    return ys[-1]
