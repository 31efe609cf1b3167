"""Issue 5 acceptance, on real sockets on 127.0.0.1: 10 WebSocket clients (in their own process, as
browser sources are) at 60 Hz each receive
>= 99 % of the frames while an 11th client that never reads slows no one (``publish`` stays
fast, the others' latency does not move) and is dropped once its bounded buffer is full and the
stall timeout has passed."""

from __future__ import annotations

import dataclasses
import gc
import itertools
import json
import math
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tests.integration.test_websocket_server import make_pose, raw_stalled_client
from vtuber.send.websocket import WebSocketServer

RATE_HZ = 60.0
SECONDS = 6.0
READERS = 10
STALL_TIMEOUT_S = 1.0
WAIT_S = 10.0
POSES = 32  # distinct frames cycled through (index and time come from the frame counter)


READERS_SCRIPT = r"""
import asyncio, json, sys, time
from websockets.asyncio.client import connect

url, count, last, wait_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
indices = [[] for _ in range(count)]
delays = [[] for _ in range(count)]
errors = []
connected = 0
finished = []
reported = []

async def client(i):
    global connected
    try:
        async with connect(url, open_timeout=wait_s, close_timeout=1) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello"
            connected += 1
            if connected == count:
                print("ready", flush=True)
            async for message in ws:
                now = time.time()
                frame = json.loads(message)
                indices[i].append(frame["index"])
                delays[i].append(now - frame["sent"])
                if frame["index"] == last:
                    finished.append(i)
                    if len(finished) == count:
                        report()
                    await release.wait()  # stay connected until the test has counted clients
                    return
    except BaseException as exc:
        errors.append(repr(exc))
        report()

def report():
    if not reported:
        reported.append(True)
        print(json.dumps({"indices": indices, "delays_s": delays, "errors": errors}), flush=True)

async def main():
    global release
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.run_in_executor(None, sys.stdin.read).add_done_callback(lambda _: loop.call_soon_threadsafe(release.set))
    try:
        await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(count))), timeout=wait_s + 60.0)
    except asyncio.TimeoutError:
        errors.append("timed out before the last frame")
        report()

asyncio.run(main())
"""


