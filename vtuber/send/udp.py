"""UDP outputs: ``UdpTargets``, the datagram fan-out every UDP sender uses (VMC here, OSC and
iFacialMocap in their modules), and ``VmcSender``.

``VmcSender`` encodes each frame once with ``vtuber.encode.vmc.encode_vmc`` and sends every
bundle to every target through ``UdpTargets``, which never raises per frame:

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
from collections.abc import Iterable, Mapping, Sequence
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


class UdpTargets:
    """Non-blocking IPv4 UDP datagram fan-out to ``(host, port)`` targets, one *connected*
    socket per target (see the module docstring: only a connected socket hears the ICMP port
    unreachable of a receiver that is not listening). Targets are labelled ``host:port`` as
    given; a target whose connect failed (no route) is retried once every ``RECOVERY_S``.

    Args:
        targets: receivers; host names are resolved once, here.
        what: the output's name in log lines and errors ("VMC", "OSC", "iFacialMocap").
        allow_empty: start without targets (``add`` them later, e.g. on a handshake).

    Raises:
        SenderError: no target, a port outside 1-65535 or a host that does not resolve.
    """

    def __init__(self, targets: Sequence[Target], what: str, *, allow_empty: bool = False) -> None:
        if not targets and not allow_empty:
            raise SenderError(f"{what} sender needs at least one target host:port")
        self._what = what
        self._socks: dict[str, socket.socket] | None = {}
        self._address: dict[str, Target] = {}
        self._connected: dict[str, bool] = {}
        self._failing: dict[str, bool] = {}
        self._last_error_s: dict[str, float | None] = {}  # caller's clock (send's time_s)
        self.dropped_datagrams = 0
        """Datagrams dropped because the socket buffer was full (since construction)."""
        self.sent_datagrams = 0
        try:
            for t in targets:
                self.add(t)
        except BaseException:
            self.close()
            raise

    @property
    def targets(self) -> list[Target]:
        """Resolved ``(ip, port)`` of every target."""
        return list(self._address.values())

    @property
    def unreachable(self) -> list[str]:
        """Labels of the targets currently reported unreachable."""
        return [label for label, failing in self._failing.items() if failing]

    def add(self, target: Target) -> None:
        """Add a target (resolved here; no-op if its label is present)."""
        if self._socks is None:
            raise RuntimeError(f"{self._what} sender used after close()")
        address = resolve_target(target, self._what)
        label = f"{target[0]}:{target[1]}"
        if label in self._socks:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)  # a LAN broadcast target (x.x.x.255) is allowed
        self._socks[label] = sock
        self._address[label] = address
        self._failing[label] = False
        self._last_error_s[label] = None
        self._connected[label] = self._connect(label, None)

    def send(self, datagrams: Iterable[bytes], time_s: float) -> None:
        """Send every datagram to every target; ``time_s`` (seconds, any monotonic clock) times
        the recovery rules. Never raises on I/O."""
        if self._socks is None:
            raise RuntimeError(f"{self._what} sender used after close()")
        batch = list(datagrams)
        for label, sock in self._socks.items():
            if not self._connected[label]:  # no route at start (network down): retry each second
                last = self._last_error_s[label]
                if last is not None and time_s - last < RECOVERY_S:
                    continue
                self._connected[label] = self._connect(label, time_s)
                if not self._connected[label]:
                    continue
            self._send_to(label, sock, batch, time_s)

    def close(self) -> None:
        """Close the sockets; idempotent."""
        if self._socks is not None:
            for sock in self._socks.values():
                sock.close()
            self._socks = None

    def _connect(self, label: str, time_s: float | None) -> bool:
        assert self._socks is not None
        try:
            self._socks[label].connect(self._address[label])  # UDP: no packet, fixes peer and route
            return True
        except OSError as exc:
            self._mark_failing(label, exc, time_s)
            return False

    def _mark_failing(self, label: str, exc: OSError, time_s: float | None) -> None:
        self._last_error_s[label] = time_s if time_s is not None else float("-inf")
        if not self._failing[label]:
            self._failing[label] = True
            logger.warning("%s target %s unreachable (%s); still sending every frame", self._what, label, exc)

    def _send_to(self, label: str, sock: socket.socket, batch: list[bytes], time_s: float) -> None:
        for data in batch:
            try:
                sock.send(data)
                self.sent_datagrams += 1
            except OSError as exc:
                if exc.errno in _WOULD_BLOCK:
                    self.dropped_datagrams += 1
                    continue
                self._mark_failing(label, exc, time_s)
                return
        last = self._last_error_s[label]
        if self._failing[label] and batch and (last is None or time_s - last >= RECOVERY_S):
            self._failing[label] = False
            logger.info("%s target %s reachable again", self._what, label)


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
        self._options = {
            "bones": bones,
            "bone_positions": bone_positions,
            "blendshapes": blendshapes,
            "rest_offsets": rest_offsets,
        }
        self._out = UdpTargets(targets, "VMC")

    # Public API --------------------------------------------------------------------------

    @property
    def targets(self) -> list[Target]:
        """Resolved ``(ip, port)`` of every target."""
        return self._out.targets

    @property
    def dropped_datagrams(self) -> int:
        """Datagrams dropped because the socket buffer was full (since construction)."""
        return self._out.dropped_datagrams

    @property
    def unreachable(self) -> list[str]:
        """Labels of the targets currently reported unreachable."""
        return self._out.unreachable

    def send(self, pose: AvatarPose, time_s: float) -> None:
        """Encode ``pose`` once and send its bundles to every target; never raises on I/O."""
        self._out.send(encode_vmc(pose, time_s=time_s, **self._options), time_s)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the sockets; idempotent."""
        self._out.close()

    def __enter__(self) -> VmcSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def resolve_target(target: Target, what: str) -> Target:
    """``(host, port)`` -> ``(ipv4, port)``, or SenderError naming the ``what`` target."""
    try:
        host, port = target
    except (TypeError, ValueError):
        raise SenderError(f"{what} target {target!r} must be a (host, port) pair") from None
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise SenderError(f"{what} target {host}:{port}: port must be an integer 1-65535")
    if not isinstance(host, str) or not host:
        raise SenderError(f"{what} target {host!r}:{port}: host must be a non-empty name or IPv4 address")
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SenderError(f"{what} target {host}:{port}: cannot resolve host ({exc}); use an IPv4 address") from exc
    return str(infos[0][4][0]), port
