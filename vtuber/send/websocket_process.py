"""The WebSocket server in a child process, so the engine never shares Python's interpreter lock
with WebSocket clients.

Why: in the engine's process the server's thread (handshakes, JSON encoding, writing to each
client) takes the interpreter lock from the engine thread; with three reading clients that put
about 0.5 ms on the engine's p95 after tracking (docs/benchmarks.md, "Throughput"). Here the
engine pays ``pose_wire.pose_to_wire`` (~15 us) and one non-blocking datagram a frame; the child
runs the unchanged ``WebSocketServer`` (same protocol, access policy, limits, backpressure).

Channel: one AF_UNIX ``SOCK_SEQPACKET`` socket pair (message boundaries kept; a frame is sent
whole or not at all). Parent -> child: the settings first (so the access token never shows in
the process list), then frames; the end of the stream is the parent closing its end. Child ->
parent: ``ready`` (the bound port) or ``error`` (the server's one-line start-up message), client
counts, and log records, which the parent logs again under the same logger names.

Latest-only, like the server itself: the parent's socket buffer holds a few frames
(``FRAME_BUFFER_BYTES``); when the child is behind, a frame that does not fit is dropped and
counted (``dropped``), and the child publishes only the newest of the frames waiting for it.

Lifetime: the child ends when the parent's end closes, which the kernel also does when the
parent dies, so a crashed engine never leaves a server holding the port. The child runs in its
own process group and ignores SIGINT and SIGTERM: Ctrl-C in a terminal, ``timeout`` and
systemd's stop signal the engine's whole group, and the engine decides the shutdown (clients get
1001 when it closes the channel).

POSIX only (``SOCK_SEQPACKET``, ``pass_fds``): ``supported()`` says whether it can run here;
``vtuber.app`` falls back to the in-process ``WebSocketServer`` where it cannot.
"""

from __future__ import annotations

import errno
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from vtuber.encode.pose_wire import pose_from_wire, pose_to_wire
from vtuber.errors import SenderError
from vtuber.records import AvatarPose
from vtuber.send.access import require_token_off_loopback
from vtuber.send.websocket import (
    DEFAULT_PORT,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGES_PER_S,
    SEND_BUFFER_BYTES,
    STALL_TIMEOUT_S,
    WebSocketServer,
)

logger = logging.getLogger("vtuber.send.websocket_process")  # not __name__: the child runs as __main__

CHILD_MODULE = "vtuber.send.websocket_process"
FRAME_BUFFER_BYTES = 64 * 1024
"""Parent -> child socket buffer: a dozen or so frames; more would only be stale frames."""
START_TIMEOUT_S = 20.0
"""The child imports websockets and numpy before it binds (~0.5 s here; slow disks take longer)."""
MAX_MESSAGE_READ = 1 << 20  # largest message either side reads; frames are a few KiB
MAX_LOG_CHARS = 16_000  # one forwarded log record (a traceback fits)


_CHILD_GONE_ERRNOS = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ECONNREFUSED})


def supported() -> bool:
    """Whether this platform can run the server in a child process (AF_UNIX SOCK_SEQPACKET)."""
    try:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except (AttributeError, OSError):
        return False
    a.close()
    b.close()
    return True


