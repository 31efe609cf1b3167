"""``vtuber bench throughput``, ``latency`` and ``soak``: the engine end to end on real clips.

* throughput: each clip through the whole engine (track, solve, smooth, retarget, encode and
  send to a real VMC socket and a running WebSocket server) as fast as possible, per tracking
  mode; frames per second and per-stage p50/p95/p99.
* latency: a live source that delivers frames faster than the engine can take them; the
  capture-to-send latency must stay bounded (frames are dropped, never queued).
* soak: a long paced run with VMC, WebSocket clients and recording on; resident memory and
  frame rate sampled over time.

Numbers go to a Markdown table (and a PNG plot) in docs/benchmarks.md between markers, so each
bench rewrites only its own section.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vtuber.capture.video import VideoFileSource
from vtuber.engine import Engine
from vtuber.records import Frame
from vtuber.retarget.profile import load_profile
from vtuber.send.udp import VmcSender
from vtuber.send.websocket_process import WebSocketServerProcess
from vtuber.smooth import RigSmoother
from vtuber.telemetry import STAGES, Telemetry

ALL_FRAMES = 1_000_000  # telemetry window for benches: keep every frame


@dataclass
class ThroughputResult:
    clip: str
    mode: str
    resolution: str
    frames: int
    fps: float
    stages_ms: dict[str, tuple[float, float, float]]
    after_tracking_ms: tuple[float, float, float]
    latency_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)
    extra: dict[str, Any] = field(default_factory=dict)
    after_tracking_cpu_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """The engine thread's CPU time after tracking (its cost, without time other processes had the core)."""
    frame_stages_ms: dict[str, np.ndarray] = field(default_factory=dict)
    """Per stage, every frame's duration in milliseconds in frame order (``bench_clip``): for
    frame-by-frame analysis such as ``bench/slow_frames.py``."""


def _stats(tel: Telemetry) -> tuple[dict[str, tuple[float, float, float]], tuple[float, float, float]]:
    stages = {}
    for name in STAGES:
        s = tel.stage(name)
        stages[name] = (s.p50_ms, s.p95_ms, s.p99_ms)
    a = tel.after_tracking()
    return stages, (a.p50_ms, a.p95_ms, a.p99_ms)


_SINK_SCRIPT = """
import socket, sys, threading
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.settimeout(0.2)
print(sock.getsockname()[1], flush=True)
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
count = 0
while not done.is_set():
    try:
        sock.recv(65536)
        count += 1
    except OSError:
        pass
print(count, flush=True)
"""


class _UdpSink:
    """A real UDP receiver in its own process, as VSeeFace or Warudo would be: it counts and
    discards what the VMC sender sends, without taking the engine's interpreter lock."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _SINK_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        self.port = int(self._proc.stdout.readline())
        self.datagrams = 0

    def close(self) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.close()
        self.datagrams = int(self._proc.stdout.readline() or 0)
        self._proc.wait(timeout=5.0)


_WS_READERS_SCRIPT = """
import asyncio, sys
from websockets.asyncio.client import connect
url, count = sys.argv[1], int(sys.argv[2])
received = [0] * count
async def reader(i, ready):
    async with connect(url) as ws:
        await ws.recv()  # hello
        ready.set()
        async for _ in ws:
            received[i] += 1
async def main():
    readies = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(reader(i, readies[i])) for i in range(count)]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 10)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(sum(received), flush=True)
