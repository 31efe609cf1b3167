"""Generic OSC over UDP through an address map (``vtuber.encode.osc_map``), e.g. VRChat on 9000.

``UdpTargets`` is the small non-blocking datagram fan-out shared by this sender and the
iFacialMocap one: one connected socket per target (so a receiver that is not listening is
heard about), never raises per frame, logs a target once when it starts failing and once when it
recovers, and counts datagrams the kernel could not take (``EAGAIN``/``ENOBUFS``).
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from vtuber.encode.osc_map import OscMap, OscMapEncoder, load_osc_map
from vtuber.errors import ConfigError, SenderError
from vtuber.records import AvatarPose
from vtuber.send.udp import RECOVERY_S

logger = logging.getLogger(__name__)

Target = tuple[str, int]
_WOULD_BLOCK = {errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS}


class UdpTargets:
    """Non-blocking IPv4 UDP datagram fan-out to ``(host, port)`` targets, one *connected* socket
    per target: on Linux only a connected UDP socket hears the ICMP "port unreachable" a host
    sends back when nothing listens, so a missing receiver is reported (once) instead of
    swallowed, and its recovery is noticed too.

    Args:
        targets: receivers; host names are resolved once, here.
        what: the output's name in log lines and errors ("OSC", "iFacialMocap").

    Raises:
        SenderError: no target, a port outside 1-65535 or a host that does not resolve.
    """

    def __init__(self, targets: Sequence[Target], what: str, *, allow_empty: bool = False) -> None:
        if not targets and not allow_empty:
            raise SenderError(f"{what} sender needs at least one target host:port")
        self._what = what
        self._socks: dict[Target, socket.socket] | None = {}
        self._failing: dict[Target, bool] = {}
        self._connected: dict[Target, bool] = {}
        self._last_error: dict[Target, float] = {}  # monotonic s of the last error per target
        self.dropped_datagrams = 0
        self.sent_datagrams = 0
        try:
            for t in targets:
                self.add(resolve_target(t, what))
        except BaseException:
            self.close()
            raise

    @property
    def targets(self) -> list[Target]:
        return [] if self._socks is None else list(self._socks)

    def add(self, target: Target) -> None:
        """Add a resolved target (no-op if present)."""
        if self._socks is None:
            raise RuntimeError(f"{self._what} sender used after close()")
        if target in self._socks:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)  # a LAN broadcast target (x.x.x.255) is allowed
        self._socks[target] = sock
        self._failing[target] = False
        self._last_error[target] = float("-inf")
        self._connected[target] = self._connect(target)

    def send(self, datagrams: Iterable[bytes]) -> None:
        """Send every datagram to every target; never raises on I/O."""
        if self._socks is None:
            raise RuntimeError(f"{self._what} sender used after close()")
        batch = list(datagrams)
        for target, sock in self._socks.items():
            if not self._connected[target]:
                self._connected[target] = self._connect(target)
                if not self._connected[target]:
                    continue
            for data in batch:
                try:
                    sock.send(data)
                    self.sent_datagrams += 1
                except OSError as exc:
                    if exc.errno in _WOULD_BLOCK:
                        self.dropped_datagrams += 1
                        continue
                    self._mark_failing(target, exc)
                    break
            else:
                # ICMP errors come back on alternate sends: recovered after a clean RECOVERY_S
                if self._failing[target] and batch and time.monotonic() - self._last_error[target] >= RECOVERY_S:
                    self._failing[target] = False
                    logger.info("%s target %s:%d reachable again", self._what, *target)

    def close(self) -> None:
        if self._socks is not None:
            for sock in self._socks.values():
                sock.close()
            self._socks = None

    def _connect(self, target: Target) -> bool:
        """Connect ``target``'s socket (UDP: no packet, it only fixes the peer and the route)."""
        assert self._socks is not None
        try:
            self._socks[target].connect(target)
            return True
        except OSError as exc:  # no route now: retried every frame
            self._mark_failing(target, exc)
            return False

    def _mark_failing(self, target: Target, exc: OSError) -> None:
        self._last_error[target] = time.monotonic()
        if not self._failing[target]:
            self._failing[target] = True
            logger.warning("%s target %s:%d unreachable (%s); still trying every frame", self._what, *target, exc)


def resolve_target(target: Target, what: str) -> Target:
    """``(host, port)`` -> ``(ipv4, port)``, or SenderError naming the target."""
    try:
        host, port = target
    except (TypeError, ValueError):
        raise SenderError(f"{what} target {target!r} must be a (host, port) pair") from None
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise SenderError(f"{what} target {host}:{port}: port must be an integer 1-65535")
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError, TypeError) as exc:
        raise SenderError(f"{what} target {host}:{port}: cannot resolve host ({exc}); use an IPv4 address") from exc
    return str(infos[0][4][0]), port


class OscMapSender:
    """Send the addresses of an OSC map that are due each frame (rate limit, send-on-change).

    Args:
        osc_map: a parsed map, or the path of its TOML file.
        targets: override the map's ``host``/``port`` (one or more receivers).

    Raises:
        SenderError: the map file is invalid or a target cannot be used.
    """

    def __init__(self, osc_map: OscMap | str | Path, targets: Sequence[Target] | None = None) -> None:
        if not isinstance(osc_map, OscMap):
            try:
                osc_map = load_osc_map(osc_map)
            except ConfigError as exc:
                raise SenderError(str(exc)) from exc
        self.osc_map = osc_map
        self._encoder = OscMapEncoder(osc_map)
        self._out = UdpTargets(targets or [(osc_map.host, osc_map.port)], "OSC")

    @property
    def targets(self) -> list[Target]:
        return list(self._out.targets)

    @property
    def sent_datagrams(self) -> int:
        return self._out.sent_datagrams

    def send(self, pose: AvatarPose, time_s: float) -> None:
        """Encode the due messages and send each as its own datagram."""
        messages = self._encoder.encode(pose, time_s)
        if messages:
            self._out.send(messages)

    def close(self) -> None:
        self._out.close()

    def __enter__(self) -> OscMapSender:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
