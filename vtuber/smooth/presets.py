"""Smoothing presets: One Euro parameters per channel group plus the hold/decay times.

Every group uses One Euro (Casiez et al., CHI 2012) with a low ``min_cutoff_hz`` (little jitter
at rest), a high ``beta`` (a real movement opens the filter within a frame or two) and a
``speed_floor`` just above the speed that tracker noise alone produces, so noise does not open
the filter (see ``vtuber.smooth.one_euro``). ``none`` is a pass-through.

Tuned by measurement with ``bench/smoothing_tune.py`` (seeded synthetic noise through
``RigSmoother.update``). Assumed per-frame white noise of MediaPipe FaceLandmarker on a static
face: head rotation 0.4 degree std per axis (0.3 and 0.5 shown too), head position 2 mm,
blendshape weights 0.02, bone rotations 1 degree. Columns: head jitter = worst-axis std of
yaw/pitch/roll in degrees over 29 s, mean of 3 seeds (single 20 s windows vary by about
+-20%); f90 = frames, counting the first frame of the step, until a 20 degree
yaw step reaches 18 degrees (noiseless / median of 5 noisy runs at 0.5 degree); sway = RMS
error in degrees following a 1 Hz +-15 degree yaw (lag); pos = jitter mm / frames to 90% of a
5 cm step; bs = jawOpen jitter / frames to 90% of a 0 -> 0.6 step; blink = peak of a noisy
150 ms blink (it reaches 90% on the same frame as the raw signal); bone = jitter degrees /
frames to 90% of a 30 degree turn (20 -> 50 degrees).

=========== === ============================ ======= ===== ========= ========= ===== ==========
preset      fps head jitter deg @0.3/0.4/0.5  f90     sway  pos       bs        blink bone
=========== === ============================ ======= ===== ========= ========= ===== ==========
responsive   30 0.094 / 0.129 / 0.184          1 / 1  0.62  0.85 / 3  .0068 / 2 0.99  0.32 / 1
balanced     30 0.050 / 0.066 / 0.083          2 / 2  1.33  0.76 / 3  .0048 / 2 0.99  0.14 / 2
smooth       30 0.033 / 0.044 / 0.055          3 / 3  2.74  0.50 / 5  .0038 / 4 0.99  0.06 / 2
responsive   60 0.074 / 0.133 / 0.207          1 / 1  0.49  0.65 / 3  .0060 / 3 1.00  0.22 / 2
balanced     60 0.035 / 0.047 / 0.061          2 / 2  0.97  0.59 / 3  .0048 / 3 1.00  0.07 / 2
smooth       60 0.028 / 0.037 / 0.046          3 / 3  1.96  0.37 / 6  .0022 / 5 1.00  0.05 / 3
=========== === ============================ ======= ===== ========= ========= ===== ==========

Targets: ``balanced`` static jitter <= 0.1 degree (met at 0.3-0.4 degree input noise and, on
the mean, at 0.5; a single 20 s window at 0.5 can reach ~0.11) and ``responsive`` 20 degree
step at 90% within 2 frames at 30 fps (met in 1). At 60 fps with the same per-frame noise the
jitter is lower and steps take the same number of frames (half the time), except
``responsive`` at >= 0.4 degree noise, whose jitter grows: noise-driven speed doubles at 60 fps
and crosses its low speed floor. For reference, in a grid search (min_cutoff 0.05-1.5 Hz,
beta 0.5-32/rad, d_cutoff 0.5-4 Hz) the published filter without a speed floor could not meet
both head targets at once: (0.1 Hz, 3/rad, 1 Hz) gives 0.092 degree jitter at 0.4 degree noise
but 3 frames to 90%, and every setting reaching 2 frames jittered >= 0.11 degree.
Per-update cost (head + 60 blendshapes + 10 bones, balanced, this 2-core machine idle; ``cost_ms``
in bench/smoothing_tune.py, best of 3, 2026-11-25): 0.07 ms tracked, 0.20 ms with the face lost
(hold/decay path, the batched numpy step); more when the cores are shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from vtuber.errors import ConfigError

__all__ = [
    "BLINK_CHANNELS",
    "DEFAULT_PRESET",
    "PRESETS",
    "OneEuroParams",
    "SmoothingPreset",
    "get_preset",
]

BLINK_CHANNELS: frozenset[str] = frozenset({"eyeBlinkLeft", "eyeBlinkRight"})
"""Blendshapes that use the preset's ``blinks`` parameters (a blink lasts ~100-150 ms)."""


@dataclass(frozen=True, slots=True)
class OneEuroParams:
    """One Euro parameters (see ``vtuber.smooth.one_euro``) in the channel group's units.

    Attributes:
        min_cutoff_hz: cutoff at rest, Hz.
        beta: extra cutoff in Hz per unit/s of speed (1/rad for rotations, 1/m for positions,
            dimensionless for blendshape weights).
        d_cutoff_hz: cutoff of the speed estimate, Hz.
        speed_floor: speed (rad/s, m/s or 1/s) below which ``beta`` adds nothing.
    """

    min_cutoff_hz: float
    beta: float
    d_cutoff_hz: float = 1.0
    speed_floor: float = 0.0


