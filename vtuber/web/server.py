"""A small static HTTP server for the browser-source page (OBS Browser Source).

Routes:

* ``/`` and ``/assets/...``: the built page from ``vtuber/web/dist`` (``npm run build`` in ``web/``);
* ``/avatar.vrm``: the user's VRM (``--avatar PATH.vrm``) or the project's default avatar, which is
  generated in memory at start by ``avatars/make_default_avatar.py`` (or read from
  ``dist/avatars/default.vrm`` when a packager put it there);
* ``/config.json``: ``{"ws_url": ...}``, the engine's WebSocket address for the page (with the
  access token when there is one; a WebSocket bound to every interface is named by the host the
  page was loaded from).

Access (``vtuber.send.access``, the WebSocket server's policy): the server binds 127.0.0.1 unless
told otherwise and refuses any other address without an access token. With a token, the page is
opened as ``http://HOST:PORT/?token=...``; the server then sets an HttpOnly, SameSite=Strict cookie
so the page's own requests (assets, avatar, config) carry it, and refuses requests without it
(401). Requests from another site's page (a foreign ``Origin`` header) are refused (403), no CORS
header is sent (so no other site can read the avatar or the token), and a server on loopback
refuses a non-loopback ``Host`` header (403: DNS rebinding).

It runs in one daemon thread (``ThreadingHTTPServer``); ``start()`` raises ``SenderError`` when the
address is in use or the page is not built, and ``ConfigError`` when the avatar is not a valid VRM.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import mimetypes
import struct
import threading
from collections.abc import Sequence
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from vtuber.errors import ConfigError, SenderError
from vtuber.retarget.profile import AVATARS_DIR
from vtuber.send.access import (
    ANY_ADDRESS,
    host_header_allowed,
    origin_allowed,
    require_token_off_loopback,
    token_matches,
)

DIST_DIR = Path(__file__).resolve().parent / "dist"
"""Where ``npm run build`` (in ``web/``) puts the page."""

_REPO_GENERATOR = AVATARS_DIR / "make_default_avatar.py"
SETUP_HINT = "run the setup command: cd web && npm ci && npm run build"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".vrm": "model/gltf-binary",
    ".glb": "model/gltf-binary",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".map": "application/json",
}


def validate_vrm(path: str | Path) -> bytes:
    """Read ``path`` and check that it is a VRM (glTF 2.0 binary with ``VRMC_vrm`` or ``VRM``).

    Returns the file's bytes; raises ``ConfigError`` with one line naming the file otherwise.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--avatar {p}: cannot read the file ({exc.strerror or exc})") from None
    reason = _vrm_problem(data)
    if reason:
        raise ConfigError(
            f"--avatar {p}: not a valid VRM file ({reason}); export a VRM 0.x or 1.0 model, e.g. from VRoid Studio"
        )
    return data


