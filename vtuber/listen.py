"""A VMC receiver (Marionette side) for debugging setups: what does a performer really send?

``VmcListener`` owns one UDP socket; ``parse_datagram`` turns a datagram into messages (OSC
bundles are flattened in order, nested bundles included); ``ListenStats`` keeps totals and a
one-second window for the summary line; ``run_listen`` ties them together for ``vtuber listen``.
Anything that is not OSC (garbage, truncated packets, a wrong port) is counted, never fatal.

Record format (``--record FILE``), one JSON object per line:

* ``{"t": 1.234, "from": "127.0.0.1:50123", "address": "/VMC/Ext/Bone/Pos", "args": ["Head", 0.0, ...]}``
  per OSC message, ``t`` seconds since listening started (receive time, monotonic clock);
* ``{"t": 1.240, "from": "...", "garbage": 17}`` for an unparseable datagram of 17 bytes.

Blob arguments are written as hex strings.
"""

from __future__ import annotations

import json
import math
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from vtuber.errors import SourceError

DEFAULT_PORT = 39539
"""The Marionette port of the VMC spec."""
ADDRESS_BONE = "/VMC/Ext/Bone/Pos"
ADDRESS_BLEND = "/VMC/Ext/Blend/Val"
ADDRESS_TIME = "/VMC/Ext/T"
ADDRESS_ROOT = "/VMC/Ext/Root/Pos"
MAX_DATAGRAM = 65535
RECORD_FLUSH_S = 1.0  # a killed listener loses at most about a second of its --record file


@dataclass(frozen=True, slots=True)
class VmcMessage:
    """One OSC message: address and decoded arguments."""

    address: str
    args: tuple[Any, ...]


def parse_datagram(data: bytes) -> list[VmcMessage]:
    """All messages of one OSC datagram, in order. ValueError if it is not OSC."""
    try:
        if OscBundle.dgram_is_bundle(data):
            return _flatten(OscBundle(data))
        if OscMessage.dgram_is_message(data):
            m = OscMessage(data)
            return [VmcMessage(m.address, tuple(m.params))]
    except Exception as exc:
        raise ValueError(f"not an OSC packet ({type(exc).__name__}: {exc})") from exc
    raise ValueError("not an OSC packet (no '/' address and no #bundle header)")


def _flatten(bundle: OscBundle) -> list[VmcMessage]:
    out: list[VmcMessage] = []
    for content in bundle:
        if isinstance(content, OscBundle):
            out.extend(_flatten(content))
        else:
            out.append(VmcMessage(content.address, tuple(content.params)))
    return out


def message_record(message: VmcMessage, t: float, source: str) -> dict[str, Any]:
    """The JSON-able record of one received message: blobs as hex, non-finite floats and OSC
    types JSON has no form for (timetags, MIDI, ...) as strings, so any peer's datagram can be
    written with ``json.dumps(..., allow_nan=False)``."""
    return {"t": round(t, 6), "from": source, "address": message.address, "args": [_json_arg(a) for a in message.args]}


def _json_arg(a: object) -> object:
    if isinstance(a, (bytes, bytearray)):
        return a.hex()
    if isinstance(a, float):
        return a if math.isfinite(a) else repr(a)  # "nan", "inf", "-inf"
    if a is None or isinstance(a, (bool, int, str)):
        return a
    return str(a)


