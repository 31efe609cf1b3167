"""The built-in demo source: a synthetic face with a known, deterministic motion.

``vtuber run --demo`` needs no camera and no download: frames are rendered from
``skimage.data.astronaut()`` by ``vtuber.synth.face_render``. Because the motion is a pure
function of time (``demo_motion``), every frame's ground truth is known exactly
(``DemoSource.ground_truth``), which makes the demo a smoke test for the whole pipeline.

Conventions: ``t`` in seconds (stream time, ``index / fps``); head angles in degrees in the
internal frame (``R = Ry(yaw) Rx(pitch) Rz(roll)``; positive yaw turns the face toward the
subject's left = the image right, positive pitch tips the face down, positive roll moves the top
of the head toward the subject's right = the image left); eye closure and jaw opening in [0, 1];
"left"/"right" are the subject's own sides.
"""

from __future__ import annotations

import math
from typing import Self

from vtuber.records import Frame
from vtuber.synth.face_render import (
    DEFAULT_DISTANCE_M,
    DEFAULT_HEIGHT_M,
    CameraIntrinsics,
    FaceRenderer,
    FaceState,
)

DEMO_FPS = 30.0  # the common webcam rate, so downstream filters see realistic frame spacing
DEMO_SIZE = 480  # square frames: the astronaut photo is square; 480 keeps rendering ~5 ms
DEMO_CYCLE_S = 12.0  # the whole motion repeats exactly every 12 s (LCM of the periods below)

YAW_AMPLITUDE_DEG = 25.0  # a natural look-around, inside what face trackers follow reliably
YAW_PERIOD_S = 6.0
PITCH_AMPLITUDE_DEG = 12.0  # nodding is smaller than turning in real use
PITCH_PERIOD_S = 4.0
ROLL_AMPLITUDE_DEG = 10.0
ROLL_PERIOD_S = 12.0

BLINK_PERIOD_S = 3.0  # people blink every 2-5 s
BLINK_START_S = 1.0  # phase of the blink inside each period
BLINK_DURATION_S = 0.25  # a spontaneous blink lasts 0.1-0.4 s
WINK_DURATION_S = 0.6  # a deliberate wink is held longer than a blink
WINK_LEFT_START_S = 5.0  # inside the 12 s cycle; clear of every blink (t mod 3 = 2.0-2.6)
WINK_RIGHT_START_S = 11.0
MOUTH_OPEN_STARTS_S = (2.0, 8.0)  # two open-close gestures per cycle
MOUTH_OPEN_DURATION_S = 2.0
MOUTH_OPEN_MAX = 0.8  # a clear "ah", short of the renderer's widest jaw
SWAY_AMPLITUDE_M = 0.01  # the head drifts 1 cm sideways, as a seated person does


def _pulse(t: float, start: float, duration: float) -> float:
    """0 outside ``[start, start + duration]``; inside, a flat-topped bump reaching 1.

    ``min(1, 1.6 sin(pi u))`` closes fast, holds about 40 % of the time, reopens fast.
    """
    u = (t - start) / duration
    if u <= 0.0 or u >= 1.0:
        return 0.0
    return min(1.0, 1.6 * math.sin(math.pi * u))