asyncio.run(main())
"""


class _WsReaders:
    """``count`` real WebSocket clients reading every frame, in their own process as OBS browser
    sources would be (their decoding does not take the engine's interpreter lock)."""

    def __init__(self, url: str, count: int) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WS_READERS_SCRIPT, url, str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {count} WebSocket bench readers did not connect to {url}")
        self.frames = 0

    def close(self) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.close()
        self.frames = int(self._proc.stdout.readline() or 0)
        self._proc.wait(timeout=5.0)


class _WsClients:
    """``count`` real WebSocket clients reading every message in a background event loop."""

    def __init__(self, url: str, count: int) -> None:
        self.received = [0] * count
        self._url = url
        self._count = count
        self._loop = asyncio.new_event_loop()
        self._tasks: list[asyncio.Task[None]] = []
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        for i in range(count):
            asyncio.run_coroutine_threadsafe(self._client(i), self._loop)

    async def _client(self, i: int) -> None:
        from websockets.asyncio.client import connect

        async with connect(self._url) as ws:
            async for _ in ws:
                self.received[i] += 1

    async def _cancel_all(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._cancel_all(), self._loop).result(timeout=2.0)
        except Exception:  # noqa: BLE001 - best effort at bench shutdown
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2.0)


def _engine(source: Any, tracker: Any, senders: Sequence[Any], *, pace: bool, on_frame: Any = None) -> Engine:
    engine = Engine(
        source=source,
        tracker=tracker,
        smoother=RigSmoother("balanced"),
        profile=load_profile("vrm0"),
        senders=list(senders),
        pace=pace,
        on_frame=on_frame,
    )
    engine.telemetry = Telemetry(window=ALL_FRAMES)
    return engine


WS_READERS = 3  # browser sources reading the WebSocket stream (the soak's count)


def bench_clip(clip: Path, mode: str, *, face_backend: str = "mesh", warmup: int = 10, ws_readers: int = WS_READERS) -> ThroughputResult:
    """One clip through the full engine, unpaced, with real VMC and WebSocket outputs: a VMC
    receiver and ``ws_readers`` WebSocket clients, each in a child process, so the stream is
    really encoded and sent every frame (without clients the server skips the encoding)."""
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    with ExitStack() as stack:
        sink = _UdpSink()
        stack.callback(sink.close)
        vmc = stack.enter_context(VmcSender([("127.0.0.1", sink.port)]))
        ws = WebSocketServerProcess("127.0.0.1", 0)  # as `vtuber run` serves it
        ws.start()
        stack.callback(ws.close)
        if ws_readers:
            readers = _WsReaders(f"ws://127.0.0.1:{ws.port}/", ws_readers)
            stack.callback(readers.close)
            _wait_for_clients(ws, ws_readers)
        tracker = stack.enter_context(MediaPipeTracker(mode, face_backend=face_backend))  # type: ignore[arg-type]
        warm = VideoFileSource(clip)  # warm the graphs up so start-up does not count
        for _ in range(warmup):
            frame = warm.read()
            if frame is None:
                break
            tracker.track(Frame(frame.image, frame.t - 1000.0, frame.index))
        warm.close()
        source = VideoFileSource(clip)
        engine = _engine(source, tracker, [vmc, ws], pace=False)
        server_cpu_s = process_cpu_s(ws.pid)
        summary = engine.run()
        server_cpu_s = process_cpu_s(ws.pid) - server_cpu_s  # the work moved out of the engine
    cap = VideoFileSource(clip)
    first = cap.read()
    cap.close()
    size = f"{first.image.shape[1]}x{first.image.shape[0]}" if first is not None else "?"
    stages, after = _stats(engine.telemetry)
    cpu = engine.telemetry.after_tracking_cpu()
    return ThroughputResult(
        clip.name, mode, size, summary.frames, summary.fps, stages, after,
        after_tracking_cpu_ms=(cpu.p50_ms, cpu.p95_ms, cpu.p99_ms),
        extra={"ws_process_cpu_ms_per_frame": 1000.0 * server_cpu_s / max(summary.frames, 1)},
        frame_stages_ms={name: engine.telemetry.stage_durations_ms(name) for name in STAGES},
    )


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds a process has used (Linux /proc; NaN when unknown)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _wait_for_clients(ws: WebSocketServerProcess, count: int, timeout_s: float = 10.0) -> None:
    """Until the server process reports ``count`` clients (it skips frames while it has none)."""
    deadline = time.monotonic() + timeout_s
    while ws.client_count < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the WebSocket server reports {ws.client_count} of {count} bench readers")
        time.sleep(0.01)