class Readers:
    """``count`` websockets asyncio clients in their own process (as browser sources are),
    reading everything until frame ``last``: per client the frame indices received and the
    delay from the frame's ``sent`` stamp to its arrival (wall clock, same machine)."""

    def __init__(self, url: str, count: int, last: int) -> None:
        self.indices: list[list[int]] = [[] for _ in range(count)]
        self.delays_s: list[list[float]] = [[] for _ in range(count)]
        self.errors: list[str] = []
        self._proc = subprocess.Popen(
            [sys.executable, "-c", READERS_SCRIPT, url, str(count), str(last), str(WAIT_S)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        assert line == "ready", f"readers did not connect (got {line!r})"

    def finish(self) -> None:
        """Wait for every client to reach the last frame and collect what they received."""
        assert self._proc.stdout is not None
        out = json.loads(self._proc.stdout.readline())
        self.indices, self.delays_s, self.errors = out["indices"], out["delays_s"], out["errors"]

    def close(self) -> None:
        """Let the clients disconnect and the process end."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(WAIT_S)


class _GcWatch:
    """A ``gc.callbacks`` entry recording how long each collection held the interpreter."""

    def __init__(self, pauses_s: list[float]) -> None:
        self._pauses_s = pauses_s
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._pauses_s.append(time.perf_counter() - self._started)


def wait_for(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


@pytest.mark.slow
def test_ten_clients_at_60hz_while_an_eleventh_stalls() -> None:
    base = [make_pose(i) for i in range(POSES)]
    poses = [
        dataclasses.replace(base[k % POSES], t=k / RATE_HZ, index=k) for k in range(int(SECONDS * RATE_HZ))
    ]
    with WebSocketServer("127.0.0.1", 0, stall_timeout_s=STALL_TIMEOUT_S) as server:
        readers = Readers(f"ws://127.0.0.1:{server.port}/", READERS, last=len(poses) - 1)
        stalled = None
        try:
            readers.wait_ready()
            wait_for(lambda: server.client_count == READERS, "readers did not connect")
            stalled = raw_stalled_client(server)
            wait_for(lambda: server.client_count == READERS + 1, "stalled client never got hello")

            publish_s = np.zeros(len(poses))
            published_at = np.zeros(len(poses))
            stalled_present = np.zeros(len(poses), dtype=bool)
            dropped_after_s: float | None = None
            period = 1.0 / RATE_HZ
            gc_pauses_s: list[float] = []
            gc_watch = _GcWatch(gc_pauses_s)
            gc.callbacks.append(gc_watch)
            start = time.monotonic()
            last_publish = -math.inf
            for k, pose in enumerate(poses):
                # Absolute deadlines (no drift), but never two frames closer than half a period: a
                # pause of this test process (a garbage collection after hundreds of tests, a
                # preempted VM) must not turn into a burst that the latest-only server rightly
                # coalesces, which would count the harness's stall as the server's loss.
                due = max(start + k * period, last_publish + period / 2)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                last_publish = published_at[k] = time.monotonic()
                stalled_present[k] = server.client_count == READERS + 1
                t0 = time.perf_counter()
                server.publish(pose, sent_wall_s=time.time())
                publish_s[k] = time.perf_counter() - t0
                if dropped_after_s is None and not stalled_present[k]:
                    dropped_after_s = time.monotonic() - start
            elapsed = time.monotonic() - start
            gc.callbacks.remove(gc_watch)
            threads = sorted(t.name for t in threading.enumerate())
            readers.finish()  # every reader has the last frame and is still connected
            clients_at_end = server.client_count
        finally:
            readers.close()
            if stalled is not None:
                stalled.close()

    assert not readers.errors, readers.errors
    n = len(poses)
    received = [len(set(ix)) / n for ix in readers.indices]
    in_order = [all(a < b for a, b in itertools.pairwise(ix)) for ix in readers.indices]
    publish_ms = publish_s * 1000.0
    max_gap_s = float(np.diff(published_at).max())
    during = stalled_present  # frames published while the stalled client was still connected
    after = ~stalled_present
    delays_ms = [np.asarray(d) * 1000.0 for d in readers.delays_s]
    idx = [np.asarray(ix) for ix in readers.indices]
    drop_frame = int(np.argmax(after)) if after.any() else n
    delay_during = np.concatenate([d[i < drop_frame] for d, i in zip(delays_ms, idx)])
    delay_after = np.concatenate([d[i >= drop_frame] for d, i in zip(delays_ms, idx)])
    def pct(x: np.ndarray, q: float) -> float:
        return float(np.percentile(x, q)) if len(x) else float("nan")

    print(
        f"\n{n} frames at {n / elapsed:.2f} Hz over {elapsed:.2f} s; received per client "
        + ", ".join(f"{100 * r:.1f}%" for r in received)
        + f"\npublish ms p50 {np.percentile(publish_ms, 50):.3f} p99 {np.percentile(publish_ms, 99):.3f} "
        f"max {publish_ms.max():.3f} (while stalled client connected p99 {pct(publish_ms[during], 99):.3f})"
        f"\nlongest gap between publishes {1000 * max_gap_s:.1f} ms; garbage collections {len(gc_pauses_s)}, "
        f"longest {1000 * max(gc_pauses_s, default=0.0):.1f} ms"
        f"\nthreads in this process {threads}"
        f"\nmissed per client {[sorted(set(range(n)) - set(ix)) for ix in readers.indices]}"
        f"\nstalled client dropped {dropped_after_s} s after the first frame (stall timeout {STALL_TIMEOUT_S} s)"
        f"\nreader delay ms p50/p99 while stalled client connected {pct(delay_during, 50):.2f}/"
        f"{pct(delay_during, 99):.2f}, after {pct(delay_after, 50):.2f}/{pct(delay_after, 99):.2f}"
    )

    assert n / elapsed >= 0.9 * RATE_HZ  # the harness kept (close to) 60 Hz: this is a 60 Hz test
    assert all(r >= 0.99 for r in received), received
    assert all(in_order)
    # The stalled client is dropped once its bounded buffers are full (64 KiB SO_SNDBUF, booked
    # twice by Linux, plus websockets' 32 KiB write buffer: about half a second of frames) and
    # its send has then waited the stall timeout. With the kernel's autotuned 4 MiB buffer it
    # took ~10 s.
    assert dropped_after_s is not None, "stalled client was never dropped"
    assert STALL_TIMEOUT_S <= dropped_after_s <= STALL_TIMEOUT_S + 2.0
    assert clients_at_end == READERS
    # publish() never waits for clients: a lock and a loop wake-up, tens of microseconds. Its
    # wake-up write releases the GIL, so on a loaded machine a call can wait one GIL switch
    # interval (5 ms) for the other threads; waiting on the stalled client would take the stall
    # timeout (1 s).
    bound_ms = 1.0 + 1000.0 * sys.getswitchinterval()
    assert np.percentile(publish_ms[during], 99) < bound_ms
    assert np.percentile(publish_ms, 99) < bound_ms
    assert publish_ms.max() < 100.0
    # The readers are not slowed down by the stalled client: their delay while it is connected
    # is that of a healthy stream (a frame period or so), not a growing backlog.
    assert np.percentile(delay_during, 99) < 50.0
