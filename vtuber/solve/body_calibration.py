"""Body calibration: held poses -> ``BodyCalibration`` (``vtuber calibrate body``), and its TOML table.

Steps (a few seconds each, tracked with the pose model; ``body.measure_arms`` measures each
frame's arms in the chest frame, before any calibration or joint limit):

* ``calibrate_relaxed``: arms hanging relaxed at the sides. Each arm's median upper-arm
  direction (flex forward, abd up, degrees) and elbow bend become its relaxed zero: the avatar's
  relaxed rest (``body_profile.AVATAR_RELAXED_*``) is what this pose will drive.
* ``calibrate_tpose``: arms straight out to the sides at shoulder height. Each arm's median
  direction and bend become its T-pose zero, and its upper-arm and forearm lengths / shoulder
  width (scale-free) the lengths the solver checks tracked arms against.

Every step checks what it got (``CalibrationError``, one line naming the step, the arm and what
to do), in this order: each arm found (shoulder and elbow visible; the T-pose also the wrists)
in at least ``MIN_SAMPLES`` frames; relaxed arms hanging (``RELAXED_MAX_ABD_DEG``,
``RELAXED_MAX_ELBOW_DEG``), a T-pose horizontal, sideways and straight (``TPOSE_MAX_*``); each
arm found in at least ``MIN_ARM_FRACTION`` of the frames.

``body_to_table`` / ``parse_body`` convert to and from the ``[body]`` table of a user profile
(``calibration/users/NAME.toml``); ``parse_body`` raises ``ConfigError`` naming the file and field
(``vtuber.calibrate.store.field_value``). Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from vtuber.calibrate.store import field_value
from vtuber.errors import CalibrationError, ConfigError
from vtuber.records import Landmarks, Side
from vtuber.solve.body import ArmMeasurement, measure_arms
from vtuber.solve.body_profile import (
    MIN_POSE_SPREAD_DEG,
    RELAXED_ABD_RANGE,
    TPOSE_ABD_RANGE,
    ArmCalibration,
    ArmPose,
    BodyCalibration,
)

BODY_STEPS = ("relaxed", "tpose")
STEP_TITLES = {"relaxed": "relaxed arms", "tpose": "T-pose"}
SIDES: tuple[Side, Side] = ("left", "right")

MIN_SAMPLES = 15  # half a second at 30 fps of each arm; a few seconds is recommended
MIN_ARM_FRACTION = 0.6  # an arm lost in more than 2 frames of 5 was not held in view
# Relaxed arms hang well below horizontal: test_video's relaxed left arm measures -58 to -69.
RELAXED_MAX_ABD_DEG = -40.0
# ... with the elbows nearly straight: that arm's bend measures 21-35 degrees, while SOUP's
# signing arms (hands in front of the chest) measure 73-88.
RELAXED_MAX_ELBOW_DEG = 60.0
# A T-pose arm is horizontal, sideways and straight. MediaPipe's arm angles of a held pose wander
# about +-10 degrees frame to frame (test_video, SOUP), and a person's "horizontal" is itself off
# by some degrees: 25 degrees of elevation, 30 forward or back, a 30-degree bend are accepted.
TPOSE_MAX_TILT_DEG = 25.0
TPOSE_MAX_FORWARD_DEG = 30.0
TPOSE_MAX_ELBOW_DEG = 30.0


class _HeldArms:
    """Each arm's measurements over one step's frames."""

    def __init__(self, step: str, samples: Iterable[Landmarks], need_wrist: bool, what: str) -> None:
        self.step, self.what, self.frames = step, what, 0
        self.joints = "shoulder, elbow and wrist" if need_wrist else "shoulder and elbow"
        self.arms: dict[Side, list[ArmMeasurement]] = {"left": [], "right": []}
        for lm in samples:
            self.frames += 1
            for side, m in measure_arms(lm).items():
                if not need_wrist or m.elbow_deg is not None:
                    self.arms[side].append(m)

    def check(self, fraction: bool) -> None:
        """``CalibrationError`` when an arm was found in fewer than ``MIN_SAMPLES`` frames (too
        few to judge its pose) or, with ``fraction``, in under ``MIN_ARM_FRACTION`` of them
        (checked after the pose, which is the more useful thing to hear about)."""
        for side in SIDES:
            n = len(self.arms[side])
            if n < MIN_SAMPLES or (fraction and n < MIN_ARM_FRACTION * self.frames):
                raise CalibrationError(
                    f"{STEP_TITLES[self.step]} step: the {side} arm ({self.joints}) was found in {n} of {self.frames} frames "
                    f"(needs {MIN_SAMPLES} and {MIN_ARM_FRACTION:.0%}): step back until both arms are in view, then {self.what}"
                )


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if len(known) >= MIN_SAMPLES else None


def calibrate_relaxed(samples: Iterable[Landmarks], base: BodyCalibration | None = None) -> BodyCalibration:
    """Arms hanging relaxed: each arm's median direction and bend become its relaxed zero
    (see the module docstring). ``base`` keeps its T-pose part."""
    what = "let both arms hang relaxed at your sides"
    held = _HeldArms("relaxed", samples, False, what)
    held.check(fraction=False)
    arms = held.arms
    out = base or BodyCalibration()
    for side in SIDES:
        ms = arms[side]
        flex, abd = float(np.median([m.flex_deg for m in ms])), float(np.median([m.abd_deg for m in ms]))
        elbow = _median(m.elbow_deg for m in ms)
        if abd > RELAXED_MAX_ABD_DEG:
            raise CalibrationError(
                f"relaxed arms step: the {side} arm was {abs(abd):.0f} degrees {'below' if abd < 0 else 'above'} horizontal "
                f"(needs {abs(RELAXED_MAX_ABD_DEG):.0f} or more below): {what}"
            )
        if elbow is not None and elbow > RELAXED_MAX_ELBOW_DEG:
            raise CalibrationError(
                f"relaxed arms step: the {side} elbow was bent {elbow:.0f} degrees (needs {RELAXED_MAX_ELBOW_DEG:.0f} or less): "
                f"{what}, hands down"
            )
        arm = out.arm(side)
        tpose = arm.tpose
        if tpose is not None and tpose.abd_deg - abd < MIN_POSE_SPREAD_DEG:
            tpose = None  # the old T-pose no longer fits above this relaxed pose; redo it
        out = _with_arm(out, side, dataclasses.replace(arm, relaxed=ArmPose(flex, abd, elbow), tpose=tpose))
    held.check(fraction=True)
    return out


def calibrate_tpose(samples: Iterable[Landmarks], base: BodyCalibration | None = None) -> BodyCalibration:
    """Arms straight out to the sides at shoulder height: each arm's median direction and bend
    become its T-pose zero and its bone lengths / shoulder width the checked lengths (see the
    module docstring). ``base`` keeps its relaxed part. ``CalibrationError`` when an arm was not
    horizontal, sideways or straight."""
    what = "hold both arms straight out to the sides at shoulder height, palms down"
    held = _HeldArms("tpose", samples, True, what)
    held.check(fraction=False)
    arms = held.arms
    out = base or BodyCalibration()
    widths = []
    for side in SIDES:
        ms = arms[side]
        flex = float(np.median([m.flex_deg for m in ms]))
        abd = float(np.median([m.abd_deg for m in ms]))
        elbow = float(np.median([m.elbow_deg for m in ms if m.elbow_deg is not None]))
        if abs(abd) > TPOSE_MAX_TILT_DEG:
            raise CalibrationError(
                f"T-pose step: the {side} arm was {abs(abd):.0f} degrees {'below' if abd < 0 else 'above'} horizontal "
                f"(needs within {TPOSE_MAX_TILT_DEG:.0f}): {what}"
            )
        if abs(flex) > TPOSE_MAX_FORWARD_DEG:
            raise CalibrationError(
                f"T-pose step: the {side} arm pointed {abs(flex):.0f} degrees {'forward' if flex > 0 else 'back'} of sideways "
                f"(needs within {TPOSE_MAX_FORWARD_DEG:.0f}): {what}"
            )
        if elbow > TPOSE_MAX_ELBOW_DEG:
            raise CalibrationError(
                f"T-pose step: the {side} elbow was bent {elbow:.0f} degrees (needs {TPOSE_MAX_ELBOW_DEG:.0f} or less): {what}"
            )
        upper = float(np.median([m.upper_arm_ratio for m in ms]))
        fore = float(np.median([m.forearm_ratio for m in ms if m.forearm_ratio is not None]))
        widths += [m.shoulder_width_m for m in ms]
        arm = out.arm(side)
        relaxed = arm.relaxed
        if relaxed is not None and abd - relaxed.abd_deg < MIN_POSE_SPREAD_DEG:
            relaxed = None  # cannot happen after the checks above; kept for a hand-edited base
        new = dataclasses.replace(arm, relaxed=relaxed, tpose=ArmPose(flex, abd, elbow), upper_arm_ratio=upper, forearm_ratio=fore)
        out = _with_arm(out, side, new)
    held.check(fraction=True)
    return dataclasses.replace(out, shoulder_width_m=float(np.median(widths)))


STEP_FUNCTIONS: dict[str, Callable[[Iterable[Landmarks], BodyCalibration | None], BodyCalibration]] = {
    "relaxed": calibrate_relaxed,
    "tpose": calibrate_tpose,
}


def _with_arm(body: BodyCalibration, side: Side, arm: ArmCalibration) -> BodyCalibration:
    return dataclasses.replace(body, left=arm) if side == "left" else dataclasses.replace(body, right=arm)


# ---------------------------------------------------------------------------------------------
# TOML table
# ---------------------------------------------------------------------------------------------

_POSE_FIELDS = ("flex_deg", "abd_deg", "elbow_deg")


def body_to_table(body: BodyCalibration, steps: Iterable[str] = ()) -> dict[str, Any]:
    """The ``[body]`` table of a user profile (``store.save_user_section``): per arm
    ``relaxed_*`` and ``tpose_*`` angles in degrees and the two length ratios."""
    table: dict[str, Any] = {}
    if steps:
        table["steps"] = [str(s) for s in steps]
    if body.shoulder_width_m is not None:
        table["shoulder_width_m"] = round(float(body.shoulder_width_m), 4)
    for side in SIDES:
        arm = body.arm(side)
        t: dict[str, Any] = {}
        for name in ("relaxed", "tpose"):
            pose = getattr(arm, name)
            if pose is None:
                continue
            for f in _POSE_FIELDS:
                value = getattr(pose, f)
                if value is not None:
                    t[f"{name}_{f}"] = round(float(value), 3)
        for f in ("upper_arm_ratio", "forearm_ratio"):
            value = getattr(arm, f)
            if value is not None:
                t[f] = round(float(value), 4)
        table[side] = t
    return table


def body_steps(table: dict[str, Any]) -> list[str]:
    """The steps a ``[body]`` table records."""
    steps = table.get("steps")
    if isinstance(steps, list) and all(isinstance(s, str) for s in steps):
        return [s for s in steps if s in BODY_STEPS]
    return []


def parse_body(table: dict[str, Any], where: str) -> BodyCalibration:
    """A ``BodyCalibration`` from a profile's ``[body]`` table (``where``: the file, for the
    messages). Raises ``ConfigError`` like ``FILE: [body.left] tpose_abd_deg must be ...``."""
    width = field_value(table, "shoulder_width_m", float, where, "body", default=None,
                        check=lambda v: 0.05 < v < 2.0, must="a width in metres (0.05-2)")
    arms = {}
    for side in SIDES:
        section = f"body.{side}"
        t = table.get(side, {})
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        poses: dict[str, ArmPose | None] = {}
        for name, abd_range in (("relaxed", RELAXED_ABD_RANGE), ("tpose", TPOSE_ABD_RANGE)):
            present = [f for f in _POSE_FIELDS if f"{name}_{f}" in t]
            if not present:
                poses[name] = None
                continue
            for f in ("flex_deg", "abd_deg"):
                if f"{name}_{f}" not in t:
                    raise ConfigError(f"{where}: [{section}] {name}_{f} is missing (the {name} pose needs flex and abd)")
            flex = field_value(t, f"{name}_flex_deg", float, where, section, check=lambda v: -180.0 <= v <= 180.0,
                               must="an angle in degrees (-180 to 180)")
            lo, hi = abd_range
            abd = field_value(t, f"{name}_abd_deg", float, where, section, check=lambda v, lo=lo, hi=hi: lo <= v <= hi,
                              must=f"an angle in degrees ({lo:g} to {hi:g})")
            elbow = field_value(t, f"{name}_elbow_deg", float, where, section, default=None,
                                check=lambda v: 0.0 <= v < 145.0, must="an angle in degrees (0 to 145)")
            poses[name] = ArmPose(flex, abd, elbow)
        ratio = {"check": lambda v: 0.1 < v < 5.0 and math.isfinite(v), "must": "a length / shoulder width (0.1-5)"}
        upper = field_value(t, "upper_arm_ratio", float, where, section, default=None, **ratio)
        fore = field_value(t, "forearm_ratio", float, where, section, default=None, **ratio)
        relaxed, tpose = poses["relaxed"], poses["tpose"]
        if relaxed is not None and tpose is not None and tpose.abd_deg - relaxed.abd_deg < MIN_POSE_SPREAD_DEG:
            raise ConfigError(
                f"{where}: [{section}] tpose_abd_deg must be at least {MIN_POSE_SPREAD_DEG:g} degrees above relaxed_abd_deg"
            )
        arms[side] = ArmCalibration(relaxed, tpose, upper, fore)
    return BodyCalibration(left=arms["left"], right=arms["right"], shoulder_width_m=width)
