"""iFacialMocap, generic OSC (VRChat map) and VMC preset senders over real UDP on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from vtuber import geometry
from vtuber.encode.ifacialmocap import HANDSHAKE, encode_ifacialmocap
from vtuber.errors import SenderError
from vtuber.records import AvatarPose, BoneTransform, HeadPose
from vtuber.retarget import skeleton
from vtuber.send.ifacialmocap import IFacialMocapSender
from vtuber.send.osc_map import OscMapSender
from vtuber.send.vmc_presets import PresetVmcSender

WAIT_S = 3.0
VRCHAT_MAP = Path(__file__).resolve().parents[2] / "avatars" / "osc_vrchat.toml"


def udp_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # a burst of whole frames
    s.bind(("127.0.0.1", 0))
    s.settimeout(WAIT_S)
    return s


def drain(s: socket.socket, quiet_s: float = 0.2) -> list[bytes]:
    out = []
    s.settimeout(quiet_s)
    try:
        while True:
            out.append(s.recv(65535))
    except TimeoutError:
        return out
    finally:
        s.settimeout(WAIT_S)


def full_pose(t: float = 0.0, jaw: float = 0.4) -> AvatarPose:
    head = HeadPose(geometry.from_yaw_pitch_roll(0.2, 0.1, 0.0), np.array([0.0, 0.0, -0.6]))
    bones = {n: BoneTransform(geometry.from_axis_angle((1, 0, 0), 0.01 * i), skeleton.REST_OFFSETS.get(n)) for i, n in enumerate(skeleton.BONES)}
    src = {"jawOpen": jaw, "eyeBlinkLeft": 0.7, "eyeBlinkRight": 0.2, "aa": 0.5, "mouthSmileLeft": 0.3, "eyeLookUpLeft": 0.1}
    return AvatarPose(t, 0, BoneTransform(geometry.IDENTITY.copy(), np.zeros(3)), MappingProxyType(bones),
                      MappingProxyType({"Blink_L": 0.7}), head=head, source_blendshapes=MappingProxyType(src),
                      tracked=MappingProxyType({"face": True}))


def test_ifacialmocap_datagram_reaches_a_receiver() -> None:
    with udp_socket() as rx, IFacialMocapSender([rx.getsockname()]) as tx:
        p = full_pose()
        tx.send(p, 0.0)
        data = rx.recv(65535)
    assert data == encode_ifacialmocap(p)
    text = data.decode("utf-8")
    assert text.startswith("eyeBlink_L-70|") and "|jawOpen-40|" in text and "=head#" in text


def test_ifacialmocap_handshake_adds_the_receiver() -> None:
    with udp_socket() as rx, IFacialMocapSender([], handshake_port=0, handshake_host="127.0.0.1", reply_port=rx.getsockname()[1]) as tx:
        tx.send(full_pose(), 0.0)  # nobody asked yet: nothing sent
        assert tx.targets == []
        rx.sendto(HANDSHAKE + b"|sendDataVersion=v2", tx.handshake_address)
        deadline = time.monotonic() + WAIT_S
        while not tx.targets and time.monotonic() < deadline:
            tx.send(full_pose(), 0.0)
            time.sleep(0.01)
        assert tx.targets == [("127.0.0.1", rx.getsockname()[1])]
        assert rx.recv(65535).startswith(b"eyeBlink_L-")


def test_ifacialmocap_bad_setup_raises_one_line_errors() -> None:
    with pytest.raises(SenderError, match="target"):
        IFacialMocapSender([])
    with udp_socket() as busy, pytest.raises(SenderError, match="cannot be bound"):
        IFacialMocapSender(handshake_port=busy.getsockname()[1], handshake_host="127.0.0.1")


def test_vrchat_osc_map_over_udp() -> None:
    with udp_socket() as rx, OscMapSender(VRCHAT_MAP, targets=[rx.getsockname()]) as tx:
        tx.send(full_pose(0.0, jaw=0.4), 0.0)
        first = {OscMessage(d).address: OscMessage(d).params for d in drain(rx)}
        tx.send(full_pose(0.01, jaw=0.9), 0.01)  # too soon for 20 Hz: nothing
        assert drain(rx, 0.1) == []
        tx.send(full_pose(0.06, jaw=0.9), 0.06)  # due, and only jawOpen-driven ones changed
        second = {OscMessage(d).address: OscMessage(d).params for d in drain(rx)}
    assert first["/avatar/parameters/JawOpen"] == [pytest.approx(0.4)]
    assert first["/avatar/parameters/LeftEyeLid"] == [pytest.approx(0.3)]
    assert first["/avatar/parameters/FaceTracked"] == [True]
    assert set(second) == {"/avatar/parameters/JawOpen", "/avatar/parameters/MouthOpenStep"}
    assert second["/avatar/parameters/MouthOpenStep"] == [4]


def test_osc_map_sender_reports_bad_maps(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[address]]\npath = 'nope'\nsource = 'jawOpen'\n")
    with pytest.raises(SenderError, match="path"):
        OscMapSender(bad)


def _vmc_messages(datagrams: list[bytes]) -> list[tuple[str, list]]:
    out = []
    for d in datagrams:
        assert len(d) <= 1472
        for m in OscBundle(d):
            out.append((m.address, list(m.params)))
    return out


def test_vmc_preset_sender_caps_the_rate_without_blocking() -> None:
    with udp_socket() as rx, PresetVmcSender([rx.getsockname()], preset="vseeface", max_rate_hz=30) as tx:
        p = full_pose()
        start = time.perf_counter()
        for i in range(60):  # one second of a 60 Hz source
            tx.send(p, i / 60)
        elapsed = time.perf_counter() - start
        msgs = _vmc_messages(drain(rx))
    assert sum(1 for a, _ in msgs if a == "/VMC/Ext/T") == 30
    assert tx.rate_cap.skipped == 30
    assert elapsed < 1.0  # skipping, never sleeping
    bones = {args[0] for a, args in msgs if a == "/VMC/Ext/Bone/Pos"}
    assert bones == set(skeleton.BONES)
    blends = {args[0] for a, args in msgs if a == "/VMC/Ext/Blend/Val"}
    assert {"Blink_L", "Blink_R", "A"} <= blends


def test_vmc_warudo_preset_root_faces_backwards_on_the_wire() -> None:
    with udp_socket() as rx, PresetVmcSender([rx.getsockname()], preset="warudo") as tx:
        tx.send(full_pose(), 0.0)
        msgs = _vmc_messages(drain(rx))
    (root,) = [args for a, args in msgs if a == "/VMC/Ext/Root/Pos"]
    _, qy, _, qw = root[4:8]
    # 180 degrees about Y in Unity: (0, +-1, 0, 0).
    assert abs(qy) == pytest.approx(1.0, abs=1e-6) and abs(qw) < 1e-6


def test_vmc_preset_sender_rejects_unknown_presets() -> None:
    with pytest.raises(SenderError, match="unknown preset"):
        PresetVmcSender(preset="obs")


def test_ifacialmocap_handshakes_are_bounded() -> None:
    """A non-loopback listener needs an allow list; a handshake from outside it adds nothing;
    loopback handshakes add at most MAX_HANDSHAKE_TARGETS receivers (not a reflector)."""
    from vtuber.send.ifacialmocap import MAX_HANDSHAKE_TARGETS

    with pytest.raises(SenderError, match="handshake_allow") as info:
        IFacialMocapSender([], handshake_port=0, handshake_host="0.0.0.0")
    assert "\n" not in str(info.value)
    with pytest.raises(SenderError, match="handshake_allow"):
        IFacialMocapSender([], handshake_port=0, handshake_host="0.0.0.0", handshake_allow=["not-a-network"])
    with IFacialMocapSender([], handshake_port=0, handshake_host="0.0.0.0", handshake_allow=["192.0.2.0/24"]) as tx:
        assert tx.handshake_address[0] == "0.0.0.0"
    senders = [udp_socket() for _ in range(MAX_HANDSHAKE_TARGETS + 3)]
    try:
        with IFacialMocapSender([], handshake_port=0, reply_port=40000) as tx:
            assert tx.handshake_address[0] == "127.0.0.1"  # the default
            for s in senders:  # each from its own source port, all on loopback: one host
                s.sendto(HANDSHAKE, tx.handshake_address)
            time.sleep(0.1)
            tx.send(full_pose(), 0.0)
            assert tx.targets == [("127.0.0.1", 40000)]  # one host, one target
    finally:
        for s in senders:
            s.close()


def test_osc_sender_hears_about_a_receiver_that_is_not_listening(caplog: pytest.LogCaptureFixture) -> None:
    """One connected socket per target: the ICMP port-unreachable for a closed port comes back
    as a warning (once), and the receiver is picked up when it appears."""
    caplog.set_level("INFO", logger="vtuber.send.udp")
    with udp_socket() as probe:
        port = probe.getsockname()[1]
    with OscMapSender(VRCHAT_MAP, targets=[("127.0.0.1", port)]) as tx:
        for i in range(10):
            tx.send(full_pose(i * 0.06, jaw=0.1 * (i % 2)), i * 0.06)
            time.sleep(0.01)
        warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
            rx.bind(("127.0.0.1", port))
            got = []
            for i in range(10, 40):  # 1.5 s: recovery is declared after a clean second
                tx.send(full_pose(i * 0.06, jaw=0.1 * (i % 2)), i * 0.06)
                got += drain(rx, 0.05)
        assert got
        assert any("reachable again" in r.getMessage() for r in caplog.records)


def test_vmc_config_overrides_the_presets_names_and_root() -> None:
    """[vmc] profile and root_turn_180 reach the wire: Perfect Sync names to VSeeFace, a VNyan
    "+Z" avatar's root turned 180 degrees; without them the preset's own names and root."""
    from contextlib import ExitStack

    from vtuber.app import build_senders
    from vtuber.config import build_config

    def received(vmc: dict) -> list:
        with udp_socket() as rx, ExitStack() as stack:
            host, port = rx.getsockname()
            config = build_config({"vmc": {"targets": [f"{host}:{port}"], **vmc}, "websocket": {"enabled": False}})
            (tx,) = build_senders(config, stack, "vrm0")
            tx.send(full_pose(), 0.0)
            return _vmc_messages(drain(rx))

    names = lambda msgs: {args[0] for a, args in msgs if a == "/VMC/Ext/Blend/Val"}  # noqa: E731
    root_qy = lambda msgs: next(args for a, args in msgs if a == "/VMC/Ext/Root/Pos")[5]  # noqa: E731
    plain = received({"preset": "vseeface"})
    assert "Blink_L" in names(plain) and "EyeBlinkLeft" not in names(plain)
    assert abs(root_qy(plain)) < 1e-6
    custom = received({"preset": "vnyan", "profile": "perfect_sync", "root_turn_180": True})
    assert {"EyeBlinkLeft", "JawOpen"} <= names(custom)  # Perfect Sync (which also carries the VRM 0.x presets)
    assert abs(root_qy(custom)) == pytest.approx(1.0, abs=1e-6)
