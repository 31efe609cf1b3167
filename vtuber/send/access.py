"""Who may talk to the engine's listeners: one policy for the WebSocket server and the page server.

* Loopback by default: a listener on any other address needs an access token.
* Browsers are recognised by their ``Origin`` header: only pages served from loopback
  (``http://127.0.0.1:*``, ``http://localhost:*``, ``http://[::1]:*``) and origins the user lists
  are accepted. Clients that send no Origin (OBS plugins, Unity, scripts) are not browsers.
* A listener bound to loopback also checks the request's ``Host`` header, so a web page that
  rebinds its own domain name to 127.0.0.1 ("DNS rebinding") cannot make same-origin requests to it.
* Tokens are compared in constant time.

Pure functions on strings: no sockets, no globals.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Collection
from urllib.parse import urlsplit

from vtuber.errors import SenderError

ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")
"""Bind addresses that mean "every interface"."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin_allowed(origin: str, allowed_origins: Collection[str] = ()) -> bool:
    """Whether a browser page from ``origin`` may connect: loopback pages and ``allowed_origins``
    (compared without a trailing slash)."""
    origin = origin.rstrip("/")
    if origin in allowed_origins:
        return True
    try:
        parts = urlsplit(origin)
        hostname = parts.hostname or ""
    except ValueError:  # a malformed Origin header (e.g. an unclosed IPv6 bracket)
        return False
    return parts.scheme in ("http", "https") and is_loopback(hostname)


def host_header_allowed(host_header: str | None, bound_host: str) -> bool:
    """Whether a request's ``Host`` header fits the address the listener is bound to: any host for
    a listener on another address (it needs a token anyway), a loopback name otherwise."""
    if not is_loopback(bound_host):
        return True
    if not host_header:
        return True  # HTTP/1.0 clients send none; browsers always do
    try:
        hostname = urlsplit(f"//{host_header}").hostname or ""
    except ValueError:
        return False
    return is_loopback(hostname)


def token_matches(supplied: str, token: str) -> bool:
    """Constant-time comparison of a supplied token with the configured one."""
    return hmac.compare_digest(supplied.encode(), token.encode())


def require_token_off_loopback(host: str, token: str | None, what: str, exposure: str, token_hint: str = "") -> None:
    """SenderError (one line) when a listener for ``what`` would bind the non-loopback ``host``
    without an access token; ``exposure`` says what other machines could then do."""
    if not is_loopback(host) and not token:
        raise SenderError(
            f"refusing to serve {what} on {host}: other machines could {exposure}; "
            f"set an access token (--ws-token TOKEN, or [websocket] token = \"...\" in the settings file{token_hint}) "
            "or bind 127.0.0.1"
        )