class LiveFastSource:
    """A live source replaying decoded frames at ``fps`` on the wall clock (faster than the
    engine), stamping each with ``time.monotonic()`` like a camera."""

    live = True

    def __init__(self, frames: list[np.ndarray], fps: float, seconds: float) -> None:
        self.name = f"live replay at {fps:.0f} fps"
        self.nominal_fps: float | None = fps
        self._frames = frames
        self._period = 1.0 / fps
        self._end = None
        self._seconds = seconds
        self._index = 0
        self._next = 0.0

    def read(self) -> Frame | None:
        now = time.monotonic()
        if self._end is None:
            self._end = now + self._seconds
            self._next = now
        if now >= self._end:
            return None
        delay = self._next - now
        if delay > 0:
            time.sleep(delay)
        self._next += self._period
        image = self._frames[self._index % len(self._frames)]
        frame = Frame(image, time.monotonic(), self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        pass


def bench_latency(clip: Path, *, source_fps: float = 240.0, seconds: float = 10.0) -> ThroughputResult:
    """Capture-to-send latency with a live source faster than the engine."""
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    cap = VideoFileSource(clip)
    frames = []
    while (f := cap.read()) is not None:
        frames.append(f.image)
    cap.close()
    with ExitStack() as stack:
        sink = _UdpSink()
        stack.callback(sink.close)
        vmc = stack.enter_context(VmcSender([("127.0.0.1", sink.port)]))
        tracker = stack.enter_context(MediaPipeTracker("face", face_backend="mesh"))
        source = LiveFastSource(frames, source_fps, seconds)
        engine = _engine(source, tracker, [vmc], pace=True)
        summary = engine.run()
    stages, after = _stats(engine.telemetry)
    lat = engine.telemetry.latency()
    frame_interval_ms = 1000.0 / summary.fps if summary.fps else float("inf")
    result = ThroughputResult(
        clip.name, f"face, live {source_fps:.0f} fps source", f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        summary.frames, summary.fps, stages, after, (lat.p50_ms, lat.p95_ms, lat.p99_ms),
    )
    result.extra = {
        "source_frames": source._index,
        "dropped": summary.dropped,
        "engine_frame_interval_ms": frame_interval_ms,
        "source_frame_interval_ms": 1000.0 / source_fps,
    }
    return result


def rss_mib(pid: int | None = None) -> float:
    """Resident set size of a process (default: this one), MiB (Linux /proc)."""
    with open(f"/proc/{pid or os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


@dataclass
class SoakResult:
    seconds: float
    frames: int
    samples: list[tuple[float, float, float]]  # (elapsed s, rss MiB, fps over the last interval)
    ws_received: list[int]
    warmup_s: float

    def rss_growth_percent(self) -> float:
        after = [s for s in self.samples if s[0] >= self.warmup_s]
        if len(after) < 2:
            return float("nan")
        return 100.0 * (after[-1][1] - after[0][1]) / after[0][1]

    def fps_first_last(self) -> tuple[float, float]:
        rates = [s[2] for s in self.samples if s[0] >= self.warmup_s]
        if not rates:
            return float("nan"), float("nan")
        k = max(1, len(rates) // 5)
        return float(np.mean(rates[:k])), float(np.mean(rates[-k:]))


def bench_soak(seconds: float, out_dir: Path, *, ws_clients: int = 3, warmup_s: float = 60.0) -> SoakResult:
    """The demo source at 30 fps through the whole engine with VMC, WebSocket clients, a BVH and
    a session recording; RSS and frame rate sampled every second."""
    from vtuber.capture.demo import DemoSource
    from vtuber.record.bvh_file import BvhFileWriter
    from vtuber.record.session import SessionWriter
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    out_dir.mkdir(parents=True, exist_ok=True)
    samples: list[tuple[float, float, float]] = []
    with ExitStack() as stack:
        sink = _UdpSink()
        stack.callback(sink.close)
        vmc = stack.enter_context(VmcSender([("127.0.0.1", sink.port)]))
        ws = WebSocketServerProcess("127.0.0.1", 0)  # as `vtuber run` serves it
        ws.start()
        stack.callback(ws.close)
        clients = _WsClients(f"ws://127.0.0.1:{ws.port}/", ws_clients)
        stack.callback(clients.close)
        tracker = stack.enter_context(MediaPipeTracker("face", face_backend="mesh"))
        source = DemoSource(duration_s=seconds)
        bvh = stack.enter_context(BvhFileWriter(out_dir / "soak.bvh", 30.0, blendshape_csv=out_dir / "soak.csv"))
        session = stack.enter_context(SessionWriter(out_dir / "soak.jsonl", {"source": "demo", "fps": 30.0, "image_size": [480, 480]}))

        def record(frame: Any, lm: Any, rig: Any, pose: Any) -> None:
            bvh.write_rig(rig)
            session.write(lm, rig)

        engine = _engine(source, tracker, [vmc, ws], pace=True, on_frame=record)
        engine.telemetry = Telemetry()  # the default bounded window: memory must not grow
        start = time.monotonic()
        last = [start, 0]

        def sample(e: Engine) -> None:
            now = time.monotonic()
            fps = (e.telemetry.frames - last[1]) / (now - last[0])
            last[0], last[1] = now, e.telemetry.frames
            samples.append((now - start, rss_mib() + rss_mib(ws.pid), fps))  # engine + server process

        summary = engine.run(on_stats=sample, stats_interval_s=1.0)
        received = list(clients.received)
    return SoakResult(summary.elapsed_s, summary.frames, samples, received, warmup_s)


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def throughput_table(results: Sequence[ThroughputResult]) -> str:
    head = (
        "| clip | size | mode | frames | fps | " + " | ".join(f"{s} p50/p95/p99 ms" for s in STAGES)
        + " | after tracking p50/p95 ms | after tracking CPU p50/p95 ms | WebSocket process CPU ms/frame |"
    )
    sep = "|" + "---|" * (8 + len(STAGES))
    rows = [head, sep]
    for r in results:
        cells = " | ".join("{:.2f}/{:.2f}/{:.2f}".format(*r.stages_ms[s]) for s in STAGES)
        rows.append(
            f"| {r.clip} | {r.resolution} | {r.mode} | {r.frames} | {r.fps:.1f} | {cells} | "
            f"{r.after_tracking_ms[0]:.2f}/{r.after_tracking_ms[1]:.2f} | "
            f"{r.after_tracking_cpu_ms[0]:.2f}/{r.after_tracking_cpu_ms[1]:.2f} | "
            f"{r.extra.get('ws_process_cpu_ms_per_frame', float('nan')):.2f} |"
        )
    return "\n".join(rows)


def plot_throughput(results: Sequence[ThroughputResult], out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.clip}\n{r.mode}" for r in results]
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(results)), 4.5))
    bottom = np.zeros(len(results))
    for stage in STAGES:
        values = np.array([r.stages_ms[stage][1] for r in results])
        ax.bar(labels, values, bottom=bottom, label=stage)
        bottom += values
    ax.set_ylabel("p95 per stage, ms (stacked)")
    ax.set_title("vtuber bench throughput")
    ax.legend(fontsize=8)
    plt.setp(ax.get_xticklabels(), fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)


def write_section(doc: Path, key: str, markdown: str) -> None:
    """Replace (or append) the block between ``<!-- bench:KEY -->`` markers in ``doc``."""
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    text = doc.read_text(encoding="utf-8") if doc.is_file() else "# Benchmarks\n"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    if start in text and end in text:
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
