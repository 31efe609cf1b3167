"""Helpers for the browser-source page tests: schema-1 messages, a test-only WebSocket engine,
a Playwright page wrapper and pixel masks for the default avatar."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed

VIEWPORT = {"width": 480, "height": 480}


# ---------------------------------------------------------------------------------------------
# Schema 1 messages
# ---------------------------------------------------------------------------------------------


def yaw_quaternion(deg: float) -> list[float]:
    """Rotation about +Y (internal/glTF frame): positive turns the face toward the avatar's left."""
    h = math.radians(deg) / 2
    return [0.0, math.sin(h), 0.0, math.cos(h)]


IDENTITY = [0.0, 0.0, 0.0, 1.0]


def hello() -> dict[str, Any]:
    return {
        "type": "hello",
        "schema": 1,
        "engine": "vtuber-test 0.0",
        "coords": "gltf",
        "names": "profile",
        "avatar_profile": "vrm1",
        "bones": ["Hips", "Neck", "Head", "LeftUpperArm", "RightUpperArm"],
    }


def frame(
    index: int,
    t: float,
    yaw: float = 0.0,
    blendshapes: dict[str, float] | None = None,
    bones: dict[str, list[float]] | None = None,
) -> dict[str, Any]:
    """A schema-1 frame: the head turned by ``yaw`` degrees (on the Head bone), arms relaxed."""
    down = math.radians(70) / 2
    all_bones = {
        "Neck": IDENTITY,
        "Head": yaw_quaternion(yaw),
        # arms down-ish from the T-pose: left arm about -Z, right arm about +Z
        "LeftUpperArm": [0.0, 0.0, -math.sin(down), math.cos(down)],
        "RightUpperArm": [0.0, 0.0, math.sin(down), math.cos(down)],
    }
    all_bones.update(bones or {})
    return {
        "type": "frame",
        "schema": 1,
        "index": index,
        "t": t,
        "sent": time.time(),
        "tracking": {"face": True, "pose": False, "left_hand": False, "right_hand": False},
        "head": {
            "rotation": yaw_quaternion(yaw),
            "position": [0.0, 0.0, -0.6],
            "euler_deg": {"yaw": yaw, "pitch": 0.0, "roll": 0.0},
        },
        "root": {"rotation": IDENTITY, "position": [0.0, 0.0, 0.0]},
        "bones": {name: {"rotation": q} for name, q in all_bones.items()},
        "blendshapes": {
            "blink": 0.0,
            "blinkLeft": 0.0,
            "blinkRight": 0.0,
            "aa": 0.0,
            **(blendshapes or {}),
        },
    }


# ---------------------------------------------------------------------------------------------
# A test-only WebSocket engine (the real sender is vtuber.send.websocket; not used here)
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeEngine:
    """Serves schema-1 messages on ws://127.0.0.1:PORT from its own asyncio thread.

    ``start()``/``stop()`` can be repeated on the same port (an engine restart);
    ``send(msg)`` broadcasts one message; ``stream(make, fps, seconds)`` sends ``make(i, t)``
    frames at a steady rate with ``sent`` stamped just before sending.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"ws://127.0.0.1:{port}"
        self.paths: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-engine", daemon=True
        )
        self._thread.start()
        self._server: Any = None
        self._clients: set[Any] = set()

    def _run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _handler(self, conn: Any) -> None:
        self.paths.append(conn.request.path)
        self._clients.add(conn)
        try:
            await conn.send(json.dumps(hello()))
            async for _ in conn:
                pass
        except ConnectionClosed:
            pass  # the page went away or the engine stopped
        finally:
            self._clients.discard(conn)

    def start(self) -> FakeEngine:
        from websockets.asyncio.server import serve

        async def go() -> Any:
            return await serve(self._handler, "127.0.0.1", self.port)

        self._server = self._run(go())
        return self

    def stop(self) -> None:
        async def go() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
            self._server = None

        self._run(go())

    @property
    def clients(self) -> int:
        return len(self._clients)

    def send(self, msg: dict[str, Any]) -> None:
        async def go() -> None:
            text = json.dumps(msg)
            for c in list(self._clients):
                with contextlib.suppress(ConnectionClosed):
                    await c.send(text)

        self._run(go())

    def stream(
        self,
        make: Callable[[int, float], dict[str, Any]],
        fps: float,
        seconds: float,
        start_index: int = 0,
    ) -> int:
        async def go() -> int:
            period = 1.0 / fps
            t0 = time.monotonic()
            i = 0
            while time.monotonic() - t0 < seconds:
                target = t0 + i * period
                await asyncio.sleep(max(0.0, target - time.monotonic()))
                msg = make(start_index + i, target - t0)
                msg["sent"] = time.time()
                text = json.dumps(msg)
                for c in list(self._clients):
                    with contextlib.suppress(ConnectionClosed):
                        await c.send(text)
                i += 1
            return start_index + i

        return self._run(go(), timeout=seconds + 10)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


class Page:
    """A Playwright page on the browser-source page, with its console collected."""

    def __init__(self, browser: Any, url: str) -> None:
        self.console: list[tuple[str, str]] = []
        self.page = browser.new_page(viewport=VIEWPORT)
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.goto(url)

    def state(self, key: str | None = None) -> Any:
        js = "window.__vtuber" + (f"[{json.dumps(key)}]" if key else "")
        return self.page.evaluate(f"JSON.parse(JSON.stringify({js}))")

    def wait(self, js_condition: str, timeout_ms: int = 30000) -> None:
        self.page.wait_for_function(f"window.__vtuber && ({js_condition})", timeout=timeout_ms)

    def wait_applied(self, index: int, settle_ms: int = 300) -> None:
        """Wait until frame ``index`` was rendered, then let interpolation settle."""
        self.wait(f"window.__vtuber.appliedIndex >= {index}")
        self.page.wait_for_timeout(settle_ms)

    def rgba(self) -> np.ndarray:
        """A screenshot over a transparent background as an (H, W, 4) uint8 array."""
        from PIL import Image

        png = self.page.screenshot(omit_background=True)
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))

    def errors(self) -> list[str]:
        return [f"{k}: {t}" for k, t in self.console if k in ("error", "pageerror")]

    def close(self) -> None:
        self.page.close()


# ---------------------------------------------------------------------------------------------
# Pixel helpers for the default avatar (blue irises, white eye-whites, transparent background)
# ---------------------------------------------------------------------------------------------


def iris_mask(img: np.ndarray) -> np.ndarray:
    r, g, b, a = (img[..., i].astype(int) for i in range(4))
    return (a > 200) & (b > 120) & (b - r > 90) & (b - g > 25)


def eye_mask(img: np.ndarray, top_fraction: float = 0.62) -> np.ndarray:
    """Iris plus eye-white pixels in the upper part of a ``frame=head`` view."""
    r, g, b, a = (img[..., i].astype(int) for i in range(4))
    white = (a > 200) & (r >= 248) & (g >= 248) & (b >= 248)
    mask = iris_mask(img) | white
    mask[int(img.shape[0] * top_fraction) :] = False
    return mask
