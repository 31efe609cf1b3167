"""README's first command, end to end: the demo source through real MediaPipe to a real VMC receiver.

The demo renders the astronaut photo on the canonical face mesh with a known head motion; the
Head and Neck rotations a python-osc receiver on 127.0.0.1 gets must follow that motion.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer

from vtuber import conventions, geometry
from vtuber.capture.demo import DemoSource
from vtuber.engine import Engine
from vtuber.retarget.profile import load_profile
from vtuber.send.udp import VmcSender
from vtuber.smooth import RigSmoother
from vtuber.track.mediapipe_adapter import MediaPipeTracker

pytestmark = pytest.mark.mediapipe

FRAMES = 150  # five seconds of demo: most of a yaw period, a blink, a wink-free stretch
ANGLE_TOL_DEG = 5.0  # the acceptance line: direction and magnitude within 5 degrees


class VmcRecorder:
    """A real VMC receiver: collects Neck/Head rotations and blendshapes per /VMC/Ext/T."""

    def __init__(self) -> None:
        self.frames: list[dict[str, object]] = []
        self._current: dict[str, object] = {"bones": {}, "blend": {}}
        self.lock = threading.Lock()
        d = Dispatcher()
        d.map("/VMC/Ext/Bone/Pos", self._bone)
        d.map("/VMC/Ext/Blend/Val", self._blend)
        d.map("/VMC/Ext/T", self._time)
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), d)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _bone(self, _addr: str, name: str, *values: float) -> None:
        with self.lock:
            self._current["bones"][name] = np.array(values[3:7])  # type: ignore[index]

    def _blend(self, _addr: str, name: str, value: float) -> None:
        with self.lock:
            self._current["blend"][name] = value  # type: ignore[index]

    def _time(self, _addr: str, t: float) -> None:
        with self.lock:
            self.frames.append(self._current)
            self._current = {"bones": {}, "blend": {}}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = VmcRecorder()
    yield r
    r.close()


def test_demo_head_motion_arrives_at_a_vmc_receiver(receiver: VmcRecorder) -> None:
    source = DemoSource()
    sent_indices: list[int] = []
    with MediaPipeTracker("face", face_backend="mesh") as tracker, VmcSender([("127.0.0.1", receiver.port)]) as vmc:
        engine = Engine(
            source=source,
            tracker=tracker,
            smoother=RigSmoother("balanced"),
            profile=load_profile("vrm0"),
            senders=[vmc],
            pace=True,
            on_frame=lambda frame, lm, rig, pose: sent_indices.append(pose.index),
        )
        summary = engine.run(max_frames=FRAMES)
    deadline = threading.Event()
    deadline.wait(0.3)  # let the last datagrams land
    assert summary.frames == FRAMES and summary.faces == FRAMES
    frames = receiver.frames
    assert len(frames) == len(sent_indices)  # loopback UDP lost nothing
    errors = []
    truths = []
    for index, received in zip(sent_indices, frames):
        bones = received["bones"]
        neck_u, head_u = bones["Neck"], bones["Head"]
        total = conventions.unity_to_internal_quaternion(geometry.multiply(neck_u, head_u))
        measured = np.degrees(geometry.to_yaw_pitch_roll(total))
        truth_q = source.ground_truth(index).rotation_xyzw
        truth = np.degrees(geometry.to_yaw_pitch_roll(truth_q))
        errors.append(measured - truth)
        truths.append(truth)
        for value in received["blend"].values():
            assert 0.0 <= value <= 1.0
        assert {"Blink_L", "Blink_R", "A"} <= set(received["blend"])
    errors = np.array(errors)[10:]  # after the filters have settled
    truths = np.array(truths)[10:]
    mean_abs = np.abs(errors).mean(axis=0)
    assert mean_abs.max() < ANGLE_TOL_DEG, f"mean abs error yaw/pitch/roll {mean_abs}"
    assert np.abs(errors).max() < 2 * ANGLE_TOL_DEG
    # Direction: the measured yaw swings the same way as the truth across the clip.
    measured_yaw = truths[:, 0] + errors[:, 0]
    assert np.corrcoef(measured_yaw, truths[:, 0])[0, 1] > 0.95
    assert np.ptp(truths[:, 0]) > 30  # the clip really turned the head


class _FailingEverySecondFrame:
    """Fault injection: a sender with a bug that raises on every second frame."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, pose: object, t: float) -> None:
        self.calls += 1
        if self.calls % 2 == 0:
            raise RuntimeError("a sender bug")


def test_a_failing_sender_costs_the_other_outputs_nothing(receiver: VmcRecorder, caplog: pytest.LogCaptureFixture) -> None:
    """The failing sender comes first: the VMC receiver after it still gets every frame, the
    frame callback (recording) runs for every frame, and the failure is logged once per streak."""
    broken = _FailingEverySecondFrame()
    recorded: list[int] = []
    with MediaPipeTracker("face", face_backend="mesh") as tracker, VmcSender([("127.0.0.1", receiver.port)]) as vmc:
        engine = Engine(
            source=DemoSource(),
            tracker=tracker,
            smoother=RigSmoother("balanced"),
            profile=load_profile("vrm0"),
            senders=[broken, vmc],
            pace=False,
            on_frame=lambda frame, lm, rig, pose: recorded.append(pose.index),
        )
        summary = engine.run(max_frames=20)
    threading.Event().wait(0.3)
    assert summary.frames == 20 and len(recorded) == 20 and broken.calls == 20
    assert len(receiver.frames) == 20
    failures = [r for r in caplog.records if "sender _FailingEverySecondFrame failed" in r.getMessage()]
    assert len(failures) == 10  # every failure follows a success: each starts a new streak


class _FailingEveryThirdFrame:
    """Fault injection: a tracker with a bug on every third frame (the rest is real MediaPipe)."""

    def __init__(self, tracker: MediaPipeTracker) -> None:
        self.tracker = tracker
        self.calls = 0

    def track(self, frame):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls % 3 == 0:
            raise RuntimeError("a tracker bug")
        return self.tracker.track(frame)


def test_failed_frames_are_counted_and_the_run_goes_on() -> None:
    with MediaPipeTracker("face", face_backend="mesh") as real:
        engine = Engine(source=DemoSource(), tracker=_FailingEveryThirdFrame(real), smoother=RigSmoother("balanced"),
                        profile=load_profile("vrm0"), senders=[], pace=False)
        summary = engine.run(max_frames=20)
    assert summary.frames == 20 and summary.failed == 9  # 29 frames read, every third failed
    assert summary.ended_by == "frame limit"


def test_a_closed_stderr_does_not_stop_the_run(tmp_path) -> None:
    """The live telemetry line goes to stderr; a reader that went away (closed pipe) used to kill
    the run with BrokenPipeError after the first stats line."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / "x.bvh"
    proc = subprocess.Popen([sys.executable, "-m", "vtuber", "run", "--demo", "--duration", "4", "--no-ws", "--no-vmc",
                             "--no-page", "--record-bvh", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stderr is not None
    proc.stderr.close()  # nobody reads the telemetry
    assert proc.wait(timeout=120) == 0
    text = out.read_text()
    frames = int(text.split("Frames:")[1].split()[0])
    assert frames >= 60  # about 4 s at 30 fps, recorded to the end
