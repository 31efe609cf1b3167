"""The engine: source -> tracker -> solvers -> smoothing -> retarget -> senders, one frame at a time.

Threads: a capture thread keeps only the newest frame (``LatestFrameGrabber``); everything else
runs in the engine thread, in order, so a frame's result is deterministic given its landmarks.
With ``pace=False`` a recorded source is read ahead by a prefetch thread instead (decoding
overlaps tracking), every frame in order, none dropped, as fast as tracking allows. Garbage
collection runs at each frame's end, after its pose is sent (``vtuber.housekeeping``).

Error policy: per-frame trouble is state, not an exception. No face -> ``Rig.head`` None and the
smoother holds then eases the pose; a sender whose receiver is gone logs once and keeps going;
an exception inside a stage for one frame is logged (once per streak) and the frame skipped.
Start-up problems (no camera, unreadable file, missing model, port in use) raise ``VTuberError``
subclasses with one-line messages for the CLI.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from vtuber.capture.base import FrameSource
from vtuber.capture.latest import GrabbedFrame, LatestFrameGrabber, PrefetchReader
from vtuber.housekeeping import FrameGc
from vtuber.records import AvatarPose, Frame, HeadPose, Landmarks, Quaternion, Rig
from vtuber.retarget.profile import AvatarProfile
from vtuber.retarget.retarget import retarget
from vtuber.send.base import Sender
from vtuber.smooth import RigSmoother
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.rig import FaceCalibration, solve_rig
from vtuber.telemetry import Telemetry
from vtuber.track.base import Tracker

logger = logging.getLogger(__name__)

NO_FACE_WARNING_FRAMES = 60  # two seconds at 30 fps without a face before saying so


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did, for the closing line and for tests."""

    frames: int
    faces: int
    elapsed_s: float
    dropped: int
    skipped: int
    ended_by: str
    failed: int = 0
    """Frames a stage raised on (skipped by the error policy, logged once per streak)."""

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0


FrameCallback = Callable[[Frame, Landmarks, Rig, AvatarPose], None]


