"""Encoders: ``AvatarPose`` in, bytes or text out. Pure functions (no sockets, no clock).

* ``vtuber.encode.vmc``: VMC protocol OSC bundles (``encode_vmc``).
* ``vtuber.encode.ws_json``: WebSocket JSON, schema 1 (``encode_hello``, ``encode_frame``).

Wire formats are specified in ``docs/protocol.md``.
"""

from __future__ import annotations

from vtuber.encode.vmc import encode_vmc
from vtuber.encode.ws_json import SCHEMA_VERSION, encode_frame, encode_hello

__all__ = ["SCHEMA_VERSION", "encode_frame", "encode_hello", "encode_vmc"]
