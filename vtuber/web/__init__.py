"""The browser-source page: a VRM avatar driven live by the engine's WebSocket stream.

The page itself is built from ``web/`` (``cd web && npm ci && npm run build``) into
``vtuber/web/dist``; ``PageServer`` serves it, the avatar (``/avatar.vrm``) and ``/config.json``.
"""

from vtuber.web.server import DIST_DIR, PageServer, validate_vrm

__all__ = ["DIST_DIR", "PageServer", "validate_vrm"]
