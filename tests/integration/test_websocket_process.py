"""WebSocketServerProcess: what running the server in its own process adds, on real processes,
sockets and signals. (Its protocol, limits and access policy are the in-process server's: every
test in test_websocket_server.py and test_network_surface.py runs against both.)"""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.integration.test_websocket_server import WAIT_S, make_pose, open_client, recv_frame, wait_clients
from vtuber.encode.ws_json import encode_frame
from vtuber.errors import SenderError
from vtuber.send.websocket_process import WebSocketServerProcess, supported

pytestmark = pytest.mark.skipif(not supported(), reason="needs AF_UNIX SOCK_SEQPACKET (POSIX)")


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_frames_arrive_as_the_encoder_writes_them() -> None:
    with WebSocketServerProcess("127.0.0.1", 0) as server:
        with open_client(server, "?coords=gltf&names=arkit") as (ws, hello):
            assert hello["type"] == "hello"
            wait_clients(server, 1)
            for i in range(30):
                server.publish(make_pose(i), sent_wall_s=1_700_000_000.5 + i)
                text = ws.recv(timeout=WAIT_S)
                assert text == encode_frame(make_pose(i), coords="gltf", names="arkit", sent_wall_s=1_700_000_000.5 + i)


def test_a_stopped_child_never_blocks_publish_and_resumes_with_the_newest_frame() -> None:
    with WebSocketServerProcess("127.0.0.1", 0) as server, open_client(server) as (ws, _):
        wait_clients(server, 1)
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # a child that does not run at all: its buffer fills
        try:
            for i in range(2000):
                server.publish(make_pose(i), sent_wall_s=0.0)
            assert server.dropped > 0
        finally:
            os.kill(pid, signal.SIGCONT)
        # live frames go on every 10 ms (the first may still meet a full buffer and be dropped)
        stale: list[int] = []
        deadline = time.monotonic() + WAIT_S
        for live in itertools.count(5000):
            assert time.monotonic() < deadline, f"no live frame after the stop; got {stale}"
            server.publish(make_pose(live), sent_wall_s=0.0)
            try:
                index = json.loads(ws.recv(timeout=0.01))["index"]
            except TimeoutError:
                continue
            if index >= 5000:
                break
            stale.append(index)
        # of the frames queued while it was stopped, the child sends at most the newest one
        assert len(stale) <= 1, stale


def test_a_crashed_child_is_reported_once_and_publish_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    server = WebSocketServerProcess("127.0.0.1", 0)
    server.start()
    try:
        with open_client(server) as (_ws, _):
            wait_clients(server, 1)
            with caplog.at_level(logging.WARNING):
                os.kill(server.pid, signal.SIGKILL)  # type: ignore[arg-type]
                wait_until(lambda: server.client_count == 0, "the parent never saw the child go")
                for i in range(20):
                    server.publish(make_pose(i), sent_wall_s=0.0)  # must not raise
                wait_until(lambda: "WebSocket server process stopped" in caplog.text, "no error logged")
            assert caplog.text.count("WebSocket server process stopped") == 1
            assert "killed by SIGKILL" in caplog.text
            assert "cannot hand" not in caplog.text  # one line for one fault
    finally:
        server.close()


_PARENT = """
import sys, time
from vtuber.send.websocket_process import WebSocketServerProcess
server = WebSocketServerProcess("127.0.0.1", 0)
server.start()
print(server.port, server.pid, flush=True)
time.sleep(60)
"""


def test_the_child_ends_with_a_killed_parent_and_frees_the_port() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        port, child = (int(v) for v in parent.stdout.readline().split())
        assert not port_is_free(port)
        parent.kill()  # SIGKILL: no cleanup code runs in the parent
        parent.wait()
        wait_until(lambda: port_is_free(port), "the orphaned server still holds the port")
        wait_until(lambda: not os.path.exists(f"/proc/{child}") or _is_zombie(child), "the child outlived its parent")
    finally:
        parent.kill()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


_GRACEFUL_PARENT = """
import signal, sys, time
from vtuber.send.websocket_process import WebSocketServerProcess
server = WebSocketServerProcess("127.0.0.1", 0)
server.start()
def stop(signum, frame):
    server.close()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print(server.port, server.pid, flush=True)
time.sleep(60)
"""


def test_a_signal_to_the_engines_whole_group_still_closes_clients_cleanly() -> None:
    """`timeout`, systemd's stop and Ctrl-C signal every process of the group: the server must
    not die under the engine, which closes it (clients get 1001, not a dropped connection)."""
    parent = subprocess.Popen([sys.executable, "-c", _GRACEFUL_PARENT], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert parent.stdout is not None
        port, child = (int(v) for v in parent.stdout.readline().split())
        assert os.getpgid(child) != os.getpgid(parent.pid)
        with connect(f"ws://127.0.0.1:{port}/", open_timeout=WAIT_S) as ws:
            ws.recv(timeout=WAIT_S)  # hello
            os.killpg(parent.pid, signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    ws.recv(timeout=WAIT_S)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
        assert parent.wait(timeout=WAIT_S) == 0
    finally:
        parent.kill()


def test_ctrl_c_in_the_terminal_leaves_the_shutdown_to_the_engine() -> None:
    with WebSocketServerProcess("127.0.0.1", 0) as server, open_client(server) as (ws, _):
        wait_clients(server, 1)
        os.kill(server.pid, signal.SIGINT)  # type: ignore[arg-type]  # what a terminal's Ctrl-C sends the group
        time.sleep(0.2)
        server.publish(make_pose(3), sent_wall_s=0.0)
        assert recv_frame(ws, 3)["index"] == 3


def test_the_childs_log_lines_reach_the_engines_loggers(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        with WebSocketServerProcess("127.0.0.1", 0) as server:
            with pytest.raises(InvalidStatus):
                connect(f"ws://127.0.0.1:{server.port}/", origin="https://evil.example")  # type: ignore[arg-type]
            wait_until(lambda: "foreign Origin https://evil.example" in caplog.text, "the refusal was not logged")
    records = [r for r in caplog.records if "foreign Origin" in r.getMessage()]
    assert records[0].name == "vtuber.send.websocket" and records[0].levelno == logging.WARNING


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policy")
def test_the_child_runs_as_batch_so_its_wakeups_do_not_preempt_the_engine() -> None:
    with WebSocketServerProcess("127.0.0.1", 0) as server:
        assert os.sched_getscheduler(server.pid) == os.SCHED_BATCH  # type: ignore[arg-type]
        assert os.sched_getscheduler(0) != os.SCHED_BATCH  # the engine itself is untouched


def test_a_child_that_cannot_start_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import vtuber.send.websocket_process as module

    monkeypatch.setattr(module, "CHILD_MODULE", "vtuber.no_such_module")  # the child exits at once
    server = WebSocketServerProcess("127.0.0.1", 0)
    with pytest.raises(SenderError, match="exited at start") as info:
        server.start(timeout_s=10.0)
    assert "\n" not in str(info.value)
    assert server.pid is None and server.client_count == 0
    server.close()  # nothing to close: no error
