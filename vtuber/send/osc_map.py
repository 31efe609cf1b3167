"""Generic OSC over UDP through an address map (``vtuber.encode.osc_map``), e.g. VRChat on 9000.

Datagrams go out through ``vtuber.send.udp.UdpTargets`` (one connected socket per target,
never raises per frame, a failing target logged once and its recovery once).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from vtuber.encode.osc_map import OscMap, OscMapEncoder, load_osc_map
from vtuber.errors import ConfigError, SenderError
from vtuber.records import AvatarPose
from vtuber.send.udp import Target, UdpTargets

logger = logging.getLogger(__name__)



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
            self._out.send(messages, time_s)

    def close(self) -> None:
        self._out.close()

    def __enter__(self) -> OscMapSender:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
