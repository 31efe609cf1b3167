"""VMC protocol over UDP: one non-blocking IPv4 socket, any number of receivers.

``VmcSender`` encodes each frame once with ``vtuber.encode.vmc.encode_vmc`` and sends every
bundle to every target. It never raises per frame:

* a target whose ``sendto`` fails (host or network unreachable, connection refused reported by
  the OS) is logged at WARNING once when it starts failing and at INFO when it works again;
* a datagram the kernel cannot take right now (``EAGAIN``/``ENOBUFS``) is dropped and counted:
  VMC is a stream of latest states, resending stale frames helps nobody.

Each target gets its own *connected* UDP socket, so the OS reports an ICMP port-unreachable
(nothing listening on that port of a reachable host, e.g. VSeeFace not started yet) as
``ECONNREFUSED`` on a later send: the target is then marked unreachable (one WARNING) and
keeps being sent to every frame; once a full second passes without such an error it is
reported reachable again (one INFO). Remote hosts that drop packets silently cannot be told
apart from receivers that listen; that is UDP's nature.
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
RECOVERY_S = 1.0  # ICMP errors arrive on alternate sends; a clean second means someone listens


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
        self._last_error_s: dict[str, float | None] = {label: None for label, _ in self._targets}
        self.dropped_datagrams = 0
        """Datagrams dropped because the socket buffer was full (since construction)."""
        self._socks: dict[str, socket.socket] | None = {}
        self._connected: dict[str, bool] = {}
        for label, address in self._targets:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)  # a LAN broadcast target (x.x.x.255) is allowed
            self._socks[label] = sock
            self._connected[label] = self._connect(label, address, None)

    # Public API --------------------------------------------------------------------------

    @property
    def targets(self) -> list[Target]:
        """Resolved ``(ip, port)`` of every target."""
        return [address for _, address in self._targets]

    def send(self, pose: AvatarPose, time_s: float) -> None:
        """Encode ``pose`` once and send its bundles to every target; never raises on I/O."""
        if self._socks is None:
            raise RuntimeError("VmcSender.send after close()")
        bundles = encode_vmc(pose, time_s=time_s, **self._options)  # type: ignore[arg-type]
        for label, address in self._targets:
            if not self._connected[label]:  # no route at start (network down): retry each second
                last = self._last_error_s[label]
                if last is not None and time_s - last < RECOVERY_S:
                    continue
                self._connected[label] = self._connect(label, address, time_s)
                if not self._connected[label]:
                    continue
            self._send_to(label, bundles, time_s)

    def close(self) -> None:
        """Close the sockets; idempotent."""
        if self._socks is not None:
            for sock in self._socks.values():
                sock.close()
            self._socks = None

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

    def _connect(self, label: str, address: Target, time_s: float | None) -> bool:
        assert self._socks is not None
        try:
            self._socks[label].connect(address)
            return True
        except OSError as exc:
            self._mark_failing(label, exc, time_s)
            return False

    def _mark_failing(self, label: str, exc: OSError, time_s: float | None) -> None:
        self._last_error_s[label] = time_s if time_s is not None else float("-inf")
        if not self._failing[label]:
            self._failing[label] = True
            logger.warning("VMC target %s unreachable (%s); still sending every frame", label, exc)

    def _send_to(self, label: str, bundles: list[bytes], time_s: float) -> None:
        assert self._socks is not None
        sock = self._socks[label]
        for bundle in bundles:
            try:
                sock.send(bundle)
            except OSError as exc:
                if exc.errno in _WOULD_BLOCK:
                    self.dropped_datagrams += 1
                    continue
                self._mark_failing(label, exc, time_s)
                return
        last = self._last_error_s[label]
        if self._failing[label] and (last is None or time_s - last >= RECOVERY_S):
            self._failing[label] = False
            logger.info("VMC target %s reachable again", label)

    @property
    def unreachable(self) -> list[str]:
        """Labels of the targets currently reported unreachable."""
        return [label for label, failing in self._failing.items() if failing]


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
