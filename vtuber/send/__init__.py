"""Senders: thin socket owners that move encoded bytes (``Sender`` protocol in ``base``).

* ``vtuber.send.udp.VmcSender``: VMC OSC bundles over UDP to one or more receivers.
* ``vtuber.send.websocket.WebSocketServer``: schema-1 JSON to WebSocket clients.

Wire formats: ``docs/protocol.md``.
"""

from __future__ import annotations

from vtuber.send.base import Sender
from vtuber.send.udp import VmcSender
from vtuber.send.websocket import WebSocketServer

__all__ = ["Sender", "VmcSender", "WebSocketServer"]