class Engine:
    """Runs the pipeline until the source ends, ``stop()`` is called, or a limit is hit.

    Args:
        source: where frames come from.
        tracker: landmarks from frames.
        smoother: rig smoothing (stateful, driven by frame timestamps).
        profile: the avatar's blendshape vocabulary.
        senders: outputs; each gets every frame's AvatarPose.
        camera: intrinsics for PnP, or None for the field-of-view default at ``fov_deg``.
        camera_resolver: called once with the first frame's (width, height) when ``camera`` is
            None, to load a calibrated profile for that size (None: use the default).
        calibration: the user's neutral face.
        mirror: selfie view.
        pace: play recorded sources at their own rate (live sources are never paced).
        on_frame: optional observer of every frame's results (recording, tests); must be quick.
    """

    def __init__(
        self,
        *,
        source: FrameSource,
        tracker: Tracker,
        smoother: RigSmoother,
        profile: AvatarProfile,
        senders: Sequence[Sender] = (),
        camera: CameraIntrinsics | None = None,
        camera_resolver: Callable[[tuple[int, int]], CameraIntrinsics | None] | None = None,
        fov_deg: float = 60.0,
        calibration: FaceCalibration = FaceCalibration(),
        mirror: bool = False,
        pace: bool = True,
        on_frame: FrameCallback | None = None,
    ) -> None:
        self.source = source
        self.tracker = tracker
        self.smoother = smoother
        self.profile = profile
        self.senders = list(senders)
        self.camera = camera
        self.camera_resolver = camera_resolver
        self.fov_deg = fov_deg
        self.calibration = calibration
        self.mirror = mirror
        self.pace = pace
        self.on_frame = on_frame
        self.telemetry = Telemetry()
        self.face_state = "searching"
        self._previous_head: HeadPose | None = None
        self._previous_bones: Mapping[str, Quaternion] | None = None
        self._stop = threading.Event()
        self._clock_origin = time.monotonic()
        self._failing_stage: str | None = None
        self._failing_senders: set[int] = set()  # id() of senders whose last send raised
        self._stats_failed = False
        self.failed_frames = 0  # frames a stage raised on
        self._searching_frames = 0
        self._gc = FrameGc()

    # Public API

    def stop(self) -> None:
        """Ask the run loop to finish after the current frame (thread- and signal-safe)."""
        self._stop.set()

    def run(
        self,
        *,
        max_frames: int = 0,
        duration_s: float = 0.0,
        on_stats: Callable[[Engine], None] | None = None,
        stats_interval_s: float = 1.0,
    ) -> RunSummary:
        """Process frames until the source ends, ``stop()``, ``max_frames`` or ``duration_s``."""
        grabber: LatestFrameGrabber | None = None
        prefetch: PrefetchReader | None = None
        if self.source.live or self.pace:
            grabber = LatestFrameGrabber(self.source, paced=self.pace).start()
        else:
            prefetch = PrefetchReader(self.source).start()
        self._gc.start()  # a full collection and freeze (~60 ms): before the clock starts
        start = time.monotonic()
        next_stats = start + stats_interval_s
        ended_by = "source ended"
        try:
            while not self._stop.is_set():
                if max_frames and self.telemetry.frames >= max_frames:
                    ended_by = "frame limit"
                    break
                if duration_s and time.monotonic() - start >= duration_s:
                    ended_by = "time limit"
                    break
                if on_stats is not None and time.monotonic() >= next_stats:
                    self._stats(on_stats)  # also while a live source is retrying (no frames)
                    next_stats = time.monotonic() + stats_interval_s
                if grabber is not None:
                    grabbed = grabber.get(timeout_s=0.5)
                else:
                    try:  # a bounded wait, so a stop request is seen while a slow source decodes
                        grabbed = prefetch.get(timeout_s=0.5)  # type: ignore[union-attr]
                    except TimeoutError:
                        continue
                if grabbed is None:
                    if prefetch is not None and prefetch.error:
                        ended_by = f"source failed: {prefetch.error}"
                    if grabber is not None and not grabber.finished:
                        continue  # a live source is retrying; keep waiting
                    if grabber is not None and grabber.state == "failed":
                        ended_by = f"source failed: {grabber.error}"
                    break
                self.process(grabbed)
            else:
                ended_by = "stopped"
        finally:
            self._gc.stop()
            if grabber is not None:
                grabber.stop()
            if prefetch is not None:
                prefetch.stop()
        return RunSummary(
            frames=self.telemetry.frames,
            faces=self.telemetry.faces,
            elapsed_s=time.monotonic() - start,
            dropped=grabber.dropped if grabber is not None else 0,
            skipped=int(getattr(self.source, "skipped_frames", 0)),
            ended_by=ended_by,
            failed=self.failed_frames,
        )

    def _stats(self, on_stats: Callable[[Engine], None]) -> None:
        """Call the stats callback; its failure (a closed terminal) never stops the engine."""
        try:
            on_stats(self)
        except Exception:  # noqa: BLE001 - a display problem must not end the run
            if not self._stats_failed:
                self._stats_failed = True
                logger.warning("the live telemetry view failed; the engine goes on without it", exc_info=True)

    def process(self, grabbed: GrabbedFrame) -> AvatarPose | None:
        """Run one frame through every stage; returns what was sent (None if a stage failed)."""
        durations: dict[str, float] = {"capture": time.monotonic() - grabbed.available_at}
        frame = grabbed.frame
        try:
            landmarks = self._timed(durations, "track", self.tracker.track, frame)
            cpu_start = time.thread_time()
            rig = self._timed(durations, "solve", self._solve, landmarks)
            smoothed = self._timed(durations, "smooth", self.smoother.update, rig)
            pose = self._timed(durations, "retarget", retarget, smoothed, self.profile, mirror=self.mirror)
            self._timed(durations, "send", self._send, pose)
            sent_at = time.monotonic()
            after_tracking_cpu = time.thread_time() - cpu_start
            self._timed(durations, "housekeeping", self._gc.after_frame)
        except Exception:  # the error policy: one frame lost, the run goes on
            self.failed_frames += 1
            if self._failing_stage is None:
                logger.exception("frame %d failed; skipping it (logged once per failure streak)", frame.index)
            self._failing_stage = "frame"
            self._gc.after_frame()  # automatic GC is off for the run: failed frames collect too
            return None
        self._failing_stage = None
        self._update_face_state(rig)
        self.telemetry.record(durations, sent_at - grabbed.available_at, rig.head is not None, after_tracking_cpu)
        if self.on_frame is not None:
            self.on_frame(frame, landmarks, smoothed, pose)
        return pose

    # Private helpers

    @staticmethod
    def _timed(durations: dict[str, float], stage: str, fn: Callable[..., object], *args: object, **kwargs: object) -> object:
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        durations[stage] = time.perf_counter() - t0
        return result

    def _solve(self, landmarks: Landmarks) -> Rig:
        if self.camera is None:
            resolved = self.camera_resolver(landmarks.image_size) if self.camera_resolver else None
            self.camera = resolved or CameraIntrinsics.from_fov(*landmarks.image_size, self.fov_deg)
        rig = solve_rig(landmarks, self.camera, self.calibration, self._previous_head, self._previous_bones)
        self._previous_head = rig.head
        self._previous_bones = rig.bones
        return rig

    def _send(self, pose: AvatarPose) -> None:
        """Every sender gets the frame: one sender's failure (a bug, an unencodable value) is
        logged once per failure streak and does not cost the others, the recording or telemetry."""
        now = time.monotonic() - self._clock_origin
        for sender in self.senders:
            try:
                sender.send(pose, now)
            except Exception:
                if id(sender) not in self._failing_senders:
                    self._failing_senders.add(id(sender))
                    logger.exception("sender %s failed; the other outputs go on (logged once per failure streak)", type(sender).__name__)
            else:
                if self._failing_senders:
                    self._failing_senders.discard(id(sender))

    def _update_face_state(self, rig: Rig) -> None:
        if self.face_state == "searching" and rig.head is None:
            self._searching_frames += 1
            if self._searching_frames == NO_FACE_WARNING_FRAMES:
                logger.warning("no face in view yet: face the camera in even light, or check --source")
        state = "tracking" if rig.head is not None else ("lost" if self.face_state == "tracking" else self.face_state)
        if state != self.face_state:
            if state == "lost":
                logger.warning("face lost at frame %d: holding the last pose, then easing to neutral", rig.index)
            elif state == "tracking":
                logger.info("face found at frame %d", rig.index)
            self.face_state = state
