"""The engine's listeners against rogue peers: tokens, foreign origins, oversized frames, garbage
and floods. Real sockets on 127.0.0.1; each attack closes only the attacker."""

from __future__ import annotations

import json
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.integration.test_websocket_server import make_pose
from vtuber.errors import SenderError
from vtuber.send.access import is_loopback
from vtuber.send.websocket import WebSocketServer
from vtuber.send.websocket_process import WebSocketServerProcess

# The clients below live across threads, so they are opened without a with-block on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")


AnyServer = WebSocketServer | WebSocketServerProcess


@pytest.fixture(params=[WebSocketServer, WebSocketServerProcess], ids=["thread", "process"])
def server_class(request: pytest.FixtureRequest) -> type[AnyServer]:
    """Each attack against the server on a thread and in its own process (what `vtuber run` uses)."""
    return request.param  # type: ignore[no-any-return]


def start(server_class: type[AnyServer], **kwargs: object) -> AnyServer:
    server = server_class("127.0.0.1", 0, **kwargs)  # type: ignore[arg-type]
    server.start()
    return server


class Reader:
    """A well-behaved client counting the frames it receives in a thread."""

    def __init__(self, url: str, **kwargs: object) -> None:
        self.ws = connect(url, **kwargs)  # type: ignore[arg-type]
        self.hello = json.loads(self.ws.recv(timeout=5))
        self.frames = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                if json.loads(self.ws.recv())["type"] == "frame":
                    self.frames += 1
        except (ConnectionClosed, OSError):
            pass

    def close(self) -> None:
        self.ws.close()


def publish_for(server: AnyServer, seconds: float, rate_hz: float = 60.0) -> int:
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        server.publish(make_pose(n), sent_wall_s=time.time())
        n += 1
        time.sleep(1.0 / rate_hz)
    return n


def test_non_loopback_bind_requires_a_token(server_class: type[AnyServer]) -> None:
    with pytest.raises(SenderError, match="set an access token"):
        server_class("0.0.0.0", 0)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_wrong_or_missing_token_is_refused_and_the_right_one_accepted(server_class: type[AnyServer]) -> None:
    server = start(server_class, token="s3cret")
    try:
        base = f"ws://127.0.0.1:{server.port}/"
        for query in ("", "?token=wrong"):
            with pytest.raises(InvalidStatus) as info:
                connect(base + query)
            assert info.value.response.status_code == 401
        good = Reader(base + "?token=s3cret")
        bearer = Reader(base, additional_headers={"Authorization": "Bearer s3cret"})
        publish_for(server, 0.5)
        time.sleep(0.2)
        assert good.frames > 0 and bearer.frames > 0
        good.close()
        bearer.close()
    finally:
        server.close()


def test_foreign_browser_origin_is_refused_loopback_pages_accepted(server_class: type[AnyServer]) -> None:
    server = start(server_class, allowed_origins=("https://overlay.example",))
    try:
        base = f"ws://127.0.0.1:{server.port}/"
        with pytest.raises(InvalidStatus) as info:
            connect(base, origin="https://evil.example")  # type: ignore[arg-type]
        assert info.value.response.status_code == 403
        for origin in ("http://127.0.0.1:8766", "http://localhost:8766", "https://overlay.example"):
            client = Reader(base, origin=origin)
            client.close()
        Reader(base).close()  # no Origin: not a browser (OBS plugin, Unity, a script)
    finally:
        server.close()


@pytest.mark.parametrize("attack", ["ten_megabytes", "garbage", "flood"])
def test_attacks_close_only_the_attacker(server_class: type[AnyServer], attack: str) -> None:
    server = start(server_class)
    try:
        base = f"ws://127.0.0.1:{server.port}/"
        victim = Reader(base)
        attacker = connect(base, max_size=None)
        attacker.recv(timeout=5)  # hello
        stop = threading.Event()

        def attack_loop() -> None:
            try:
                if attack == "ten_megabytes":
                    attacker.send("x" * (10 * 1024 * 1024))
                elif attack == "garbage":
                    attacker.send(b"\x00\xff garbage \x13")
                else:  # 10,000 small messages a second
                    while not stop.is_set():
                        for _ in range(100):
                            attacker.send("{}")
                        time.sleep(0.01)
                attacker.recv(timeout=5)
                while True:
                    attacker.recv(timeout=5)
            except (ConnectionClosed, OSError, TimeoutError):
                pass

        thread = threading.Thread(target=attack_loop, daemon=True)
        thread.start()
        sent = publish_for(server, 2.0)
        stop.set()
        thread.join(timeout=10)
        time.sleep(0.2)
        assert attacker.close_code in (1008, 1009), attacker.close_code
        assert victim.frames >= 0.9 * sent, (victim.frames, sent)
        assert server.client_count == 1
        victim.close()
    finally:
        server.close()


def test_handshake_tricks_are_refused(server_class: type[AnyServer]) -> None:
    """Repeated security headers (400), a foreign Host name on a loopback server (403: DNS
    rebinding), and deeply nested JSON inside the size limit (closed 1008, not a server error)."""
    import http.client

    server = start(server_class, token=None)
    try:
        def handshake(headers: list[tuple[str, str]]) -> int:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.putrequest("GET", "/", skip_host=True, skip_accept_encoding=True)
            base = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]
            for k, v in base + headers:
                conn.putheader(k, v)
            conn.endheaders()
            status = conn.getresponse().status
            conn.close()
            return status

        host = ("Host", f"127.0.0.1:{server.port}")
        assert handshake([host]) == 101
        assert handshake([host, ("Origin", "http://127.0.0.1:8766"), ("Origin", "http://127.0.0.1:8766")]) == 400
        assert handshake([("Host", f"evil.example:{server.port}")]) == 403
        client = connect(f"ws://127.0.0.1:{server.port}/")
        client.recv(timeout=5)  # hello
        client.send("[" * 30_000)
        with pytest.raises(ConnectionClosed):
            while True:
                client.recv(timeout=5)
        assert client.close_code == 1008
    finally:
        server.close()


def test_a_token_vouches_for_a_page_from_another_machine(server_class: type[AnyServer]) -> None:
    server = start(server_class, token="s3cret")
    try:
        base = f"ws://127.0.0.1:{server.port}/"
        with pytest.raises(InvalidStatus) as info:
            connect(base, origin="http://192.168.1.5:8766")  # type: ignore[arg-type]
        assert info.value.response.status_code == 401
        Reader(base + "?token=s3cret", origin="http://192.168.1.5:8766").close()
    finally:
        server.close()
