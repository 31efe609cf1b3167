"""iFacialMocap-compatible UDP stream: the engine plays the iPhone app for PC receivers.

Each frame is encoded once (``vtuber.encode.ifacialmocap``) and sent as one datagram to every
target (default ``127.0.0.1:49983``, where VSeeFace, Warudo and VNyan's iFacialMocap receivers
listen). Receivers on *another* PC start a real phone by sending the iFacialMocap handshake to
the phone's port 49983; with ``handshake_port=49983`` this sender listens for that handshake and
adds the sender's address (port 49983) as a target, so those receivers need no manual setup.
The handshake socket is polled without blocking inside ``send``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from types import TracebackType

from vtuber.encode.ifacialmocap import DEFAULT_PORT, HANDSHAKE, encode_ifacialmocap
from vtuber.errors import SenderError
from vtuber.records import AvatarPose
from vtuber.send.osc_map import Target, UdpTargets

logger = logging.getLogger(__name__)

DEFAULT_TARGETS: tuple[Target, ...] = (("127.0.0.1", DEFAULT_PORT),)


class IFacialMocapSender:
    """Stream iFacialMocap text frames over UDP.

    Args:
        targets: receivers ``(host, port)``; may be empty when ``handshake_port`` is set.
        handshake_port: listen on this UDP port for receivers' start handshakes (None: off).
            It cannot be a port a receiver on this PC already binds (49983 on the same PC).
        handshake_host: interface for the handshake listener.
        reply_port: port a handshaking receiver is sent to (iFacialMocap replies to 49983).

    Raises:
        SenderError: a bad target, or the handshake port cannot be bound.
    """

    def __init__(
        self,
        targets: Sequence[Target] = DEFAULT_TARGETS,
        *,
        handshake_port: int | None = None,
        handshake_host: str = "0.0.0.0",
        reply_port: int = DEFAULT_PORT,
    ) -> None:
        self._listen: socket.socket | None = None
        if handshake_port is not None:
            self._listen = _bind(handshake_host, handshake_port)
        self._reply_port = reply_port
        try:
            if targets:
                self._out = UdpTargets(targets, "iFacialMocap")
            elif self._listen is not None:
                self._out = UdpTargets([("127.0.0.1", reply_port)], "iFacialMocap")
                self._out.targets.clear()
            else:
                raise SenderError("iFacialMocap sender needs a target host:port or a handshake port")
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
            self._out.send([encode_ifacialmocap(pose)])

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
            if data.startswith(HANDSHAKE) and (host, self._reply_port) not in self._out.targets:
                self._out.add((host, self._reply_port))
                logger.info("iFacialMocap receiver %s:%d asked for a stream; sending to it", host, self._reply_port)


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
