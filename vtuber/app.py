"""Builds the engine's parts from an ``EngineConfig`` and runs it (the I/O shell around the core).

Owns what the engine itself must not: opening devices and sockets, signal handling, and the
live telemetry line on the terminal.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import ExitStack

from vtuber.capture.open import open_source
from vtuber.config import EngineConfig, parse_host_port
from vtuber.engine import Engine, RunSummary
from vtuber.retarget.profile import load_profile
from vtuber.send.base import Sender
from vtuber.smooth import RigSmoother, get_preset

logger = logging.getLogger(__name__)


def telemetry_line(engine: Engine) -> str:
    """One status line: fps, per-stage p95 latency, capture-to-send latency, tracking state."""
    tel = engine.telemetry
    stages = " ".join(f"{name} {tel.stage(name).p95_ms:.1f}" for name in ("track", "solve", "smooth", "send"))
    return (
        f"frame {tel.frames} | p95 ms: {stages} | after-track {tel.after_tracking().p95_ms:.2f}"
        f" | latency p95 {tel.latency().p95_ms:.0f} ms | face {engine.face_state}"
    )


class _FpsPrinter:
    """Writes the telemetry line to stderr about once a second (a terminal overwrites it)."""

    def __init__(self) -> None:
        self._last_frames = 0
        self._last_time = time.monotonic()
        self._tty = sys.stderr.isatty()

    def __call__(self, engine: Engine) -> None:
        now = time.monotonic()
        fps = (engine.telemetry.frames - self._last_frames) / max(now - self._last_time, 1e-6)
        self._last_frames, self._last_time = engine.telemetry.frames, now
        line = f"{fps:5.1f} fps | {telemetry_line(engine)}"
        sys.stderr.write(("\r" + line + "\033[K") if self._tty else line + "\n")
        sys.stderr.flush()


def build_senders(config: EngineConfig, stack: ExitStack, profile_name: str) -> list[Sender]:
    senders: list[Sender] = []
    if config.vmc.enabled and config.vmc.targets:
        from vtuber.send.udp import VmcSender

        targets = [parse_host_port(t, "--vmc") for t in config.vmc.targets]
        senders.append(stack.enter_context(VmcSender(targets)))
        logger.info("sending VMC to %s", ", ".join(config.vmc.targets))
    if config.websocket.enabled:
        from vtuber.send.websocket import WebSocketServer

        server = WebSocketServer(host=config.websocket.host, port=config.websocket.port, avatar_profile=profile_name)
        server.start()
        stack.callback(server.close)
        senders.append(server)
        logger.info("WebSocket stream on ws://%s:%d/", config.websocket.host, server.port)
    return senders


def run_engine(config: EngineConfig, *, models_dir_env: str | None = None) -> RunSummary:
    """Open everything the config names, run until done, close everything."""
    from vtuber.cli import install_stop_signals
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    profile = load_profile(config.avatar.profile)
    with ExitStack() as stack:
        source = open_source(config.source)
        stack.callback(source.close)
        tracker = MediaPipeTracker(
            config.track.mode,  # type: ignore[arg-type]
            face_backend=config.track.face_backend,  # type: ignore[arg-type]
            models_dir=config.track.models_dir or models_dir_env or None,
            download_models=config.track.download_models,
        )
        stack.callback(tracker.close)
        senders = build_senders(config, stack, profile.name)
        logger.info("source: %s; tracker: %s; profile: %s", source.name, tracker.name, profile.name)
        engine = Engine(
            source=source,
            tracker=tracker,
            smoother=RigSmoother(get_preset(config.smoothing.preset)),
            profile=profile,
            senders=senders,
            fov_deg=config.camera.horizontal_fov_deg,
            mirror=config.avatar.mirror,
            pace=config.source.pace,
        )
        install_stop_signals(engine.stop)
        printer = _FpsPrinter() if config.run.telemetry else None
        summary = engine.run(
            max_frames=config.run.max_frames, duration_s=config.run.duration_s, on_stats=printer
        )
        if printer is not None and sys.stderr.isatty():
            sys.stderr.write("\n")
        return summary