@dataclass(frozen=True, slots=True)
class SmoothingPreset:
    """A full smoother setting.

    Attributes:
        name: the preset's name.
        head_rotation: head rotation filter, radians.
        head_position: head position filter, metres.
        blendshapes: every blendshape except ``BLINK_CHANNELS``, weights in [0, 1].
        blinks: ``BLINK_CHANNELS``.
        bones: every bone rotation, radians.
        hold_s: seconds a lost channel keeps its last smoothed value.
        decay_s: seconds it then takes to ease (smoothstep) to neutral.
        passthrough: when True the smoother returns its input untouched (``none``).
    """

    name: str
    head_rotation: OneEuroParams
    head_position: OneEuroParams
    blendshapes: OneEuroParams
    blinks: OneEuroParams
    bones: OneEuroParams
    hold_s: float = 0.4
    decay_s: float = 0.6
    passthrough: bool = False

    def __post_init__(self) -> None:
        if not (self.hold_s >= 0.0 and self.decay_s >= 0.0):
            raise ConfigError(
                f"smoothing preset {self.name!r}: hold_s and decay_s must be >= 0 seconds"
            )


_RESPONSIVE = SmoothingPreset(
    name="responsive",
    # 1 Hz at rest for the least sway lag; beta 20/rad, d_cutoff 3 Hz: a step lands in 1 frame.
    head_rotation=OneEuroParams(1.0, 20.0, 3.0, 0.3),
    # 2 mm noise -> 0.85 mm; floor 1 cm/s sits above the noise-driven speed of 2 mm noise.
    head_position=OneEuroParams(1.0, 20.0, 2.0, 0.01),
    # 0.02 noise -> 0.007; a 0 -> 0.6 step in 2 frames (weights move at several /s).
    blendshapes=OneEuroParams(2.0, 2.0, 2.0, 0.3),
    # a 150 ms blink keeps its full depth and timing (blinks reach ~20 /s).
    blinks=OneEuroParams(5.0, 5.0, 4.0, 0.3),
    # 1 degree noise -> 0.32 degree; 30 degree turn in 1 frame; floor 0.6 rad/s ~ noise speed.
    bones=OneEuroParams(1.0, 10.0, 3.0, 0.6),
    hold_s=0.3,  # bridges a 9-frame dropout at 30 fps before easing
    decay_s=0.5,  # back to neutral quickly: a responsive avatar should not look frozen
)

_BALANCED = SmoothingPreset(
    name="balanced",
    # 0.25 Hz at rest: ~0.07 degree jitter (target 0.1); floor 0.6 rad/s keeps noise (~0.2 rad/s
    # filtered, tails to ~0.5) from opening it; beta 12/rad still lands a 20 degree step in 2 frames.
    head_rotation=OneEuroParams(0.25, 12.0, 2.0, 0.6),
    # 2 mm noise -> 0.76 mm, a 5 cm step in 3 frames.
    head_position=OneEuroParams(0.5, 20.0, 2.0, 0.01),
    # 0.02 noise -> 0.005 at rest, a 0 -> 0.6 step still in 2 frames.
    blendshapes=OneEuroParams(1.0, 2.0, 2.0, 0.3),
    # faster rest cutoff than other shapes so half-blinks are not flattened.
    blinks=OneEuroParams(3.0, 5.0, 4.0, 0.3),
    # 1 degree noise -> 0.14 degree; floor 1 rad/s above hand-noise speed; turn in 2 frames.
    bones=OneEuroParams(0.5, 10.0, 2.0, 1.0),
    hold_s=0.4,  # bridges typical dropouts (a hand passing over the face) without a visible pop
    decay_s=0.6,  # slow enough to read as relaxing, not snapping
)

_SMOOTH = SmoothingPreset(
    name="smooth",
    # 0.1 Hz at rest: 0.042 degree jitter; costs lag (2.7 degree RMS on a 1 Hz sway).
    head_rotation=OneEuroParams(0.1, 6.0, 1.0, 0.6),
    # 2 mm noise -> 0.5 mm, a 5 cm step in 5 frames.
    head_position=OneEuroParams(0.2, 10.0, 1.0, 0.01),
    # 0.02 noise -> 0.004, a 0 -> 0.6 step in 4 frames.
    blendshapes=OneEuroParams(0.5, 1.0, 1.0, 0.3),
    # blinks stay fast even here: a smoothed-away blink reads as a tracking failure.
    blinks=OneEuroParams(2.0, 5.0, 4.0, 0.3),
    # 1 degree noise -> 0.06 degree, a 30 degree turn in 2-3 frames.
    bones=OneEuroParams(0.2, 6.0, 1.0, 1.0),
    hold_s=0.6,  # streaming use: ride out longer dropouts
    decay_s=1.0,  # a slow, calm return to neutral
)

_UNUSED = OneEuroParams(1000.0, 0.0)  # never read: a pass-through preset filters nothing

_NONE = SmoothingPreset(
    name="none",
    head_rotation=_UNUSED,
    head_position=_UNUSED,
    blendshapes=_UNUSED,
    blinks=_UNUSED,
    bones=_UNUSED,
    hold_s=0.0,
    decay_s=0.0,
    passthrough=True,
)

PRESETS: Mapping[str, SmoothingPreset] = MappingProxyType(
    {p.name: p for p in (_RESPONSIVE, _BALANCED, _SMOOTH, _NONE)}
)

DEFAULT_PRESET = "balanced"


def get_preset(name: str) -> SmoothingPreset:
    """The preset called ``name``; ConfigError naming the choices for an unknown one."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown smoothing preset {name!r}: choose one of {', '.join(PRESETS)}"
        ) from None
