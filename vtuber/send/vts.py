"""VTube Studio plugin: injects the default tracking parameters over VTS's public WebSocket API.

Flow per connection (``ws://localhost:8001`` by default; the user enables "Allow Plugin API
access" in VTube Studio's settings):

1. ``APIStateRequest``.
2. Without a stored token: ``AuthenticationTokenRequest``; VTube Studio shows an Allow/Deny
   popup. Allow -> the token is written to ``token_path`` (JSON, mode 0600) and reused in every
   later session. Deny -> ``APIError`` errorID 50: one ERROR line, the plugin stops asking and
   stays idle (state ``"denied"``) until ``request_token_again()`` is called or the program is
   restarted; it never nags the user with popups on its own.
3. ``AuthenticationRequest`` with the token. A token VTube Studio no longer accepts (the user
   revoked it) is deleted and a new one requested once, in the same session.
4. ``InjectParameterDataRequest`` (mode ``set``) with ``encode.vts.tracking_parameters`` for
   every new frame, and the last values again every ``keepalive_s`` without frames: VTube
   Studio drops injected values not refreshed within about a second.

Threads: ``send`` (engine thread) only stores the newest pose in a slot and wakes the plugin's
own asyncio loop (a daemon thread): it never blocks and never raises. A slow VTube Studio only
ever gets the newest frame. Losing the connection (VTube Studio closed or restarted) is logged
once; the plugin reconnects with exponential backoff (``reconnect_min_s`` .. ``reconnect_max_s``)
and logs once more when it is injecting again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from vtuber.encode import vts
from vtuber.errors import SenderError
from vtuber.records import AvatarPose

logger = logging.getLogger(__name__)

PLUGIN_NAME = "vtuber"
PLUGIN_DEVELOPER = "vtuber engine"
KEEPALIVE_S = 0.5
"""Re-inject the last values this often without new frames (VTS forgets them after ~1 s)."""
REQUEST_TIMEOUT_S = 5.0
TOKEN_TIMEOUT_S = 300.0
"""How long the Allow/Deny popup may stay open: the user may be busy."""


def default_token_path(config_home: str | Path | None = None) -> Path:
    """``<config dir>/vtuber/vts_token.json``; ``config_home`` is ``$XDG_CONFIG_HOME`` if the caller
    has it (the CLI reads the environment), else ``~/.config``."""
    base = Path(config_home) if config_home else Path.home() / ".config"
    return base / "vtuber" / "vts_token.json"


class _Denied(Exception):
    """The user clicked Deny."""


class _Retry(Exception):
    """A session ended in a way that warrants reconnecting (message is the reason)."""


@dataclass
class _Slot:
    pose: AvatarPose | None = None
    new: bool = False


class VtsPlugin:
    """A VTube Studio plugin fed one ``AvatarPose`` per frame (implements ``Sender``).

    Args:
        url: VTube Studio's API address.
        token_path: where the authentication token is stored (see ``default_token_path``).
        plugin_name, plugin_developer: shown in VTube Studio's popup (3-32 characters each).
        keepalive_s: re-inject interval without new frames (must be below 1 s).
        reconnect_min_s, reconnect_max_s: backoff bounds between connection attempts.
        reference_distance_m: head distance that maps to FacePositionZ = 0.
        request_timeout_s: wait for an ordinary API response.
        token_timeout_s: wait for the user to click Allow/Deny.

    Raises:
        SenderError: a bad URL, name or interval, or a token folder that cannot be created.
    """

    def __init__(
        self,
        url: str = vts.DEFAULT_URL,
        *,
        token_path: str | Path | None = None,
        plugin_name: str = PLUGIN_NAME,
        plugin_developer: str = PLUGIN_DEVELOPER,
        keepalive_s: float = KEEPALIVE_S,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        reference_distance_m: float = 0.6,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        token_timeout_s: float = TOKEN_TIMEOUT_S,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise SenderError(f"VTube Studio URL {url!r} must look like ws://localhost:8001")
        try:
            vts.token_request(plugin_name, plugin_developer, "check")
        except ValueError as exc:
            raise SenderError(f"VTube Studio plugin: {exc}") from exc
        if not 0 < keepalive_s < 1.0:
            raise SenderError(f"VTube Studio keepalive_s must be between 0 and 1 second, got {keepalive_s}")
        self.url = url
        self.token_path = Path(token_path) if token_path is not None else default_token_path()
        try:
            self.token_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SenderError(f"VTube Studio token folder {self.token_path.parent} cannot be created ({exc})") from exc
        self._name, self._developer = plugin_name, plugin_developer
        self._keepalive_s = keepalive_s
        self._backoff = (reconnect_min_s, reconnect_max_s)
        self._reference_distance_m = reference_distance_m
        self._timeouts = (request_timeout_s, token_timeout_s)
        self._lock = threading.Lock()
        self._slot = _Slot()
        self._wake_pending = False
        self._request_counter = 0
        self._failing = False
        self.state = "connecting"
        """``connecting`` | ``waiting_for_user`` | ``authenticated`` | ``denied`` | ``closed``."""
        self.injected = 0
        """InjectParameterDataRequests sent (frames plus keep-alives)."""
        self.sessions = 0
        """Sessions that reached ``authenticated``."""
        self._loop = asyncio.new_event_loop()
        self._wake = asyncio.Event()
        self._rearm = asyncio.Event()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),), name="vts-plugin", daemon=True)
        self._thread.start()

    # Public API --------------------------------------------------------------------------

    def send(self, pose: AvatarPose, time_s: float) -> None:
        """Hand the newest pose to the plugin thread; returns at once."""
        with self._lock:
            self._slot.pose, self._slot.new = pose, True
            if self._wake_pending or self.state == "closed":
                return
            self._wake_pending = True
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the loop is closed: close() ran on another thread
            pass

    def request_token_again(self) -> None:
        """After a denial: ask VTube Studio for a token again (the popup reappears)."""
        if self.state != "closed":
            self._loop.call_soon_threadsafe(self._rearm.set)

    def close(self) -> None:
        """Stop the plugin thread and close the connection; idempotent."""
        if self.state == "closed" and not self._thread.is_alive():
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=5.0)
        self.state = "closed"
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> VtsPlugin:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # Connection loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            self.state = "connecting"
            denied = False
            try:
                async with connect(self.url, open_timeout=self._timeouts[0], close_timeout=1.0, max_size=2**20) as ws:
                    try:
                        await self._session(ws)
                    except _Denied:  # caught inside so the connection closes normally (1000)
                        denied = True
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError, _Retry) as exc:
                if self._stop.is_set():
                    break
                if not self._failing:
                    self._failing = True
                    lost = "connection lost" if self.state == "authenticated" else "unavailable"
                    logger.warning("VTube Studio at %s %s (%s); reconnecting with backoff", self.url, lost, _why(exc))
            else:
                if not denied:
                    continue  # the session returned because we are stopping
                self.state = "denied"
                logger.error(
                    "VTube Studio: the user denied the plugin token; not asking again until vtuber restarts "
                    "(or request_token_again()); allow it in VTube Studio's popup next time"
                )
                await self._wait_any(self._rearm, self._stop)
                self._rearm.clear()
                delay = self._backoff[0]
                continue
            if self.state == "authenticated":  # a working session ended: reconnect fast, then back off
                delay = self._backoff[0]
            await self._sleep(delay)
            delay = min(delay * 2.0, self._backoff[1])
        self.state = "closed"

    async def _session(self, ws: ClientConnection) -> None:
        await self._call(ws, vts.api_state_request(self._next_id()), "APIStateResponse")
        token = self._load_token()
        if token is None:
            token = await self._get_token(ws)
        authenticated, reason = await self._authenticate(ws, token)
        if not authenticated:
            logger.warning("VTube Studio rejected the stored token (%s); requesting a new one", reason or "no reason")
            self._delete_token()
            authenticated, reason = await self._authenticate(ws, await self._get_token(ws))
            if not authenticated:
                raise _Retry(f"authentication failed: {reason}")
        self.state = "authenticated"
        self.sessions += 1
        again = " again" if self._failing else ""
        self._failing = False
        logger.info("VTube Studio at %s: authenticated; injecting tracking parameters%s", self.url, again)
        await self._inject_until_closed(ws)

    async def _get_token(self, ws: ClientConnection) -> str:
        self.state = "waiting_for_user"
        logger.info("VTube Studio: asking for a plugin token; click Allow in VTube Studio's popup")
        msg_type, data = await self._call(
            ws, vts.token_request(self._name, self._developer, self._next_id()), "AuthenticationTokenResponse", self._timeouts[1]
        )
        token = data.get("authenticationToken")
        if not isinstance(token, str) or not token:
            raise _Retry(f"{msg_type} without a token")
        self._save_token(token)
        return token

    async def _authenticate(self, ws: ClientConnection, token: str) -> tuple[bool, str]:
        text = vts.authentication_request(self._name, self._developer, token, self._next_id())
        _, data = await self._call(ws, text, "AuthenticationResponse")
        return bool(data.get("authenticated")), str(data.get("reason", ""))

    async def _call(self, ws: ClientConnection, text: str, expected: str, timeout: float | None = None) -> tuple[str, dict[str, Any]]:
        """Send a request and wait for the response with the same requestID."""
        request_id = json.loads(text)["requestID"]
        await ws.send(text)
        async with asyncio.timeout(timeout or self._timeouts[0]):
            while True:
                msg_type, rid, data = _parse(await ws.recv())
                if rid != request_id:
                    continue
                if msg_type == "APIError":
                    if data.get("errorID") == vts.ERROR_USER_DENIED_TOKEN:
                        raise _Denied()
                    raise _Retry(f"APIError {data.get('errorID')}: {data.get('message', '')}")
                if msg_type != expected:
                    raise _Retry(f"expected {expected}, got {msg_type}")
                return msg_type, data

    async def _inject_until_closed(self, ws: ClientConnection) -> None:
        reader = asyncio.create_task(self._read_responses(ws))
        stopper = asyncio.create_task(self._stop.wait())
        params: dict[str, float] = {}
        face_found = False
        try:
            while not self._stop.is_set():
                waker = asyncio.create_task(self._wake.wait())
                done, _ = await asyncio.wait({waker, reader, stopper}, timeout=self._keepalive_s, return_when=asyncio.FIRST_COMPLETED)
                waker.cancel()
                if reader in done:
                    reader.result()  # re-raises ConnectionClosed
                    raise _Retry("connection ended")
                if stopper in done:
                    return
                pose = self._take_pose()
                if pose is not None:
                    params = vts.tracking_parameters(pose, reference_distance_m=self._reference_distance_m) or params
                    face_found = bool(pose.tracked.get("face", pose.head is not None))
                if params:
                    await ws.send(vts.inject_request(params, face_found=face_found, request_id=self._next_id()))
                    self.injected += 1
        finally:
            reader.cancel()
            stopper.cancel()

    async def _read_responses(self, ws: ClientConnection) -> None:
        reported: set[Any] = set()
        async for message in ws:
            try:
                msg_type, _, data = _parse(message)
            except _Retry:
                continue
            if msg_type == "APIError" and data.get("errorID") not in reported:
                reported.add(data.get("errorID"))
                logger.warning("VTube Studio refused injected data: APIError %s: %s", data.get("errorID"), data.get("message", ""))

    # Private helpers ---------------------------------------------------------------------

    def _take_pose(self) -> AvatarPose | None:
        with self._lock:
            self._wake.clear()
            self._wake_pending = False
            pose, new = self._slot.pose, self._slot.new
            self._slot.new = False
        return pose if new else None

    def _next_id(self) -> str:
        self._request_counter += 1
        return f"vtuber-{self._request_counter}"

    def _load_token(self) -> str | None:
        try:
            data = json.loads(self.token_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        token = data.get("authenticationToken") if isinstance(data, dict) else None
        same_plugin = isinstance(data, dict) and data.get("pluginName", self._name) == self._name
        return token if isinstance(token, str) and token and same_plugin else None

    def _save_token(self, token: str) -> None:
        data = {"authenticationToken": token, "pluginName": self._name, "pluginDeveloper": self._developer, "url": self.url}
        try:
            tmp = self.token_path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, self.token_path)
        except OSError as exc:  # keep going with the token in memory for this session
            logger.warning("VTube Studio token could not be saved to %s (%s); you will be asked again next time", self.token_path, exc)

    def _delete_token(self) -> None:
        try:
            self.token_path.unlink()
        except OSError:
            pass

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            pass

    @staticmethod
    async def _wait_any(*events: asyncio.Event) -> None:
        tasks = [asyncio.create_task(e.wait()) for e in events]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()


def _parse(message: str | bytes) -> tuple[str, str, dict[str, Any]]:
    try:
        return vts.parse_response(message)
    except ValueError as exc:
        raise _Retry(f"unreadable message from VTube Studio ({exc})") from exc


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]