@dataclass
class ListenStats:
    """Totals since start plus a window since the last ``summary``."""

    datagrams: int = 0
    messages: int = 0
    garbage: int = 0
    addresses: Counter[str] = field(default_factory=Counter)
    bones: set[str] = field(default_factory=set)
    blendshapes: dict[str, float] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)
    _window: Counter[str] = field(default_factory=Counter)
    _window_garbage: int = 0
    _window_start: float | None = None

    def add(self, messages: list[VmcMessage], t: float, source: str) -> None:
        if self._window_start is None:
            self._window_start = t
        self.datagrams += 1
        self.messages += len(messages)
        self.sources.add(source)
        for m in messages:
            self.addresses[m.address] += 1
            self._window[m.address] += 1
            if m.address == ADDRESS_BONE and m.args and isinstance(m.args[0], str):
                self.bones.add(m.args[0])
            elif m.address == ADDRESS_BLEND and len(m.args) >= 2 and isinstance(m.args[0], str):
                value = m.args[1]
                if isinstance(value, (int, float)):
                    self.blendshapes[m.args[0]] = float(value)

    def add_garbage(self, t: float) -> None:
        if self._window_start is None:
            self._window_start = t
        self.garbage += 1
        self._window_garbage += 1

    def summary(self, now: float) -> str:
        """One line about the window since the last call (then starts a new window)."""
        span = max(1e-6, now - self._window_start) if self._window_start is not None else 1.0
        window, garbage = self._window, self._window_garbage
        self._window, self._window_garbage, self._window_start = Counter(), 0, now
        if not window and not garbage:
            return f"nothing received ({self.messages} messages, {self.garbage} garbage so far)"
        fps = window.get(ADDRESS_TIME, 0) / span
        rates = ", ".join(f"{a} {n / span:.0f}/s" for a, n in sorted(window.items(), key=lambda kv: -kv[1]))
        top = sorted(self.blendshapes.items(), key=lambda kv: -kv[1])[:3]
        top_text = " ".join(f"{k}={v:.2f}" for k, v in top)
        return (
            f"{fps:.1f} frames/s from {', '.join(sorted(self.sources))} | {sum(window.values()) / span:.0f} msg/s | "
            f"{len(self.bones)} bones, {len(self.blendshapes)} blendshapes{' (' + top_text + ')' if top else ''} | "
            f"{rates} | garbage {garbage} ({self.garbage} total)"
        )


class VmcListener:
    """A bound UDP socket receiving VMC datagrams.

    Raises:
        SourceError: the address cannot be bound (in use by a receiver app, bad host).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except (OSError, OverflowError, TypeError) as exc:
            self._sock.close()
            raise SourceError(
                f"cannot listen for VMC on {host}:{port} ({exc}); close the app using that port or pick --port"
            ) from exc
        self._sock.setblocking(False)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def receive(self, timeout_s: float) -> list[tuple[bytes, str]]:
        """Datagrams waiting now, or the first within ``timeout_s``: ``(data, "ip:port")``."""
        ready, _, _ = select.select([self._sock], [], [], max(0.0, timeout_s))
        out: list[tuple[bytes, str]] = []
        while ready:
            try:
                data, (ip, port) = self._sock.recvfrom(MAX_DATAGRAM)[:2]
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # e.g. ICMP errors surfaced on some platforms
                break
            out.append((data, f"{ip}:{port}"))
        return out

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> VmcListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_listen(
    listener: VmcListener,
    *,
    out: TextIO | None,
    record: TextIO | None = None,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    interval_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> ListenStats:
    """Receive until ``duration_s`` passes or ``stop`` is set; a summary line to ``out`` every
    ``interval_s`` and every message to ``record`` (JSON lines), flushed about every
    ``RECORD_FLUSH_S`` seconds and at the end. Returns the totals."""
    stats = ListenStats()
    start = clock()
    next_line = start + interval_s
    next_flush = start + RECORD_FLUSH_S
    while not (stop is not None and stop.is_set()):
        now = clock()
        if duration_s is not None and now - start >= duration_s:
            break
        wait = min(next_line - now, 0.1 if duration_s is None else max(0.0, start + duration_s - now), 0.1)
        for data, source in listener.receive(wait):
            t = clock() - start
            try:
                messages = parse_datagram(data)
            except ValueError:
                stats.add_garbage(t)
                if record is not None:
                    record.write(json.dumps({"t": round(t, 6), "from": source, "garbage": len(data)}) + "\n")
                continue
            stats.add(messages, t, source)
            if record is not None:
                record.writelines(json.dumps(message_record(m, t, source), allow_nan=False) + "\n" for m in messages)
        now = clock()
        if record is not None and now >= next_flush:
            record.flush()
            next_flush = now + RECORD_FLUSH_S
        if now >= next_line:
            if out is not None:
                out.write(stats.summary(now - start) + "\n")
                out.flush()
            next_line += interval_s * max(1, int((now - next_line) / interval_s) + 1)
    if record is not None:
        record.flush()
    return stats
