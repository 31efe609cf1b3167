"""``vtuber bench senders``: VMC + WebSocket + OSC at a fixed rate for a long run.

The sending side runs in this process exactly as the engine drives it: one thread calls
``VmcSender.send``, ``WebSocketServer.publish`` and ``OscMapSender.send`` once per frame with a
realistic ``AvatarPose`` (all 55 bones with rest offsets, the Perfect Sync profile's blendshapes,
a moving head), paced on absolute monotonic deadlines ``start + k / rate`` so lateness never
accumulates into drift (a frame more than one period late is skipped and counted, like a live
source).

The receivers run in a child process, as a real VSeeFace/VRChat/overlay would: a UDP socket
that counts VMC bundles (and frames, by their ``/VMC/Ext/T``), a UDP socket that counts the OSC
datagrams of the VRChat map, and WebSocket clients that read every message. Keeping them out of
this process means the resident memory sampled is the sender's alone and the receivers do not
compete for this process's GIL.

Every second (on the frame grid) the bench samples the send rate achieved over that second,
the receive counts and this process's resident memory; at the end it reports rate drift (mean
rate of the first fifth against the last fifth, worst 1-second deviation from the target),
memory growth after a warm-up, and the per-frame send cost p50/p95/p99 (all three outputs, and
each alone).
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from vtuber import geometry
from vtuber.bench.throughput import rss_mib
from vtuber.records import AvatarPose, HeadPose, Rig
from vtuber.retarget import skeleton
from vtuber.retarget.profile import AVATARS_DIR, load_profile
from vtuber.retarget.retarget import retarget
from vtuber.send.osc_map import OscMapSender
from vtuber.send.udp import VmcSender
from vtuber.send.websocket_process import WebSocketServerProcess
from vtuber.solve.arkit import ARKIT_52

VISEMES = ("aa", "ih", "ou", "ee", "oh")
OSC_MAP = AVATARS_DIR / "osc_vrchat.toml"
_RCVBUF = 4 * 1024 * 1024  # receiver socket buffers: a loaded machine must not drop on our side
_START_TIMEOUT_S = 20.0

# Shared counter slots written by the receiver process.
_VMC_BUNDLES, _VMC_FRAMES, _VMC_BAD, _OSC_DATAGRAMS, _WS_CONNECTED, _WS_FIRST = range(6)


# ---------------------------------------------------------------------------------------------
# Realistic frames
# ---------------------------------------------------------------------------------------------


class PoseStream:
    """Deterministic moving ``AvatarPose`` frames: every bone swinging on its own axis and
    phase, a head turning +-25 deg and moving a few cm, every ARKit-52 channel and viseme
    sweeping 0..1, retargeted through a real avatar profile (default Perfect Sync, 59 shapes)."""

    def __init__(self, profile: str = "perfect_sync", seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.profile = load_profile(profile)
        n = len(skeleton.BONES)
        axes = rng.normal(size=(n, 3))
        self._axes = axes / np.linalg.norm(axes, axis=1, keepdims=True)
        self._amplitude = rng.uniform(0.05, 0.6, size=n)  # radians
        self._bone_freq = rng.uniform(0.1, 1.5, size=n)  # Hz
        self._bone_phase = rng.uniform(0.0, 2 * math.pi, size=n)
        channels = ARKIT_52 + VISEMES
        self._channels = channels
        self._shape_freq = rng.uniform(0.2, 3.0, size=len(channels))
        self._shape_phase = rng.uniform(0.0, 2 * math.pi, size=len(channels))

    def pose(self, index: int, t: float) -> AvatarPose:
        angles = self._amplitude * np.sin(2 * math.pi * self._bone_freq * t + self._bone_phase)
        half = angles / 2
        quats = np.concatenate([self._axes * np.sin(half)[:, None], np.cos(half)[:, None]], axis=1)
        bones = {name: quats[i] for i, name in enumerate(skeleton.BONES)}
        weights = 0.5 + 0.5 * np.sin(2 * math.pi * self._shape_freq * t + self._shape_phase)
        blendshapes = dict(zip(self._channels, weights.tolist()))
        deg = math.radians
        head = HeadPose(
            geometry.from_yaw_pitch_roll(
                deg(25) * math.sin(2 * math.pi * 0.3 * t),
                deg(15) * math.sin(2 * math.pi * 0.45 * t + 1.0),
                deg(10) * math.sin(2 * math.pi * 0.2 * t + 2.0),
            ),
            np.array([0.05 * math.sin(2 * math.pi * 0.25 * t), 0.03 * math.sin(2 * math.pi * 0.4 * t), -0.6]),
        )
        bones["Head"] = head.rotation
        rig = Rig(
            t=t,
            index=index,
            head=head,
            blendshapes=MappingProxyType(blendshapes),
            bones=MappingProxyType(bones),
            tracked=MappingProxyType({"face": True, "body": True, "left_hand": True, "right_hand": True}),
        )
        return retarget(rig, self.profile)


# ---------------------------------------------------------------------------------------------
# Receivers (child process)
# ---------------------------------------------------------------------------------------------


def _udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def _receivers_main() -> None:
    """Child process entry (``python -m vtuber.bench.senders --receivers WS_URL N``): print the
    two UDP ports as one JSON line, then the counters as a JSON line every 0.2 s, until stdin
    closes."""
    import json
    import sys
    import threading

    ws_url, ws_clients = sys.argv[2], int(sys.argv[3])
    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    counts = [0] * (_WS_FIRST + ws_clients)

    def emit(obj: Any) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    asyncio.run(_receive(ws_url, ws_clients, counts, emit, stop))


async def _receive(ws_url: str, ws_clients: int, counts: list[int], emit: Callable[[Any], None], stop: Any) -> None:
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()

    class Vmc(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            counts[_VMC_BUNDLES] += 1
            if not data.startswith(b"#bundle\x00"):
                counts[_VMC_BAD] += 1
            if b"/VMC/Ext/T\x00" in data:
                counts[_VMC_FRAMES] += 1

    class Osc(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            counts[_OSC_DATAGRAMS] += 1

    vmc_sock, osc_sock = _udp_socket(), _udp_socket()
    await loop.create_datagram_endpoint(Vmc, sock=vmc_sock)
    await loop.create_datagram_endpoint(Osc, sock=osc_sock)

    async def client(i: int) -> None:
        async with connect(ws_url, max_size=None, open_timeout=_START_TIMEOUT_S) as ws:
            await ws.recv()  # hello
            counts[_WS_CONNECTED] += 1
            async for _ in ws:
                counts[_WS_FIRST + i] += 1

    tasks = [asyncio.create_task(client(i)) for i in range(ws_clients)]
    emit({"vmc_port": vmc_sock.getsockname()[1], "osc_port": osc_sock.getsockname()[1]})
    while not stop.is_set():
        await asyncio.sleep(0.2)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                emit({"error": repr(task.exception())})
                return
        emit({"counts": counts})
    for task in tasks:
        task.cancel()


class _Receivers:
    """The receiver child process and a thread keeping its latest counters."""

    def __init__(self, ws_url: str, ws_clients: int) -> None:
        import json
        import subprocess
        import sys
        import threading

        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]))}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "vtuber.bench.senders", "--receivers", ws_url, str(ws_clients)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        self.counts = [0] * (_WS_FIRST + ws_clients)
        self.error: str | None = None
        self._ports: dict[str, int] | None = None
        self._ready = threading.Event()
        self._json = json
        self._thread = threading.Thread(target=self._read, name="bench-receivers", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            msg = self._json.loads(line)
            if "counts" in msg:
                self.counts = msg["counts"]
            elif "vmc_port" in msg:
                self._ports = msg
                self._ready.set()
            elif "error" in msg:
                self.error = msg["error"]
        self._ready.set()

    def ports(self) -> tuple[int, int]:
        if not self._ready.wait(_START_TIMEOUT_S) or self._ports is None:
            raise RuntimeError(f"receiver process did not start ({self.error or 'no ports'})")
        return self._ports["vmc_port"], self._ports["osc_port"]

    def alive(self) -> bool:
        return self._proc.poll() is None and self.error is None

    def close(self) -> None:
        import subprocess

        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(2.0)
        self._thread.join(2.0)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


@dataclass
class SendersResult:
    rate_hz: float
    seconds: float
    warmup_s: float
    ws_clients: int
    frames_sent: int
    frames_skipped: int
    elapsed_s: float
    active_s: float
    bundles_per_frame: int
    # one row per second: elapsed s, achieved rate Hz, RSS MiB, vmc bundles, vmc frames,
    # osc datagrams received, osc datagrams sent, ws frames per client...
    samples: np.ndarray
    cost_ms: dict[str, tuple[float, float, float]]
    lateness_ms: tuple[float, float, float]
    final: dict[str, Any]
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    cpu_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    # columns of ``samples``
    T, RATE, RSS, VMC_BUNDLES, VMC_FRAMES, OSC_RECV, OSC_SENT, WS0 = range(8)

    def rates_first_last(self) -> tuple[float, float]:
        rates = self.samples[:, self.RATE]
        k = max(1, len(rates) // 5)
        return float(np.mean(rates[:k])), float(np.mean(rates[-k:]))

    def max_rate_deviation(self) -> float:
        rates = self.samples[:, self.RATE]
        return float(np.max(np.abs(rates - self.rate_hz))) if len(rates) else float("nan")

    def rss_after_warmup(self) -> np.ndarray:
        s = self.samples
        return s[s[:, self.T] >= self.warmup_s][:, [self.T, self.RSS]]

    def rss_growth(self) -> tuple[float, float, float, float]:
        """(RSS at warm-up MiB, RSS at end MiB, growth MiB (mean of the last 10 samples minus
        the first 10 after warm-up), least-squares slope MiB per minute)."""
        a = self.rss_after_warmup()
        if len(a) < 2:
            return float("nan"), float("nan"), float("nan"), float("nan")
        k = min(10, max(1, len(a) // 5))
        growth = float(np.mean(a[-k:, 1]) - np.mean(a[:k, 1]))
        slope = float(np.polyfit(a[:, 0], a[:, 1], 1)[0]) * 60.0
        return float(a[0, 1]), float(a[-1, 1]), growth, slope


def run_senders_bench(
    seconds: float = 600.0,
    *,
    rate_hz: float = 60.0,
    ws_clients: int = 3,
    warmup_s: float | None = None,
    profile: str = "perfect_sync",
    osc_map: Path = OSC_MAP,
    progress: Callable[[str], None] | None = None,
) -> SendersResult:
    """Send ``rate_hz`` frames for ``seconds`` to VMC + WebSocket + OSC receivers at once."""
    if warmup_s is None:
        warmup_s = min(60.0, seconds / 5)
    period = 1.0 / rate_hz
    n_slots = math.ceil(seconds * rate_hz) + 2
    n_samples = math.ceil(seconds) + 2
    stream = PoseStream(profile)

    ws = WebSocketServerProcess("127.0.0.1", 0, avatar_profile=profile)  # as `vtuber run` serves it
    ws.start()
    receivers = _Receivers(f"ws://127.0.0.1:{ws.port}/", ws_clients)
    vmc = osc = None
    try:
        vmc_port, osc_port = receivers.ports()
        vmc = VmcSender([("127.0.0.1", vmc_port)])
        osc = OscMapSender(osc_map, targets=[("127.0.0.1", osc_port)])
        deadline = time.monotonic() + _START_TIMEOUT_S
        while ws.client_count < ws_clients or receivers.counts[_WS_CONNECTED] < ws_clients:
            if time.monotonic() > deadline or not receivers.alive():
                raise RuntimeError(
                    f"only {ws.client_count} of {ws_clients} WebSocket clients connected ({receivers.error})"
                )
            time.sleep(0.01)

        from vtuber.encode.vmc import encode_vmc

        bundles_per_frame = len(encode_vmc(stream.pose(0, 0.0), time_s=0.0))

        # Preallocated and written through (np.full, not np.zeros: calloc'd pages would only
        # become resident as the run fills them, ~1 MiB over 10 min) so that the bench's own
        # bookkeeping does not show up as memory growth.
        cost = np.full((n_slots, 3), np.nan)  # vmc, ws, osc (seconds)
        late = np.full(n_slots, np.nan)
        samples = np.full((n_samples, SendersResult.WS0 + ws_clients), np.nan)
        n_sample = 0
        sent = skipped = 0
        load_start = os.getloadavg()
        cpu0 = time.process_time()
        start = time.monotonic()
        end_slot = round(seconds * rate_hz)
        slot = 0
        per_sample = max(1, round(rate_hz))  # frames per 1-s sample, measured send to send
        next_sample_slot = per_sample
        last_sample_t, last_sample_sent = start, 1
        clock = time.perf_counter
        while slot < end_slot:
            target = start + slot * period
            now = time.monotonic()
            if now < target:
                time.sleep(target - now)
                now = time.monotonic()
            elif now - target > period:  # more than a period late: skip to the current slot
                behind = int((now - start) / period) - slot
                skipped += behind
                slot += behind
                if slot >= end_slot:
                    break
                target = start + slot * period
            t = now - start
            send_t = now
            pose = stream.pose(slot, t)
            c0 = clock()
            vmc.send(pose, t)
            c1 = clock()
            ws.publish(pose, sent_wall_s=time.time())
            c2 = clock()
            osc.send(pose, t)
            c3 = clock()
            cost[sent] = (c1 - c0, c2 - c1, c3 - c2)
            late[sent] = now - target
            sent += 1
            slot += 1
            if sent == 1:
                last_sample_t = time.monotonic()
                first_send_t = send_t
            elif slot > next_sample_slot and n_sample < n_samples:
                now = time.monotonic()
                row = samples[n_sample]
                row[SendersResult.T] = now - start
                row[SendersResult.RATE] = (sent - last_sample_sent) / (now - last_sample_t)
                row[SendersResult.RSS] = rss_mib()
                counts = receivers.counts
                row[SendersResult.VMC_BUNDLES] = counts[_VMC_BUNDLES]
                row[SendersResult.VMC_FRAMES] = counts[_VMC_FRAMES]
                row[SendersResult.OSC_RECV] = counts[_OSC_DATAGRAMS]
                row[SendersResult.OSC_SENT] = osc.sent_datagrams
                for i in range(ws_clients):
                    row[SendersResult.WS0 + i] = counts[_WS_FIRST + i]
                n_sample += 1
                last_sample_t, last_sample_sent = now, sent
                next_sample_slot = ((slot - 1) // per_sample + 1) * per_sample  # past any skipped slots
                if progress is not None and n_sample % 30 == 0:
                    progress(
                        f"{row[SendersResult.T]:.0f} s: {row[SendersResult.RATE]:.2f} Hz, RSS {row[SendersResult.RSS]:.1f} MiB, "
                        f"VMC frames {int(row[SendersResult.VMC_FRAMES])}/{sent}, WS {int(row[SendersResult.WS0])}/{sent}"
                    )
        elapsed = time.monotonic() - start
        active_s = (send_t - first_send_t) if sent > 1 else float("nan")  # first send to last send
        cpu_s = time.process_time() - cpu0
        load_end = os.getloadavg()
        time.sleep(1.0)  # let the last frames arrive and be reported
        counts = receivers.counts
        final = {
            "vmc_bundles_sent": sent * bundles_per_frame,
            "vmc_bundles_received": int(counts[_VMC_BUNDLES]),
            "vmc_frames_received": int(counts[_VMC_FRAMES]),
            "vmc_non_bundles": int(counts[_VMC_BAD]),
            "vmc_dropped_by_sender": vmc.dropped_datagrams,
            "osc_sent": osc.sent_datagrams,
            "osc_received": int(counts[_OSC_DATAGRAMS]),
            "ws_received": [int(counts[_WS_FIRST + i]) for i in range(ws_clients)],
            "ws_clients_at_end": ws.client_count,
        }
        ms = cost[:sent] * 1000.0
        total = ms.sum(axis=1)

        def pct(x: np.ndarray) -> tuple[float, float, float]:
            p = np.percentile(x, [50, 95, 99]) if len(x) else [float("nan")] * 3
            return float(p[0]), float(p[1]), float(p[2])

        cost_ms = {"all": pct(total), "vmc": pct(ms[:, 0]), "websocket": pct(ms[:, 1]), "osc": pct(ms[:, 2])}
        cost_ms["all_max"] = (float(total.max()) if sent else float("nan"),) * 3
        return SendersResult(
            rate_hz=rate_hz,
            seconds=seconds,
            warmup_s=warmup_s,
            ws_clients=ws_clients,
            frames_sent=sent,
            frames_skipped=skipped,
            active_s=active_s,
            elapsed_s=elapsed,
            bundles_per_frame=bundles_per_frame,
            samples=samples[:n_sample].copy(),
            cost_ms=cost_ms,
            lateness_ms=pct(late[:sent] * 1000.0),
            final=final,
            load_start=load_start,
            load_end=load_end,
            cpu_s=cpu_s,
        )
    finally:
        receivers.close()
        if vmc is not None:
            vmc.close()
        if osc is not None:
            osc.close()
        ws.close()


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def report(r: SendersResult, command: str) -> str:
    """The Markdown section for docs/benchmarks.md."""
    first, last = r.rates_first_last()
    achieved = (r.frames_sent - 1 + r.frames_skipped) / r.active_s if r.frames_sent > 1 else float("nan")
    rss0, rss1, growth, slope = r.rss_growth()
    f = r.final
    ws_pct = ", ".join(f"{100.0 * n / r.frames_sent:.2f} %" for n in f["ws_received"]) if r.frames_sent else "-"
    vmc_pct = 100.0 * f["vmc_frames_received"] / r.frames_sent if r.frames_sent else float("nan")
    c = r.cost_ms
    cores = os.cpu_count()
    return (
        "## Senders at 60 Hz: VMC + WebSocket + OSC at once\n\n"
        f"`{command}`: realistic frames (all {len(skeleton.BONES)} bones with rest offsets, the Perfect Sync "
        "profile's 59 blendshapes, a moving head) sent at "
        f"{r.rate_hz:.0f} Hz for {r.seconds:.0f} s to a VMC UDP receiver ({r.bundles_per_frame} bundles of <= 1472 bytes "
        f"a frame), {r.ws_clients} reading WebSocket clients and the VRChat OSC map (`avatars/osc_vrchat.toml`, "
        "20 Hz per address, send-on-change) on a UDP receiver, all on 127.0.0.1. Receivers run in a child "
        "process; frames are paced on absolute monotonic deadlines (a frame more than a period late "
        "would be skipped). Rate and resident memory sampled every second; memory after a "
        f"{r.warmup_s:.0f} s warm-up.\n\n"
        f"Machine: {cores} cores shared with other jobs; load average {r.load_start[0]:.2f} at start, "
        f"{r.load_end[0]:.2f} at end; the sending process used {100.0 * r.cpu_s / r.elapsed_s:.1f} % of one core.\n\n"
        "| measure | result |\n|---|---|\n"
        f"| frames sent / skipped (late > 1 period) | {r.frames_sent} / {r.frames_skipped} in {r.elapsed_s:.2f} s |\n"
        f"| achieved rate, first to last send (skipped slots counted as sent) | {achieved:.3f} Hz |\n"
        f"| rate first fifth / last fifth (1-s samples) | {first:.3f} / {last:.3f} Hz (drift {last - first:+.3f} Hz) |\n"
        f"| max deviation of a 1-s sample from {r.rate_hz:.0f} Hz | {r.max_rate_deviation():.3f} Hz |\n"
        f"| send lateness behind the deadline p50 / p95 / p99 | {r.lateness_ms[0]:.3f} / {r.lateness_ms[1]:.3f} / {r.lateness_ms[2]:.3f} ms |\n"
        f"| RSS of the sending process after warm-up / at end (the WebSocket server process not included) | {rss0:.1f} / {rss1:.1f} MiB |\n"
        f"| RSS growth after warm-up (last 10 s vs first 10 s) | {growth:+.2f} MiB; slope {slope:+.4f} MiB/min |\n"
        f"| send cost per frame in the sending thread, all three (WebSocket encoding runs in the server process: not included), p50 / p95 / p99 (max) | {c['all'][0]:.3f} / {c['all'][1]:.3f} / {c['all'][2]:.3f} ms ({c['all_max'][0]:.1f}) |\n"
        f"| VMC encode + send p50 / p95 / p99 | {c['vmc'][0]:.3f} / {c['vmc'][1]:.3f} / {c['vmc'][2]:.3f} ms |\n"
        f"| WebSocket publish (hand-off only) p50 / p95 / p99 | {c['websocket'][0]:.3f} / {c['websocket'][1]:.3f} / {c['websocket'][2]:.3f} ms |\n"
        f"| OSC encode + send p50 / p95 / p99 | {c['osc'][0]:.3f} / {c['osc'][1]:.3f} / {c['osc'][2]:.3f} ms |\n"
        f"| VMC received: frames / bundles | {f['vmc_frames_received']} of {r.frames_sent} ({vmc_pct:.2f} %) / "
        f"{f['vmc_bundles_received']} of {f['vmc_bundles_sent']}; {f['vmc_non_bundles']} not bundles, "
        f"{f['vmc_dropped_by_sender']} dropped by the sender |\n"
        f"| WebSocket frames received per client | {', '.join(map(str, f['ws_received']))} of {r.frames_sent} ({ws_pct}); "
        f"{f['ws_clients_at_end']} clients connected at the end |\n"
        f"| OSC datagrams received / sent | {f['osc_received']} / {f['osc_sent']} |\n"
    )


def plot(r: SendersResult, out_png: Path) -> None:
    """Rate and RSS over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = r.samples
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    a.plot(s[:, r.T], s[:, r.RATE], lw=0.8)
    a.axhline(r.rate_hz, color="k", lw=0.5, ls="--")
    a.set_ylabel("send rate, Hz (1-s)")
    b.plot(s[:, r.T], s[:, r.RSS], lw=0.8)
    b.axvline(r.warmup_s, color="k", lw=0.5, ls=":")
    b.set_ylabel("RSS, MiB")
    b.set_xlabel("seconds")
    a.set_title("vtuber bench senders")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--receivers"]:
        _receivers_main()
