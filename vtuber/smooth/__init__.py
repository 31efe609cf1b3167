"""Smoothing: Rig -> smoothed Rig (One Euro filters, quaternion-safe, hold-then-decay).

``RigSmoother(preset).update(rig)`` is the stage's entry point; the filters are usable alone.
Time is always the records' capture time ``t`` in seconds, never a clock.
"""

from vtuber.smooth.kalman import ConstantVelocityKalman
from vtuber.smooth.one_euro import OneEuroFilter, one_euro_step, smoothing_factor
from vtuber.smooth.presets import (
    BLINK_CHANNELS,
    DEFAULT_PRESET,
    PRESETS,
    OneEuroParams,
    SmoothingPreset,
    get_preset,
)
from vtuber.smooth.quaternion import QuaternionOneEuroFilter, quaternion_one_euro_step
from vtuber.smooth.rig_smoother import RigSmoother, ease_weight

__all__ = [
    "BLINK_CHANNELS",
    "DEFAULT_PRESET",
    "PRESETS",
    "ConstantVelocityKalman",
    "OneEuroFilter",
    "OneEuroParams",
    "QuaternionOneEuroFilter",
    "RigSmoother",
    "SmoothingPreset",
    "ease_weight",
    "get_preset",
    "one_euro_step",
    "quaternion_one_euro_step",
    "smoothing_factor",
]
