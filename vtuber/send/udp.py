"""VMC protocol over UDP: one non-blocking IPv4 socket, any number of receivers.

``VmcSender`` encodes each frame once with ``vtuber.encode.vmc.encode_vmc`` and sends every
bundle to every target. It never raises per frame:

* a target whose ``sendto`` fails (host or network unreachable, connection refused reported by
  the OS) is logged at WARNING once when it starts failing and at INFO when it works again;
* a datagram the kernel cannot take right now (``EAGAIN``/``ENOBUFS``) is dropped and counted:
  VMC is a stream of latest states, resending stale frames helps nobody.

An unconnected UDP socket does not learn that nothing listens on a port of a reachable host
(Linux reports ICMP port-unreachable only to connected sockets), so such packets vanish
silently; that is the protocol's nature, not an error.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Mapping, Sequence
from types import TracebackType

from numpy.typing import ArrayLike

from vtuber.encode.vmc import DEFAULT_PORT, encode_vmc
from vtuber.errors import SenderError
from vtuber.records import AvatarPose

logger = logging.getLogger(__name__)

Target = tuple[str, int]
DEFAULT_TARGETS: tuple[Target, ...] = (("127.0.0.1", DEFAULT_PORT),)

_WOULD_BLOCK = {errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS}


class VmcSender:
    """Send ``AvatarPose`` frames as VMC OSC bundles to one or more ``(host, port)`` targets.

    Args:
        targets: receivers (Marionettes such as EVMC4U, VSeeFace, Warudo); default
            ``127.0.0.1:39539``. Host names are resolved once, here.
        bones, bone_positions, blendshapes, rest_offsets: passed to ``encode_vmc``.

    Raises:
        SenderError: a target whose port is not 1-65535 or whose host does not resolve to IPv4.
    """

    def __init__(
        self,
        targets: Sequence[Target] = DEFAULT_TARGETS,
        *,
        bones: bool = True,
        bone_positions: bool = True,
        blendshapes: bool = True,
        rest_offsets: Mapping[str, ArrayLike] | None = None,
    ) -> None:
        if not targets:
            raise SenderError("VMC sender needs at least one target host:port")
        self._targets = [(_label(t), _resolve(t)) for t in targets]
        self._options = {
            "bones": bones,
            "bone_positions": bone_positions,
            "blendshapes": blendshapes,
            "rest_offsets": rest_offsets,
        }
        self._failing: dict[str, bool] = {label: False for label, _ in self._targets}
        self.dropped_datagrams = 0
        """Datagrams dropped because the socket buffer was full (since construction)."""
        self._sock: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    # Public API --------------------------------------------------------------------------

    @property
    def targets(self) -> list[Target]:
        """Resolved ``(ip, port)`` of every target."""
        return [address for _, address in self._targets]

    def send(self, pose: AvatarPose, time_s: float) -> None:
        """Encode ``pose`` once and send its bundles to every target; never raises on I/O."""
        if self._sock is None:
            raise RuntimeError("VmcSender.send after close()")
        bundles = encode_vmc(pose, time_s=time_s, **self._options)  # type: ignore[arg-type]
        for label, address in self._targets:
            self._send_to(label, address, bundles)

    def close(self) -> None:
        """Close the socket; idempotent."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> VmcSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Private helpers ---------------------------------------------------------------------

    def _send_to(self, label: str, address: Target, bundles: list[bytes]) -> None:
        assert self._sock is not None
        for bundle in bundles:
            try:
                self._sock.sendto(bundle, address)
            except OSError as exc:
                if exc.errno in _WOULD_BLOCK:
                    self.dropped_datagrams += 1
                    continue
                if not self._failing[label]:
                    self._failing[label] = True
                    logger.warning(
                        "VMC target %s unreachable (%s); still trying every frame", label, exc
                    )
                return
        if self._failing[label]:
            self._failing[label] = False
            logger.info("VMC target %s reachable again", label)


def _label(target: Target) -> str:
    host, port = target
    return f"{host}:{port}"


def _resolve(target: Target) -> Target:
    """``(host, port)`` -> ``(ipv4, port)``, or SenderError naming the target."""
    try:
        host, port = target
    except (TypeError, ValueError):
        raise SenderError(f"VMC target {target!r} must be a (host, port) pair") from None
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise SenderError(f"VMC target {host}:{port}: port must be an integer 1-65535")
    if not isinstance(host, str) or not host:
        raise SenderError(
            f"VMC target {host!r}:{port}: host must be a non-empty name or IPv4 address"
        )
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SenderError(
            f"VMC target {host}:{port}: cannot resolve host ({exc}); use an IPv4 address"
        ) from exc
    ip = str(infos[0][4][0])
    return ip, port