def _vrm_problem(data: bytes) -> str | None:
    if len(data) < 20 or data[:4] != b"glTF":
        return "no glTF binary header"
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2:
        return f"glTF binary version {version}, expected 2"
    if length > len(data):
        return "the file is truncated"
    chunk_len, chunk_type = struct.unpack_from("<I4s", data, 12)
    if chunk_type != b"JSON" or 20 + chunk_len > len(data):
        return "no JSON chunk"
    try:
        doc = json.loads(data[20 : 20 + chunk_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "the JSON chunk does not parse"
    extensions = doc.get("extensions") or {}
    if "VRMC_vrm" not in extensions and "VRM" not in extensions:
        return "a plain glTF model without the VRMC_vrm (VRM 1.0) or VRM (0.x) extension"
    return None


def default_avatar_bytes(dist_dir: Path = DIST_DIR) -> bytes:
    """The default avatar: a pre-generated ``dist/avatars/default.vrm`` or, usually, generated
    now by ``avatars/make_default_avatar.py`` (cached for the process)."""
    pre = dist_dir / "avatars" / "default.vrm"
    if pre.is_file():
        return pre.read_bytes()
    if not _REPO_GENERATOR.is_file():
        raise SenderError(
            f"the default avatar generator {_REPO_GENERATOR} is missing; pass --avatar PATH.vrm"
        )
    spec = importlib.util.spec_from_file_location("vtuber_make_default_avatar", _REPO_GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_default_avatar()


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the engine logs what matters

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        page: PageServer = self.server.page
        split = urlsplit(self.path)
        path = unquote(split.path)
        refusal = self._refusal(page, split.query)
        set_cookie = False
        etag = None
        if refusal is not None:
            status, body, ctype = refusal[0], refusal[1].encode(), _TYPES[".txt"]
        else:
            set_cookie = page.token is not None and _COOKIE not in self._cookies()
            if path in ("/", "/index.html"):
                body, ctype = page._file("index.html")
            elif path == "/avatar.vrm":
                body, ctype = page.avatar_bytes, _TYPES[".vrm"]
                etag = page.avatar_etag
            elif path == "/config.json":
                body, ctype = json.dumps({"ws_url": page.ws_url_for(self.headers.get("Host"))}).encode(), _TYPES[".json"]
            else:
                body, ctype = page._file(path.lstrip("/"))
            status = HTTPStatus.OK
            if body is None:
                status, body, ctype = HTTPStatus.NOT_FOUND, b"not found\n", _TYPES[".txt"]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        # one request per connection: a handful of files, and a closed server (an engine restart
        # in the same process, as in tests) leaves no keep-alive thread answering for it
        self.send_header("Connection", "close")
        self.close_connection = True
        if etag is not None and status == HTTPStatus.OK:
            self.send_header("ETag", etag)  # the page reloads the model when this changes
        if set_cookie and page.token is not None:
            self.send_header("Set-Cookie", f"{_COOKIE}={quote(page.token, safe='')}; HttpOnly; SameSite=Strict; Path=/")
        self.end_headers()
        if not head:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def _refusal(self, page: PageServer, query: str) -> tuple[HTTPStatus, str] | None:
        """Why this request is refused (status and a one-line body), or None to serve it."""
        for name in ("Origin", "Host", "Cookie"):
            if len(self.headers.get_all(name) or []) > 1:
                return HTTPStatus.BAD_REQUEST, f"repeated {name} header\n"
        origin = self.headers.get("Origin")
        if origin is not None and not origin_allowed(origin, page.allowed_origins):
            return HTTPStatus.FORBIDDEN, f"Origin {origin} is not allowed\n"
        if not host_header_allowed(self.headers.get("Host"), page.host):
            return HTTPStatus.FORBIDDEN, "this server only answers to a loopback Host\n"
        if page.token is not None:
            supplied = parse_qs(query).get("token", [""])[-1] or self._cookies().get(_COOKIE, "")
            if not token_matches(supplied, page.token):
                return HTTPStatus.UNAUTHORIZED, "missing or wrong token: open the page as http://HOST:PORT/?token=...\n"
        return None

    def _cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
        except CookieError:
            return {}
        return {k: unquote(m.value) for k, m in jar.items()}


_COOKIE = "vtuber_token"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    page: PageServer


class PageServer:
    """Serve the browser-source page and the avatar from a daemon thread.

    Args:
        host, port: where to listen (port 0 picks a free port; see ``port`` after ``start``).
        avatar_path: the user's ``.vrm``; None serves the default avatar.
        ws_url: the engine's WebSocket address handed to the page through ``/config.json``
            (``ws://0.0.0.0:PORT``: named by the host the page was loaded from).
        dist_dir: the built page (default ``vtuber/web/dist``).
        token: access token; required to bind a non-loopback address (SenderError otherwise).
            Also handed to the page for the WebSocket, which shares it.
        allowed_origins: other sites' pages allowed to fetch from this server (default none).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8766,
        avatar_path: str | Path | None = None,
        ws_url: str = "ws://127.0.0.1:8765",
        dist_dir: str | Path | None = None,
        token: str | None = None,
        allowed_origins: Sequence[str] = (),
    ) -> None:
        require_token_off_loopback(host, token, "the browser-source page", "load it", ", shared by the page")
        self.token = token or None
        self.allowed_origins = frozenset(o.rstrip("/") for o in allowed_origins)
        self.host = host
        self.port = port
        self.avatar_path = None if avatar_path is None else Path(avatar_path)
        self.ws_url = ws_url
        self.dist_dir = Path(dist_dir) if dist_dir is not None else DIST_DIR
        self.avatar_bytes = b""
        self.avatar_etag = ""
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address (with ``?token=`` when the server has one: paste it into OBS)."""
        host = "127.0.0.1" if self.host in ANY_ADDRESS else self.host
        query = "" if self.token is None else "?token=" + quote(self.token, safe="")
        return f"http://{host}:{self.port}/{query}"

    def ws_url_for(self, host_header: str | None) -> str:
        """``ws_url`` as the page loaded through ``host_header`` should use it: a WebSocket bound
        to every interface is named by that host, and the access token is added when set."""
        parts = urlsplit(self.ws_url)
        netloc = parts.netloc
        if (parts.hostname or "") in ("0.0.0.0", "::", "") and parts.port is not None:
            try:
                requested = urlsplit(f"//{host_header}").hostname if host_header else None
            except ValueError:
                requested = None
            name = requested or "127.0.0.1"
            netloc = f"[{name}]:{parts.port}" if ":" in name else f"{name}:{parts.port}"
        query = parts.query
        if self.token is not None:
            query = (query + "&" if query else "") + "token=" + quote(self.token, safe="")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    def start(self) -> Self:
        if not (self.dist_dir / "index.html").is_file():
            raise SenderError(
                f"the browser-source page is not built ({self.dist_dir} has no index.html): {SETUP_HINT}"
            )
        if self.avatar_path is not None:
            self.avatar_bytes = validate_vrm(self.avatar_path)
        else:
            self.avatar_bytes = default_avatar_bytes(self.dist_dir)
        self.avatar_etag = '"' + hashlib.sha1(self.avatar_bytes).hexdigest()[:16] + '"'
        try:
            httpd = _HTTPServer((self.host, self.port), _Handler)
        except OSError as exc:
            raise SenderError(
                f"page server cannot listen on {self.host}:{self.port} ({exc.strerror or exc}); "
                "choose another page port or stop the program using it"
            ) from None
        httpd.page = self
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="vtuber-page", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _file(self, rel: str) -> tuple[bytes | None, str]:
        root = self.dist_dir.resolve()
        target = (root / rel).resolve()
        if root not in target.parents or not target.is_file():
            return None, _TYPES[".txt"]
        suffix = target.suffix.lower()
        ctype = (
            _TYPES.get(suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        )
        return target.read_bytes(), ctype
