"""VmcSender over real UDP sockets on 127.0.0.1, received by python-osc's own server."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer

from vtuber import conventions, geometry
from vtuber.encode import vmc
from vtuber.errors import SenderError
from vtuber.records import AvatarPose, BoneTransform
from vtuber.retarget import skeleton
from vtuber.send.udp import VmcSender

WAIT_S = 5.0


class Receiver:
    """A python-osc UDP server on an ephemeral port that records every message."""

    def __init__(self, port: int = 0) -> None:
        self.messages: list[tuple[str, list]] = []
        self._lock = threading.Lock()
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._on_message)
        self.server = ThreadingOSCUDPServer(("127.0.0.1", port), dispatcher)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _on_message(self, address: str, *args: object) -> None:
        with self._lock:
            self.messages.append((address, list(args)))

    def wait_for(self, address: str, count: int) -> list[tuple[str, list]]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with self._lock:
                if sum(1 for a, _ in self.messages if a == address) >= count:
                    return list(self.messages)
            time.sleep(0.01)
        raise AssertionError(f"timed out waiting for {count} x {address}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(WAIT_S)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def full_pose(index: int = 0) -> AvatarPose:
    rng = np.random.default_rng(index)
    bones = {n: BoneTransform(geometry.normalize(rng.normal(size=4))) for n in skeleton.BONES}
    blend = {f"shape{i:02d}": float(rng.random()) for i in range(60)}
    return AvatarPose(
        t=index / 30,
        index=index,
        root=BoneTransform(geometry.IDENTITY),
        bones=bones,
        blendshapes=blend,
        tracked={"face": True},
    )


def closed_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_receiver_gets_every_bone_and_blendshape(receiver: Receiver) -> None:
    pose = full_pose()
    with VmcSender([("127.0.0.1", receiver.port)]) as sender:
        sender.send(pose, 1.25)
        messages = receiver.wait_for(vmc.ADDRESS_TIME, 1)
        messages = receiver.wait_for(vmc.ADDRESS_BONE_POS, 55)
        messages = receiver.wait_for(vmc.ADDRESS_BLEND_VAL, 60)
    bones = {args[0]: args[1:] for a, args in messages if a == vmc.ADDRESS_BONE_POS}
    assert set(bones) == set(skeleton.BONES)
    for name, bone in pose.bones.items():
        q = conventions.unity_to_internal_quaternion(bones[name][3:7])
        np.testing.assert_allclose(q, bone.rotation, atol=1e-4, err_msg=name)
    vals = {args[0]: args[1] for a, args in messages if a == vmc.ADDRESS_BLEND_VAL}
    assert vals == pytest.approx(dict(pose.blendshapes), abs=1e-4)
    assert [args for a, args in messages if a == vmc.ADDRESS_BLEND_APPLY] == [[]]
    assert [args for a, args in messages if a == vmc.ADDRESS_OK] == [[1, 3, 0, 1]]
    assert [args for a, args in messages if a == vmc.ADDRESS_TIME] == [[1.25]]


def test_closed_port_target_does_not_raise_and_other_target_still_receives(
    receiver: Receiver,
) -> None:
    with VmcSender([("127.0.0.1", closed_udp_port()), ("127.0.0.1", receiver.port)]) as sender:
        for i in range(5):
            sender.send(full_pose(i), i / 30)
            time.sleep(0.01)  # lets an ICMP port-unreachable come back between frames
        messages = receiver.wait_for(vmc.ADDRESS_TIME, 5)
    assert len([a for a, _ in messages if a == vmc.ADDRESS_TIME]) == 5


def test_failing_target_warns_once_and_never_raises(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # A closed loopback port: ICMP port-unreachable comes back on every other send; one warning.
    closed = closed_udp_port()
    with caplog.at_level(logging.INFO, logger="vtuber.send.udp"):
        with VmcSender([("127.0.0.1", closed), ("127.0.0.1", receiver.port)]) as sender:
            for i in range(10):
                sender.send(full_pose(i), i / 30)
                time.sleep(0.01)
            receiver.wait_for(vmc.ADDRESS_TIME, 5)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"127.0.0.1:{closed}" in warnings[0].getMessage()


def test_receiver_that_is_not_listening_yet_warns_once_then_recovers(caplog: pytest.LogCaptureFixture) -> None:
    # A closed port on loopback: the kernel answers with ICMP port-unreachable, which the
    # connected socket reports as ECONNREFUSED on a later send.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with caplog.at_level(logging.INFO, logger="vtuber.send.udp"):
        with VmcSender([("127.0.0.1", port)]) as sender:
            for i in range(60):  # two seconds of frames at 30 fps with nobody listening
                sender.send(full_pose(i), i / 30)
            assert sender.unreachable == ["127.0.0.1:" + str(port)]
            late = Receiver(port)  # the receiver starts late
            try:
                for i in range(60, 120):
                    sender.send(full_pose(i), i / 30)
                late.wait_for(vmc.ADDRESS_TIME, 5)
                assert sender.unreachable == []
            finally:
                late.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r for r in caplog.records if r.levelno == logging.INFO and "reachable again" in r.getMessage()]
    assert len(warnings) == 1 and len(infos) == 1


@pytest.mark.parametrize(
    "target", [("127.0.0.1", 0), ("127.0.0.1", 70000), ("", 39539), ("127.0.0.1", "x")]
)
def test_invalid_target_raises_sender_error(target: tuple) -> None:
    with pytest.raises(SenderError) as info:
        VmcSender([target])
    assert "\n" not in str(info.value)


def test_default_target_and_close_is_idempotent() -> None:
    sender = VmcSender()
    assert sender.targets == [("127.0.0.1", 39539)]
    sender.close()
    sender.close()