def demo_motion(t: float) -> FaceState:
    """The demo's exact face state at stream time ``t`` (seconds). Pure and periodic
    (``DEMO_CYCLE_S``); negative ``t`` is folded into the cycle too.

    * yaw ``25 sin(2 pi t / 6)`` degrees, pitch ``12 sin(2 pi t / 4)``, roll
      ``10 sin(2 pi t / 12)``;
    * both eyes blink for 0.25 s every 3 s (starting at t = 1 s);
    * the left eye winks at t = 5 s and the right eye at t = 11 s of each cycle, 0.6 s each;
    * the jaw opens to 0.8 and closes again over 2 s at t = 2 s and t = 8 s of each cycle;
    * the head sways +-1 cm sideways with the yaw period, at 0.55 m from the camera.
    """
    tc = math.fmod(t, DEMO_CYCLE_S)
    if tc < 0.0:
        tc += DEMO_CYCLE_S
    two_pi = 2.0 * math.pi
    yaw = YAW_AMPLITUDE_DEG * math.sin(two_pi * tc / YAW_PERIOD_S)
    pitch = PITCH_AMPLITUDE_DEG * math.sin(two_pi * tc / PITCH_PERIOD_S)
    roll = ROLL_AMPLITUDE_DEG * math.sin(two_pi * tc / ROLL_PERIOD_S)

    blink = _pulse(math.fmod(tc, BLINK_PERIOD_S), BLINK_START_S, BLINK_DURATION_S)
    left = max(blink, _pulse(tc, WINK_LEFT_START_S, WINK_DURATION_S))
    right = max(blink, _pulse(tc, WINK_RIGHT_START_S, WINK_DURATION_S))

    jaw = 0.0
    for start in MOUTH_OPEN_STARTS_S:
        u = (tc - start) / MOUTH_OPEN_DURATION_S
        if 0.0 < u < 1.0:
            jaw = MOUTH_OPEN_MAX * 0.5 * (1.0 - math.cos(two_pi * u))

    x = SWAY_AMPLITUDE_M * math.sin(two_pi * tc / YAW_PERIOD_S + 1.0)
    return FaceState.from_angles(
        yaw,
        pitch,
        roll,
        position_m=(x, DEFAULT_HEIGHT_M, -DEFAULT_DISTANCE_M),
        eye_closed_left=left,
        eye_closed_right=right,
        jaw_open=jaw,
    )


DEMO_FOV_DEG = 60.0
"""The demo camera's horizontal view angle: the engine's default assumption (``[camera]
horizontal_fov_deg``), so an uncalibrated run solves the demo with its true camera (at 50 deg
the solved head depth was 17 % short)."""


class DemoSource:
    """A ``FrameSource`` of the rendered demo face (recorded: ``live`` is False, ``t`` is stream
    time ``index / fps``, and the engine paces it against the wall clock).

    Args:
        duration_s: stop after this many seconds of stream time (``read`` then returns None);
            None loops forever (the motion itself repeats every ``DEMO_CYCLE_S``).
        fps: frames per second of stream time.
        size: (width, height) in pixels.
        horizontal_fov_deg: the virtual camera's horizontal field of view in degrees.
        renderer: the face renderer; the astronaut renderer when None (built on first use, so
            constructing a source is cheap).

    Deterministic: the same arguments give the same frames, byte for byte.
    """

    live = False

    def __init__(
        self,
        duration_s: float | None = None,
        fps: float = DEMO_FPS,
        size: tuple[int, int] = (DEMO_SIZE, DEMO_SIZE),
        horizontal_fov_deg: float = DEMO_FOV_DEG,
        renderer: FaceRenderer | None = None,
    ) -> None:
        if fps <= 0.0 or not math.isfinite(fps):
            raise ValueError(f"fps must be positive, got {fps}")
        if duration_s is not None and duration_s < 0.0:
            raise ValueError(f"duration_s must be >= 0 or None, got {duration_s}")
        self.nominal_fps: float | None = float(fps)
        self.duration_s = duration_s
        self.camera = CameraIntrinsics.from_fov(int(size[0]), int(size[1]), horizontal_fov_deg)
        self.name = f"demo {self.camera.width}x{self.camera.height}@{fps:g}"
        self._renderer = renderer
        self._index = 0
        self._closed = False
        self.frame_count: int | None = (
            None if duration_s is None else math.floor(duration_s * fps + 1e-9)
        )

    @property
    def renderer(self) -> FaceRenderer:
        """The face renderer (built on first use)."""
        if self._renderer is None:
            self._renderer = FaceRenderer.astronaut()
        return self._renderer

    def time_of(self, index: int) -> float:
        """Stream time in seconds of frame ``index``."""
        return index / float(self.nominal_fps or DEMO_FPS)

    def ground_truth(self, index: int) -> FaceState:
        """The exact face state rendered in frame ``index``."""
        return demo_motion(self.time_of(index))

    def render(self, index: int) -> Frame:
        """Frame ``index`` (random access; does not move the read position)."""
        image = self.renderer.render(self.ground_truth(index), self.camera)
        return Frame(image=image, t=self.time_of(index), index=index)

    def read(self) -> Frame | None:
        """The next frame, or None after ``duration_s`` or after ``close``."""
        if self._closed:
            return None
        if self.frame_count is not None and self._index >= self.frame_count:
            return None
        frame = self.render(self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        """Stop the stream (safe to call twice)."""
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
