"""Generic OSC address map: golden OSC 1.0 bytes, value mapping, rate limit, send-on-change,
and the VRChat example map against VRChat's documented rules (/avatar/parameters/<Name>,
float -1..1, int 0..255, bool)."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage

from vtuber import geometry
from vtuber.encode.osc_map import (
    OscMapEncoder,
    load_osc_map,
    osc_message,
    parse_osc_map,
    source_value,
)
from vtuber.errors import ConfigError
from vtuber.records import AvatarPose, BoneTransform, HeadPose

ROOT = BoneTransform(rotation=geometry.IDENTITY.copy(), position=np.zeros(3))
VRCHAT_MAP = Path(__file__).resolve().parents[2] / "avatars" / "osc_vrchat.toml"


def pose(bs: dict[str, float], head: HeadPose | None = None, tracked: dict | None = None, profile: dict | None = None) -> AvatarPose:
    return AvatarPose(0.0, 0, ROOT, MappingProxyType({}), MappingProxyType(profile or {}), head=head,
                      source_blendshapes=MappingProxyType(bs), tracked=MappingProxyType(tracked or {}))


def one(path: str = "/avatar/parameters/JawOpen", **fields: object) -> dict:
    return {"address": [{"path": path, "source": "jawOpen", **fields}]}


def test_float_message_golden_bytes() -> None:
    # "/a/b" + NUL -> 8 bytes; ",f" + NULs -> 4 bytes; 0.5 as big-endian float32.
    assert osc_message("/a/b", 0.5) == b"/a/b\x00\x00\x00\x00,f\x00\x00" + b"\x3f\x00\x00\x00"


def test_int_and_bool_golden_bytes() -> None:
    assert osc_message("/x", 3) == b"/x\x00\x00,i\x00\x00\x00\x00\x00\x03"
    assert osc_message("/x", True) == b"/x\x00\x00,T\x00\x00"
    assert osc_message("/x", False) == b"/x\x00\x00,F\x00\x00"


def test_python_osc_reads_our_messages() -> None:
    m = OscMessage(osc_message("/avatar/parameters/JawOpen", 0.25))
    assert (m.address, m.params) == ("/avatar/parameters/JawOpen", [0.25])


def test_range_maps_onto_output_and_clamps() -> None:
    enc = OscMapEncoder(parse_osc_map({"address": [{"path": "/p", "source": "head.yaw", "range": [-45, 45], "output": [-1, 1]}]}))
    head = HeadPose(geometry.from_axis_angle((0, 1, 0), math.radians(22.5)), np.zeros(3))
    (msg,) = enc.encode(pose({}, head), 0.0)
    assert OscMessage(msg).params[0] == pytest.approx(0.5)
    enc.reset()
    head = HeadPose(geometry.from_axis_angle((0, 1, 0), math.radians(80)), np.zeros(3))
    assert OscMessage(enc.encode(pose({}, head), 0.0)[0]).params[0] == pytest.approx(1.0)


def test_bool_and_int_types() -> None:
    m = parse_osc_map({"address": [
        {"path": "/b", "source": "jawOpen", "type": "bool", "threshold": 0.3},
        {"path": "/i", "source": "jawOpen", "type": "int", "output": [0, 255]},
    ]})
    msgs = OscMapEncoder(m).encode(pose({"jawOpen": 0.5}), 0.0)
    assert [OscMessage(x).params for x in msgs] == [[True], [128]]


def test_rate_limit_per_address_with_time_passed_in() -> None:
    enc = OscMapEncoder(parse_osc_map(one(rate_hz=10)))
    sent = [t for t in np.arange(0, 1.0, 1 / 60) if enc.encode(pose({"jawOpen": t}), float(t))]
    assert len(sent) == 10  # every 0.1 s although the value changes every frame
    assert np.diff(sent) == pytest.approx(0.1, abs=1 / 60)


def test_send_on_change_and_keepalive() -> None:
    enc = OscMapEncoder(parse_osc_map(one(min_change=0.05, keepalive_s=1.0)))
    assert enc.encode(pose({"jawOpen": 0.5}), 0.0)
    assert not enc.encode(pose({"jawOpen": 0.52}), 0.1)  # moved less than min_change
    assert enc.encode(pose({"jawOpen": 0.6}), 0.2)
    assert not enc.encode(pose({"jawOpen": 0.6}), 0.5)
    assert enc.encode(pose({"jawOpen": 0.6}), 1.2)  # keep-alive after 1 s unchanged


def test_missing_sources_send_nothing() -> None:
    enc = OscMapEncoder(parse_osc_map({"address": [{"path": "/h", "source": "head.pitch"}, {"path": "/j", "source": "jawOpen"}]}))
    assert enc.encode(pose({}), 0.0) == []


def test_sources() -> None:
    head = HeadPose(geometry.IDENTITY.copy(), np.array([0.1, 0.2, -0.6]))
    p = pose({"jawOpen": 0.4}, head, tracked={"face": True}, profile={"Blink_L": 0.7})
    assert source_value(p, "jawOpen") == 0.4
    assert source_value(p, "Blink_L") == 0.7
    assert source_value(p, "head.z") == pytest.approx(-0.6)
    assert source_value(p, "tracked.face") == 1.0
    assert source_value(p, "tracked.left_hand") == 0.0
    assert source_value(p, "nope") is None


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({}, "at least one"),
        (one(path="avatar/x"), "path"),
        (one(type="double"), "type"),
        (one(range=[1, 1]), "range"),
        (one(rate_hz=-1), "rate_hz"),
        ({"address": [{"path": "/a", "source": "head.tilt"}]}, "head.yaw"),
        ({"address": [{"path": "/a", "source": "x"}, {"path": "/a", "source": "y"}]}, "duplicate"),
        ({**one(), "port": 70000}, "port"),
        (one(type="int", output=[0, 3_000_000_000]), "int32"),
        (one(output=[0, 1e39]), "float32"),
    ],
)
def test_invalid_maps_name_the_field(doc: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_osc_map(doc)


def test_vrchat_example_follows_vrchats_rules() -> None:
    m = load_osc_map(VRCHAT_MAP)
    assert (m.host, m.port) == ("127.0.0.1", 9000)
    assert m.addresses
    for a in m.addresses:
        assert a.path.startswith("/avatar/parameters/") and "/" not in a.path[len("/avatar/parameters/"):]
        lo, hi = sorted(a.output)
        if a.type == "float":
            assert -1.0 <= lo and hi <= 1.0, a.path
        elif a.type == "int":
            assert 0 <= lo and hi <= 255, a.path
    # Every value the map produces for an extreme and a neutral face stays in range.
    channels = {a.source for a in m.addresses if "." not in a.source}
    channels |= {"eyeLookUpLeft", "eyeLookUpRight", "eyeLookDownLeft", "eyeLookDownRight"}  # gaze.y's inputs
    for bs, q in (({n: 0.0 for n in channels}, geometry.IDENTITY), ({n: 1.0 for n in channels}, geometry.from_yaw_pitch_roll(1.5, -1.0, 0.3))):
        msgs = OscMapEncoder(m).encode(pose(bs, HeadPose(np.asarray(q), np.zeros(3)), tracked={"face": True}), 0.0)
        assert len(msgs) == len(m.addresses)
        for raw in msgs:
            msg = OscMessage(raw)
            (value,) = msg.params
            if isinstance(value, bool):
                continue
            if isinstance(value, int):
                assert 0 <= value <= 255
            else:
                assert -1.0 <= value <= 1.0


def test_float32_on_the_wire() -> None:
    raw = osc_message("/p", 0.1)
    assert raw[-4:] == struct.pack(">f", 0.1)


def test_gaze_y_is_signed_for_vrchats_eyes_y() -> None:
    """VRChat's EyesY is -1..1 (up +): looking down must send a negative value, not 0."""
    m = load_osc_map(VRCHAT_MAP)
    eyes_y = next(a for a in m.addresses if a.path == "/avatar/parameters/EyesY")
    down = {"eyeLookUpLeft": 0.0, "eyeLookUpRight": 0.0, "eyeLookDownLeft": 0.6, "eyeLookDownRight": 0.4}
    up = {"eyeLookUpLeft": 0.8, "eyeLookUpRight": 0.8, "eyeLookDownLeft": 0.0, "eyeLookDownRight": 0.0}
    for shapes, expected in ((down, -0.5), (up, 0.8)):
        raw = source_value(pose(shapes), eyes_y.source)
        assert raw == pytest.approx(expected)
        assert eyes_y.value(raw) == pytest.approx(expected)
    with pytest.raises(ConfigError, match="gaze.y"):
        parse_osc_map(one(source="gaze.x"))
