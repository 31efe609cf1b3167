"""``vtuber listen``: the VMC receiver library and command over real UDP on 127.0.0.1."""

from __future__ import annotations

import argparse
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from vtuber import geometry
from vtuber.commands import listen as listen_command
from vtuber.errors import SourceError
from vtuber.listen import VmcListener, parse_datagram, run_listen
from vtuber.records import AvatarPose, BoneTransform
from vtuber.retarget import skeleton
from vtuber.send.udp import VmcSender

GARBAGE = [b"", b"hello", b"#bundle\x00\x00\x00", b"/VMC/Ext/Blend/Val\x00\x00,sf\x00Head", b"\xff" * 40]


def frame_pose() -> AvatarPose:
    bones = {n: BoneTransform(geometry.IDENTITY.copy(), skeleton.REST_OFFSETS.get(n)) for n in skeleton.BONES}
    return AvatarPose(0.0, 0, BoneTransform(geometry.IDENTITY.copy(), np.zeros(3)), MappingProxyType(bones),
                      MappingProxyType({"Blink_L": 0.25, "A": 0.5}), tracked=MappingProxyType({"face": True}))


def test_parse_datagram_rejects_garbage() -> None:
    for g in GARBAGE:
        with pytest.raises(ValueError):
            parse_datagram(g)


@contextmanager
def listening(out: io.StringIO, record: io.StringIO, result: dict) -> Iterator[tuple[tuple[str, int], VmcSender, socket.socket]]:
    """A real listener running ``run_listen`` in a thread, with a VMC sender and a raw UDP socket
    aimed at it; on exit the listener stops and its stats land in ``result["stats"]``."""
    stop = threading.Event()
    with VmcListener("127.0.0.1", 0) as listener:
        worker = threading.Thread(target=lambda: result.update(stats=run_listen(listener, out=out, record=record, stop=stop, interval_s=0.5)))
        worker.start()
        with VmcSender([listener.address]) as tx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            yield listener.address, tx, raw
        stop.set()
        worker.join(5.0)
        assert not worker.is_alive()


def test_listener_summarises_and_records_a_performer(tmp_path: Path) -> None:
    out, record, result = io.StringIO(), io.StringIO(), {}
    with listening(out, record, result) as (address, tx, raw):
        pose = frame_pose()
        for i in range(30):
            tx.send(pose, i / 60)
            time.sleep(1 / 60)
        for g in GARBAGE[1:]:
            raw.sendto(g, address)
        time.sleep(0.7)
    stats = result["stats"]
    assert stats.garbage == len(GARBAGE) - 1
    assert stats.bones == set(skeleton.BONES)
    assert stats.blendshapes == {"Blink_L": 0.25, "A": 0.5}
    assert stats.addresses["/VMC/Ext/T"] == 30
    lines = out.getvalue().splitlines()
    assert lines and "frames/s" in lines[0] and "55 bones, 2 blendshapes" in lines[0]
    records = [json.loads(line) for line in record.getvalue().splitlines()]
    heads = [r for r in records if r.get("address") == "/VMC/Ext/Bone/Pos" and r["args"][0] == "Head"]
    assert len(heads) == 30 and len(heads[0]["args"]) == 8
    assert sum(1 for r in records if "garbage" in r) == len(GARBAGE) - 1
    times = [r["t"] for r in records]
    assert times == sorted(times) and times[0] >= 0


def test_listen_command_records_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    parser = argparse.ArgumentParser()
    listen_command.register(parser.add_subparsers())
    rec = tmp_path / "vmc.jsonl"
    args = parser.parse_args(["listen", "--port", str(port), "--record", str(rec), "--duration", "1.5"])
    worker = threading.Thread(target=lambda: args.handler(args))
    worker.start()
    time.sleep(0.3)
    with VmcSender([("127.0.0.1", port)]) as tx:
        for i in range(5):
            tx.send(frame_pose(), i / 60)
    worker.join(5.0)
    assert not worker.is_alive()
    records = [json.loads(line) for line in rec.read_text().splitlines()]
    assert sum(1 for r in records if r["address"] == "/VMC/Ext/T") == 5
    err = capsys.readouterr().err
    assert f"listening for VMC on 127.0.0.1:{port}" in err and "55 bones" in err


def test_port_in_use_is_a_one_line_error() -> None:
    with VmcListener("127.0.0.1", 0) as first:
        with pytest.raises(SourceError, match="cannot listen"):
            VmcListener("127.0.0.1", first.address[1])


def test_odd_osc_arguments_are_recorded_not_fatal() -> None:
    """A peer's timetag, NaN/inf floats and a blob in one datagram: recorded as JSON strings
    (valid JSON: no NaN literals), and the listener keeps going."""
    import struct

    def pad(b: bytes) -> bytes:
        return b + b"\x00" * (-len(b) % 4)

    odd = (pad(b"/VMC/Ext/Odd\x00") + pad(b",tfdbs\x00")
           + struct.pack(">QfdI", (3_900_000_000 << 32) | (1 << 31), float("nan"), float("inf"), 2)
           + pad(b"\x01\x02") + pad(b"x\x00"))  # OSC 1.0 layout, built by hand: python-osc's builder has no timetags
    out, record, result = io.StringIO(), io.StringIO(), {}
    with listening(out, record, result) as (address, tx, raw):
        raw.sendto(odd, address)
        time.sleep(0.1)
        tx.send(frame_pose(), 0.0)
        time.sleep(0.6)
    assert "stats" in result
    records = [json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}")) for line in record.getvalue().splitlines()]
    odd_rec = next(r for r in records if r.get("address") == "/VMC/Ext/Odd")
    assert odd_rec["args"][1:] == ["nan", "inf", "0102", "x"] and isinstance(odd_rec["args"][0], str)
    assert any(r.get("address") == "/VMC/Ext/T" for r in records)  # the next datagram still arrived