class WebSocketServerProcess:
    """``WebSocketServer`` in a child process, with the same API (``start``, ``port``,
    ``client_count``, ``publish``, ``send``, ``close``) and the same arguments.

    Raises:
        SenderError: a non-loopback ``host`` without a ``token`` (at construction, as the
            in-process server does); the port in use or the child failing to start (``start``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        avatar_profile: str = "default",
        bones: Sequence[str] | None = None,
        stall_timeout_s: float = STALL_TIMEOUT_S,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        version: str | None = None,
        token: str | None = None,
        allowed_origins: Sequence[str] = (),
        max_messages_per_s: float = MAX_MESSAGES_PER_S,
        send_buffer_bytes: int | None = SEND_BUFFER_BYTES,
    ) -> None:
        require_token_off_loopback(host, token, "the WebSocket stream", "read it")
        self._host = host
        self._port = port
        self._settings: dict[str, Any] = {
            "host": host,
            "port": port,
            "avatar_profile": avatar_profile,
            "bones": None if bones is None else tuple(bones),
            "stall_timeout_s": stall_timeout_s,
            "max_message_bytes": max_message_bytes,
            "version": version,
            "token": token,
            "allowed_origins": tuple(allowed_origins),
            "max_messages_per_s": max_messages_per_s,
            "send_buffer_bytes": send_buffer_bytes,
        }
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: str | None = None
        self._bound_port: int | None = None
        self._client_count = 0
        self._closing = False
        self._child_gone = False
        self._send_failed = False
        self.dropped = 0
        """Frames not handed over because the child was behind (its buffer full)."""

    # Public API --------------------------------------------------------------------------

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the child, bind and start serving; returns once listening.

        Raises:
            SenderError: the port is in use, the address cannot be bound, or the child did not
                start (one line naming the cause).
        """
        if self._proc is not None:
            return
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            parent.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, FRAME_BUFFER_BYTES)
            self._proc = subprocess.Popen(
                [sys.executable, "-m", CHILD_MODULE, str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                process_group=0,  # signals to the engine's group (Ctrl-C, timeout, systemd) skip it
            )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self._sock = parent
        self._ready.clear()
        self._start_error = None
        self._bound_port = None
        self._closing = False
        self._child_gone = False
        settings = dict(self._settings, log_level=_forwarded_level())
        try:
            parent.send(pickle.dumps(settings, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError as exc:  # the child died before reading its settings
            self._stop_child(timeout_s=2.0)
            raise SenderError(_start_failure(timeout_s, exited=True)) from exc
        self._reader = threading.Thread(target=self._read_child, name="vtuber-websocket-child", daemon=True)
        self._reader.start()
        try:
            ready = self._ready.wait(timeout_s)
        except BaseException:  # Ctrl-C while the child starts: leave nothing running
            self._stop_child(timeout_s=2.0)
            raise
        if not ready or self._bound_port is None:
            error, exited = self._start_error, self._child_gone
            self._stop_child(timeout_s=2.0)
            raise SenderError(error or _start_failure(timeout_s, exited))
        logger.debug("WebSocket server process %d serves port %d", self._proc.pid, self.port)

    @property
    def port(self) -> int:
        """The bound TCP port (the requested one until ``start``)."""
        return self._bound_port if self._bound_port is not None else self._port

    @property
    def client_count(self) -> int:
        """Connected clients that have received ``hello`` (as last reported by the child)."""
        return self._client_count

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (for memory accounting), else None."""
        return self._proc.pid if self._proc is not None else None

    def publish(self, pose: AvatarPose, *, sent_wall_s: float) -> None:
        """Hand one frame to the child; never blocks (call from the engine thread).

        Args:
            pose: the frame to send.
            sent_wall_s: wall-clock Unix time in seconds, put in the frame's ``sent`` field.
        """
        sock = self._sock
        if sock is None or self._client_count == 0:
            return  # nobody reads: skip even the packing, as the server skips encoding
        try:
            sock.send(pose_to_wire(pose, sent_wall_s), socket.MSG_DONTWAIT)
        except BlockingIOError:
            self.dropped += 1
        except OSError as exc:
            if exc.errno in _CHILD_GONE_ERRNOS:
                return  # the child is gone: the reader thread reports that, once
            self.dropped += 1  # EMSGSIZE: a frame larger than the channel takes
            if not self._send_failed:
                self._send_failed = True
                logger.warning("cannot hand a frame to the WebSocket server process: %s", exc)
        else:
            self._send_failed = False

    def send(self, pose: AvatarPose, time_s: float) -> None:
        """``Sender`` protocol: ``publish`` stamped with the wall clock now (``time_s`` unused)."""
        self.publish(pose, sent_wall_s=time.time())

    def close(self, timeout_s: float = 5.0) -> None:
        """Close every client (1001) and end the child; idempotent."""
        if self._proc is None:
            return
        self._stop_child(timeout_s)

    def __enter__(self) -> WebSocketServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Parent side -------------------------------------------------------------------------

    def _stop_child(self, timeout_s: float) -> None:
        proc, sock, reader = self._proc, self._sock, self._reader
        self._closing = True
        self._client_count = 0
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_WR)  # end of stream: the child closes its clients
            except OSError:
                pass
        if proc is not None:
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("the WebSocket server process did not stop within %.1f s; killing it", timeout_s)
                proc.kill()
                proc.wait()
        if reader is not None:
            reader.join(timeout_s)
        if sock is not None:
            sock.close()
        self._proc = self._sock = self._reader = None

    def _read_child(self) -> None:
        """Reader thread: the child's reports until it closes its end."""
        sock = self._sock
        assert sock is not None
        while True:
            try:
                data = sock.recv(MAX_MESSAGE_READ)
            except OSError:
                break
            if not data:
                break
            try:
                kind, *rest = pickle.loads(data)
            except Exception:  # noqa: BLE001 - our own child; never expected
                logger.warning("unreadable report from the WebSocket server process (%d bytes)", len(data))
                continue
            if kind == "ready":
                self._bound_port = int(rest[0])
                self._ready.set()
            elif kind == "error":
                self._start_error = str(rest[0])
                self._ready.set()
            elif kind == "clients":
                self._client_count = int(rest[0])
            elif kind == "log":
                levelno, name, message = rest
                logging.getLogger(name).log(levelno, "%s", message)
        self._child_gone = True  # start() tells "exited at start" from "did not start in time"
        self._client_count = 0
        if not self._closing and self._ready.is_set() and self._start_error is None:
            logger.error(
                "the WebSocket server process stopped (%s); the WebSocket stream is off, the other outputs go on",
                _how_it_ended(self._proc),
            )
        self._ready.set()


def _start_failure(timeout_s: float, exited: bool) -> str:
    """The one line for a child that never reported ready (its own error, if any, is logged or
    printed above it)."""
    what = "exited at start" if exited else f"did not start within {timeout_s:g} s"
    return f"the WebSocket server process {what}; see the lines above, or run without [websocket] to go on without it"


def _how_it_ended(proc: subprocess.Popen[bytes] | None) -> str:
    """'exit code N' or 'killed by SIGNAME' for a child whose channel just closed."""
    if proc is None:
        return "exit code unknown"
    try:
        code = proc.wait(1.0)  # the channel closes a moment before the process is reaped
    except subprocess.TimeoutExpired:
        return "still running, channel closed"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _forwarded_level() -> int:
    """The most verbose level the parent would show from the server's loggers."""
    return min(logging.getLogger(n).getEffectiveLevel() for n in ("vtuber.send.websocket", "websockets"))


# ---------------------------------------------------------------------------------------------
# Child side
# ---------------------------------------------------------------------------------------------


class _ParentLogHandler(logging.Handler):
    """Sends each log record to the parent as ``("log", level, logger name, message)``."""

    def __init__(self, tell: Callable[..., None]) -> None:
        super().__init__()
        self._tell = tell

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            if len(message) > MAX_LOG_CHARS:  # keep the head and the tail (a traceback's cause)
                half = MAX_LOG_CHARS // 2
                message = f"{message[:half]}\n... ({len(message) - 2 * half} characters cut) ...\n{message[-half:]}"
            self._tell("log", record.levelno, record.name, message)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def main(argv: Sequence[str]) -> int:
    """Child entry point: ``python -m vtuber.send.websocket_process FD`` (started by the parent)."""
    if len(argv) != 2 or not argv[1].isdigit():
        sys.stderr.write(f"usage: python -m {CHILD_MODULE} FD (started by vtuber's engine, not by hand)\n")
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM):  # the engine decides the shutdown (it closes the channel)
        signal.signal(sig, signal.SIG_IGN)
    _yield_to_the_engine()
    sock = socket.socket(fileno=int(argv[1]))
    lock = threading.Lock()  # reports come from this thread and from the server's loop thread

    def tell(*message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with lock:
            try:
                sock.send(data)
            except OSError:
                pass  # the parent is gone; the frame loop sees the end of the stream

    data = sock.recv(MAX_MESSAGE_READ)
    if not data:
        return 0  # the parent went away before it sent the settings
    settings = pickle.loads(data)
    root = logging.getLogger()
    root.handlers[:] = [_ParentLogHandler(tell)]
    root.setLevel(settings.pop("log_level"))
    try:
        server = WebSocketServer(**settings, on_clients=lambda n: tell("clients", n))
        server.start()
    except SenderError as exc:
        tell("error", str(exc))
        return 1
    tell("ready", server.port)
    try:
        _relay_frames(sock, server)
    finally:
        server.close()
        sock.close()
    return 0


def _yield_to_the_engine() -> None:
    """SCHED_BATCH (Linux): a frame arriving wakes this process without preempting the engine
    thread on its core; it runs on a free core or at the next scheduler tick instead."""
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        pass  # not Linux: ordinary scheduling


def _relay_frames(sock: socket.socket, server: WebSocketServer) -> None:
    """Publish the newest waiting frame until the parent closes its end."""
    buffer = bytearray(MAX_MESSAGE_READ)
    view = memoryview(buffer)
    bad_frames = 0
    while True:
        try:
            size = sock.recv_into(buffer)
        except OSError:  # reset: the engine died with reports unread
            return
        if size == 0:
            return
        ended = False
        while True:  # newest only: later frames overwrite the buffer, the last one wins
            try:
                newer = sock.recv_into(buffer, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            except OSError:
                newer = 0
            if newer == 0:  # the parent closed after these frames
                ended = True
                break
            size = newer
        data = bytes(view[:size])
        try:
            pose, sent_wall_s = pose_from_wire(data)
        except ValueError as exc:
            bad_frames += 1
            if bad_frames == 1:
                logger.warning("skipping a damaged frame from the engine: %s", exc)
        else:
            server.publish(pose, sent_wall_s=sent_wall_s)
        if ended:
            return


if __name__ == "__main__":
    sys.exit(main(sys.argv))
