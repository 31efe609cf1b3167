"""iFacialMocap-compatible UDP stream: the engine plays the iPhone app for PC receivers.

Each frame is encoded once (``vtuber.encode.ifacialmocap``) and sent as one datagram to every
target (default ``127.0.0.1:49983``, where VSeeFace, Warudo and VNyan's iFacialMocap receivers
listen). Receivers on *another* PC start a real phone by sending the iFacialMocap handshake to
the phone's port 49983; with ``handshake_port=49983`` this sender listens for that handshake and
adds the sender's address (port 49983) as a target, so those receivers need no manual setup.
The handshake socket is polled without blocking inside ``send``.

A UDP handshake carries no token and its source address can be forged, so the listener binds
127.0.0.1 by default; listening on another address needs ``handshake_allow``, the networks
whose receivers may ask for a stream, and at most ``MAX_HANDSHAKE_TARGETS`` receivers are added
(the engine must not become a traffic reflector for whoever sends one datagram).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Sequence
from types import TracebackType

from vtuber.encode.ifacialmocap import DEFAULT_PORT, HANDSHAKE, encode_ifacialmocap
from vtuber.errors import SenderError
from vtuber.records import AvatarPose
from vtuber.send.access import is_loopback
from vtuber.send.udp import Target, UdpTargets

logger = logging.getLogger(__name__)

DEFAULT_TARGETS: tuple[Target, ...] = (("127.0.0.1", DEFAULT_PORT),)
MAX_HANDSHAKE_TARGETS = 8  # receivers a handshake may add: a few PCs, not a reflector


class IFacialMocapSender:
    """Stream iFacialMocap text frames over UDP.

    Args:
        targets: receivers ``(host, port)``; may be empty when ``handshake_port`` is set.
        handshake_port: listen on this UDP port for receivers' start handshakes (None: off).
            It cannot be a port a receiver on this PC already binds (49983 on the same PC).
        handshake_host: interface for the handshake listener (default loopback).
        handshake_allow: networks (``"192.168.1.0/24"``, ``"192.168.1.20"``) whose handshakes are
            accepted besides loopback; required to listen on a non-loopback address.
        reply_port: port a handshaking receiver is sent to (iFacialMocap replies to 49983).

    Raises:
        SenderError: a bad target or allow entry, a non-loopback handshake host without
            ``handshake_allow``, or the handshake port cannot be bound.
    """

    def __init__(
        self,
        targets: Sequence[Target] = DEFAULT_TARGETS,
        *,
        handshake_port: int | None = None,
        handshake_host: str = "127.0.0.1",
        handshake_allow: Sequence[str] = (),
        reply_port: int = DEFAULT_PORT,
    ) -> None:
        self._listen: socket.socket | None = None
        self._allow = _networks(handshake_allow)
        if handshake_port is not None and not is_loopback(handshake_host) and not self._allow:
            raise SenderError(
                f"iFacialMocap handshakes on {handshake_host} need handshake_allow (the receivers' "
                "addresses, e.g. 192.168.1.0/24): a UDP handshake carries no token"
            )
        if handshake_port is not None:
            self._listen = _bind(handshake_host, handshake_port)
        self._reply_port = reply_port
        self._handshake_targets = 0
        try:
            if not targets and self._listen is None:
                raise SenderError("iFacialMocap sender needs a target host:port or a handshake port")
            self._out = UdpTargets(targets, "iFacialMocap", allow_empty=True)
        except SenderError:
            self.close()
            raise

    @property
    def targets(self) -> list[Target]:
        return list(self._out.targets)

    @property
    def handshake_address(self) -> tuple[str, int] | None:
        """The bound ``(host, port)`` of the handshake listener, if any."""
        return None if self._listen is None else self._listen.getsockname()

    def send(self, pose: AvatarPose, time_s: float) -> None:
        """Send one frame to every target; never raises on I/O."""
        self._poll_handshakes()
        if self._out.targets:
            self._out.send([encode_ifacialmocap(pose)], time_s)

    def close(self) -> None:
        if self._listen is not None:
            self._listen.close()
            self._listen = None
        out = getattr(self, "_out", None)
        if out is not None:
            out.close()

    def __enter__(self) -> IFacialMocapSender:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _poll_handshakes(self) -> None:
        while self._listen is not None:
            try:
                data, (host, _port) = self._listen.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not data.startswith(HANDSHAKE) or (host, self._reply_port) in self._out.targets:
                continue
            if not (is_loopback(host) or any(ipaddress.ip_address(host) in n for n in self._allow)):
                logger.warning("ignored an iFacialMocap handshake from %s: not in handshake_allow", host)
                continue
            if self._handshake_targets >= MAX_HANDSHAKE_TARGETS:
                if self._handshake_targets == MAX_HANDSHAKE_TARGETS:
                    logger.warning("ignoring further iFacialMocap handshakes: %d receivers already added", MAX_HANDSHAKE_TARGETS)
                    self._handshake_targets += 1
                continue
            self._handshake_targets += 1
            self._out.add((host, self._reply_port))
            logger.info("iFacialMocap receiver %s:%d asked for a stream; sending to it", host, self._reply_port)


def _networks(entries: Sequence[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(e, strict=False) for e in entries)
    except ValueError as exc:
        raise SenderError(f"iFacialMocap handshake_allow: {exc}; give addresses or networks like 192.168.1.0/24") from None


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SenderError(
            f"iFacialMocap handshake port {host}:{port} cannot be bound ({exc}); a receiver on this PC "
            "already uses it: send to 127.0.0.1:49983 instead of listening"
        ) from exc
    sock.setblocking(False)
    return sock
