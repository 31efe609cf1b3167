"""WebSocket server (schema 1 JSON, ``docs/protocol.md``) on its own asyncio loop thread.

Threads: the engine thread calls ``publish``; everything else (accepting clients, encoding,
writing) runs on one asyncio event loop in a daemon thread, using ``websockets``' asyncio server.

Backpressure, in three layers, so the engine never waits for a client:

1. ``publish`` stores the pose in a lock-protected *latest* slot and schedules one wake-up on the
   loop (``call_soon_threadsafe``) unless one is already pending: a few microseconds, no encoding.
2. The loop encodes the latest pose once per distinct ``(coords, names)`` variant among connected
   clients and puts the text into each client's own latest-only slot (replacing an unsent one).
3. Each client has a writer task that sends its slot; while a send waits on a full socket buffer,
   newer frames keep replacing the slot. A send blocked longer than ``stall_timeout_s`` drops
   that client (transport aborted); other clients are unaffected.

The socket buffer in layer 3 is bounded on purpose: each connection's kernel send buffer is
set to ``send_buffer_bytes`` (64 KiB, about a dozen frames; Linux books twice that). Left to
TCP autotuning it grows to ``net.ipv4.tcp_wmem``'s maximum (4 MiB on loopback), so a client
that reads too slowly would be fed frames seconds old instead of the newest one, and a client
that stopped reading would hold ~10 s of frames before its stall timer could even start.

Inbound: text messages that parse as JSON are ignored (reserved for later schemas); a message
above ``max_message_bytes`` closes that connection with 1009 (``websockets`` ``max_size``),
non-JSON text or a binary message with 1008, more than ``max_messages_per_s`` messages a
second (a flood) with 1008. Bad query parameters close with 1008.

Network surface: the server binds 127.0.0.1 unless told otherwise, and refuses to bind any other
address without an access ``token``; with a token, clients must send ``?token=...`` (or an
``Authorization: Bearer ...`` header) or the handshake is refused with HTTP 401. Browsers always
send an ``Origin`` header: without a token, only pages served from loopback
(``http://127.0.0.1:*``, ``http://localhost:*``) and the ``allowed_origins`` given are accepted
(HTTP 403 otherwise), so a web page on the internet cannot read or drive the stream through the
user's browser; with a token, a page presenting it is accepted from any origin (the token is
the proof, and a two-PC stream's OBS loads the page from the engine machine's LAN address). Clients
that send no Origin (OBS plugins, Unity, scripts) are not browsers and pass this check. A
handshake with two Origin, Host or Authorization headers is refused (400), and a server on
loopback refuses a non-loopback Host header (403: DNS rebinding). The policy is shared with the
page server (``vtuber.send.access``).
"""

from __future__ import annotations

import asyncio
import errno
import importlib.metadata
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from numpy.typing import ArrayLike
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from vtuber.encode.ws_json import (
    COORDS,
    DEFAULT_COORDS,
    DEFAULT_NAMES,
    NAMES,
    Coords,
    Names,
    encode_frame,
    encode_hello,
)
from vtuber.errors import SenderError
from vtuber.records import AvatarPose
from vtuber.retarget import skeleton
from vtuber.send.access import (
    host_header_allowed,
    origin_allowed,
    require_token_off_loopback,
    token_matches,
)

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8765
MAX_MESSAGE_BYTES = 64 * 1024
"""Largest inbound message accepted; clients have nothing big to say in schema 1."""
SEND_BUFFER_BYTES = 64 * 1024
"""Kernel send buffer per connection (SO_SNDBUF): bounds how stale a slow client's frames get."""
STALL_TIMEOUT_S = 5.0
"""A client whose socket stays full this long is dropped: it is gone or hopelessly behind."""
MAX_MESSAGES_PER_S = 50.0
"""Inbound messages a client may send per second (burst of the same size); schema 1 clients
send almost nothing, so more is a flood and closes that client only."""
_CLOSE_TIMEOUT_S = 2.0  # closing handshake wait on shutdown; stalled peers are aborted after it


def engine_version() -> str:
    """The installed ``vtuber`` package version, or ``"0+unknown"`` when run from a source tree."""
    try:
        return importlib.metadata.version("vtuber")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass(eq=False)
class _Client:
    """One connection's state; lives on the loop thread only."""

    conn: ServerConnection
    coords: Coords
    names: Names
    pending: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class WebSocketServer:
    """Serve schema-1 JSON frames to any number of WebSocket clients.

    Args:
        host: interface to listen on; ``127.0.0.1`` keeps it local.
        port: TCP port; 0 picks a free one (see ``port`` after ``start``).
        avatar_profile: profile name announced in ``hello``.
        bones: bone names announced in ``hello`` (default: all 55 ``skeleton.BONES``).
        rest: rotations announced in ``hello`` for bones no frame has carried yet (internal
            frame; default ``vtuber.solve.body.relaxed_rest()``, arms hanging relaxed).
        stall_timeout_s: drop a client whose send has waited this long on a full buffer.
        max_message_bytes: inbound message limit; larger closes the connection with 1009.
        version: engine version announced in ``hello`` (default: the installed package's).
        token: access token clients must present; required to bind a non-loopback address.
        allowed_origins: browser origins accepted besides loopback pages
            (e.g. ``"https://my-overlay.example"``).
        max_messages_per_s: inbound message rate above which a client is closed (1008).
        send_buffer_bytes: kernel send buffer per connection (SO_SNDBUF); None leaves the
            operating system's autotuning (up to megabytes) in charge.
        on_clients: called on the loop thread with the new ``client_count`` whenever a client
            joins (after ``hello``) or leaves; must be quick.

    Raises:
        SenderError: a non-loopback ``host`` without a ``token`` (one line naming the fix).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        avatar_profile: str = "default",
        bones: Sequence[str] | None = None,
        rest: Mapping[str, ArrayLike] | None = None,
        stall_timeout_s: float = STALL_TIMEOUT_S,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        version: str | None = None,
        token: str | None = None,
        allowed_origins: Sequence[str] = (),
        max_messages_per_s: float = MAX_MESSAGES_PER_S,
        send_buffer_bytes: int | None = SEND_BUFFER_BYTES,
        on_clients: Callable[[int], None] | None = None,
    ) -> None:
        require_token_off_loopback(host, token, "the WebSocket stream", "read it")
        self._token = token or None
        self._allowed_origins = frozenset(o.rstrip("/") for o in allowed_origins)
        self._max_messages_per_s = max_messages_per_s
        self._send_buffer_bytes = send_buffer_bytes
        self._host = host
        self._port = port
        self._avatar_profile = avatar_profile
        self._bones = tuple(skeleton.BONES if bones is None else bones)
        if rest is None:
            from vtuber.solve.body import relaxed_rest

            rest = relaxed_rest()
        self._rest = dict(rest)
        self._stall_timeout_s = stall_timeout_s
        self._max_message_bytes = max_message_bytes
        self._version = version or engine_version()
        self._lock = threading.Lock()
        self._latest: tuple[AvatarPose, float] | None = None
        self._wake_pending = False
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._start_error: OSError | None = None
        self._stop: asyncio.Event | None = None
        self._bound_port: int | None = None
        self._encode_failing = False
        self._on_clients = on_clients

    # Public API --------------------------------------------------------------------------

    def start(self, timeout_s: float = 5.0) -> None:
        """Bind and start serving; returns once listening.

        Raises:
            SenderError: the port is in use or the address cannot be bound.
        """
        if self._thread is not None:
            return
        self._started.clear()
        self._start_error = None
        self._bound_port = None
        self._thread = threading.Thread(target=self._run, name="vtuber-websocket", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise SenderError(
                f"WebSocket server on {self._host}:{self._port} did not start within {timeout_s} s"
            )
        if self._start_error is not None:
            self._thread.join(timeout_s)
            self._thread = None
            raise SenderError(
                _bind_message(self._host, self._port, self._start_error)
            ) from self._start_error
        logger.info("WebSocket server listening on ws://%s:%d/", self._host, self.port)

    @property
    def port(self) -> int:
        """The bound TCP port (the requested one until ``start``)."""
        return self._bound_port if self._bound_port is not None else self._port

    @property
    def client_count(self) -> int:
        """Connected clients that have received ``hello``."""
        return len(self._clients)

    def publish(self, pose: AvatarPose, *, sent_wall_s: float) -> None:
        """Hand one frame to the server; never blocks on clients (call from the engine thread).

        Args:
            pose: the frame to send.
            sent_wall_s: wall-clock Unix time in seconds, put in the frame's ``sent`` field.
        """
        loop = self._loop
        if loop is None or not self._clients:
            return
        with self._lock:
            self._latest = (pose, sent_wall_s)
            if self._wake_pending:
                return
            self._wake_pending = True
        try:
            loop.call_soon_threadsafe(self._dispatch)
        except RuntimeError:  # loop already closed by close()
            pass

    def send(self, pose: AvatarPose, time_s: float) -> None:
        """``Sender`` protocol: ``publish`` stamped with the wall clock now (``time_s`` unused)."""
        self.publish(pose, sent_wall_s=time.time())

    def close(self, timeout_s: float = 5.0) -> None:
        """Close every client (1001) and stop the loop thread; idempotent."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass
        thread.join(timeout_s)
        if thread.is_alive():
            logger.warning("WebSocket server thread did not stop within %.1f s", timeout_s)
        self._thread = None

    def __enter__(self) -> WebSocketServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Loop thread -------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main(loop))
        except Exception:
            logger.exception("WebSocket server loop crashed")
        finally:
            self._loop = None
            self._started.set()
            loop.close()

    async def _main(self, loop: asyncio.AbstractEventLoop) -> None:
        self._stop = asyncio.Event()
        try:
            server = await serve(
                self._handle,
                self._host,
                self._port,
                max_size=self._max_message_bytes,
                compression=None,  # per-client deflate would re-compress each frame per client
                process_request=self._check_request,
                close_timeout=_CLOSE_TIMEOUT_S,
            )
        except OSError as exc:
            self._start_error = exc
            return
        self._bound_port = int(server.sockets[0].getsockname()[1])
        self._loop = loop
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            self._loop = None
            await self._shutdown(server)

    async def _shutdown(self, server: Server) -> None:
        for client in list(self._clients):
            # bytes waiting above a full kernel buffer: a client that stopped reading cannot take
            # a closing handshake either, so do not wait the close timeout for it
            if client.conn.transport.get_write_buffer_size() > 0:
                logger.info("WebSocket client %s is not reading; dropping it at shutdown", client.conn.remote_address)
                client.conn.transport.abort()
        server.close(close_connections=True)
        try:
            await asyncio.wait_for(server.wait_closed(), 2 * _CLOSE_TIMEOUT_S)
        except TimeoutError:  # a client that stopped reading never completes the closing handshake
            for client in list(self._clients):
                client.conn.transport.abort()
            try:  # let the aborted connections' handlers finish before the loop closes
                await asyncio.wait_for(server.wait_closed(), _CLOSE_TIMEOUT_S)
            except TimeoutError:
                logger.warning("WebSocket connections still open after closing; leaving them")
        logger.info("WebSocket server on port %d closed", self.port)

    def _dispatch(self) -> None:
        """Encode the latest pose once per variant and fill every client's latest-only slot."""
        with self._lock:
            item, self._latest, self._wake_pending = self._latest, None, False
        if item is None:
            return
        pose, sent_wall_s = item
        texts: dict[tuple[str, str], str] = {}
        for client in list(self._clients):
            variant = (client.coords, client.names)
            text = texts.get(variant)
            if text is None:
                try:
                    text = encode_frame(
                        pose, coords=client.coords, names=client.names, sent_wall_s=sent_wall_s
                    )
                except ValueError:
                    if not self._encode_failing:
                        logger.exception(
                            "cannot encode frame %d as JSON; skipping frames", pose.index
                        )
                    self._encode_failing = True
                    return
                texts[variant] = text
            client.pending = text
            client.wake.set()
        self._encode_failing = False

    async def _handle(self, conn: ServerConnection) -> None:
        """One connection: check the query, send hello, then write frames and read inbound."""
        try:
            coords, names = parse_variant(conn.request.path if conn.request else "/")
        except ValueError as exc:
            await conn.close(CloseCode.POLICY_VIOLATION, str(exc))
            return
        client = _Client(conn, coords, names)
        self._limit_send_buffer(conn)
        try:
            await conn.send(
                encode_hello(
                    engine_version=self._version,
                    coords=coords,
                    names=names,
                    avatar_profile=self._avatar_profile,
                    bones=self._bones,
                    rest=self._rest,
                )
            )
        except ConnectionClosed:
            return
        self._clients.add(client)
        self._clients_changed()
        logger.info(
            "WebSocket client %s connected (coords=%s, names=%s)",
            conn.remote_address,
            coords,
            names,
        )
        writer = asyncio.create_task(self._write_loop(client))
        try:
            await self._read_loop(conn)
        finally:
            self._clients.discard(client)
            self._clients_changed()
            writer.cancel()
            logger.info(
                "WebSocket client %s disconnected (%s)", conn.remote_address, conn.close_code
            )

    def _clients_changed(self) -> None:
        if self._on_clients is not None:
            self._on_clients(len(self._clients))

    def _limit_send_buffer(self, conn: ServerConnection) -> None:
        if self._send_buffer_bytes is None:
            return
        sock = conn.transport.get_extra_info("socket")
        if sock is None:
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._send_buffer_bytes)
        except OSError as exc:  # not fatal: the stall timeout still bounds the client
            logger.debug("cannot set SO_SNDBUF for %s: %s", conn.remote_address, exc)

    def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Refuse repeated security headers (400), foreign browser origins or hosts (403) and
        missing or wrong tokens (401) at the handshake."""
        for name in ("Origin", "Host", "Authorization"):
            if len(request.headers.get_all(name)) > 1:
                logger.warning("refused WebSocket client %s: repeated %s header", conn.remote_address, name)
                return conn.respond(HTTPStatus.BAD_REQUEST, f"repeated {name} header\n")
        if not host_header_allowed(request.headers.get("Host"), self._host):
            logger.warning("refused WebSocket client %s: Host %s is not loopback", conn.remote_address, request.headers.get("Host"))
            return conn.respond(HTTPStatus.FORBIDDEN, "this server only answers to a loopback Host\n")
        if self._token is not None:
            # the token is the proof: a page that has it may come from any origin (a two-PC
            # stream's OBS loads the page from the engine machine's LAN address)
            if not _token_matches(request, self._token):
                logger.warning("refused WebSocket client %s: missing or wrong token", conn.remote_address)
                return conn.respond(HTTPStatus.UNAUTHORIZED, "missing or wrong token\n")
            return None
        origin = request.headers.get("Origin")
        if origin is not None and not origin_allowed(origin, self._allowed_origins):
            logger.warning("refused WebSocket client %s: foreign Origin %s", conn.remote_address, origin)
            return conn.respond(HTTPStatus.FORBIDDEN, f"Origin {origin} is not allowed\n")
        return None

    async def _read_loop(self, conn: ServerConnection) -> None:
        budget = self._max_messages_per_s  # token bucket: refills at the allowed rate
        last = time.monotonic()
        try:
            async for message in conn:
                now = time.monotonic()
                budget = min(self._max_messages_per_s, budget + (now - last) * self._max_messages_per_s) - 1.0
                last = now
                if budget < 0:
                    logger.warning("WebSocket client %s floods messages; closing", conn.remote_address)
                    await conn.close(CloseCode.POLICY_VIOLATION, "too many messages")
                    return
                if isinstance(message, bytes) or not _is_json(message):
                    logger.warning(
                        "WebSocket client %s sent a non-JSON message; closing", conn.remote_address
                    )
                    await conn.close(CloseCode.POLICY_VIOLATION, "expected JSON text messages")
                    return
                logger.debug("ignoring inbound message from %s", conn.remote_address)
        except ConnectionClosed:
            return

    async def _write_loop(self, client: _Client) -> None:
        while True:
            await client.wake.wait()
            client.wake.clear()
            text, client.pending = client.pending, None
            if text is None:
                continue
            try:
                async with asyncio.timeout(self._stall_timeout_s):
                    await client.conn.send(text)
            except TimeoutError:
                logger.warning(
                    "WebSocket client %s stalled for %.1f s; dropping it",
                    client.conn.remote_address,
                    self._stall_timeout_s,
                )
                client.conn.transport.abort()
                return
            except ConnectionClosed:
                return


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def parse_variant(path: str) -> tuple[Coords, Names]:
    """``/?coords=unity|gltf&names=profile|arkit`` -> (coords, names); other parameters ignored.

    Raises:
        ValueError: a value outside the allowed set (message fits a WebSocket close reason).
    """
    query = parse_qs(urlsplit(path).query)
    coords = query.get("coords", [DEFAULT_COORDS])[-1]
    names = query.get("names", [DEFAULT_NAMES])[-1]
    if coords not in COORDS:
        raise ValueError(f"coords must be one of {', '.join(COORDS)}")
    if names not in NAMES:
        raise ValueError(f"names must be one of {', '.join(NAMES)}")
    return coords, names  # type: ignore[return-value]


def _token_matches(request: Request, token: str) -> bool:
    supplied = parse_qs(urlsplit(request.path).query).get("token", [""])[-1]
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        supplied = supplied or auth[len("Bearer ") :]
    return token_matches(supplied, token)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays within the size limit
        return False
    return True


def _bind_message(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"WebSocket port {port} on {host} is already in use; "
            "stop the other program or choose another port"
        )
    reason = exc.strerror or exc
    return f"WebSocket server cannot listen on {host}:{port} ({reason}); check the host and port"
