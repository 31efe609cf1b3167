"""The Unity bridge (unity_bridge/) built and tested with Mono against this engine's messages.

``unity_bridge/ci~/build_and_test.sh`` emits messages with ``vtuber.encode.ws_json``, compiles the
protocol core and runs its tests on them, compiles the Unity-facing scripts against UnityEngine /
UniVRM signatures with the UniVRM defines off and on, and runs the core's WebSocket client against
the engine's real server. Mono: ``apt-get install -y --no-install-recommends mono-mcs mono-runtime``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vtuber.encode import ws_json
from vtuber.send.websocket import WebSocketServer

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = ROOT / "unity_bridge"
CI = BRIDGE / "ci~"
MONO_MISSING = shutil.which("mcs") is None or shutil.which("mono") is None
needs_mono = pytest.mark.skipif(
    MONO_MISSING,
    reason="Mono not installed (apt-get install -y --no-install-recommends mono-mcs mono-runtime)",
)
slow = pytest.mark.slow  # one ~6 s build shared by the Mono tests


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("unity_bridge")


@pytest.fixture(scope="module")
def build(build_dir: Path) -> str:
    out = build_dir
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(CI / "build_and_test.sh"), str(out)],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@needs_mono
@slow
def test_build_and_test_script_passes(build: str) -> None:
    assert "== all passed" in build


@needs_mono
@slow
def test_core_tests_pass_on_engine_messages(build: str) -> None:
    match = re.search(r"^core: (\d+) passed, (\d+) failed$", build, re.MULTILINE)
    assert match, build
    passed, failed = int(match[1]), int(match[2])
    assert failed == 0 and passed >= 25, build
    assert "wrote 13 messages (schema 1)" in build


@needs_mono
@slow
def test_unity_scripts_compile_with_and_without_univrm(build: str) -> None:
    for variant in ("none", "univrm0", "univrm1", "both"):
        assert f"unity: compiled Runtime/Unity + Samples~ with defines: {variant}" in build, build


@needs_mono
@slow
def test_client_connects_and_reconnects_to_engine_server(build: str) -> None:
    match = re.search(r"^live: (\d+) passed, (\d+) failed$", build, re.MULTILINE)
    assert match and int(match[2]) == 0 and int(match[1]) >= 5, build


class _Dropper:
    """Drops each connection of a running WebSocketServer once it has been up ``after_s`` (hello
    sent, frames flowing): a transport abort (what the server does to a stalled client, or a killed
    engine) or a 1001 close. Runs on the server's loop; reads its private client set."""

    def __init__(self, server: WebSocketServer, abort: bool, after_s: float) -> None:
        self.server, self.abort, self.after_s = server, abort, after_s
        self.first_seen: dict[object, float] = {}
        self.dropped: list[object] = []

    def poll(self) -> None:
        assert self.server._loop is not None
        asyncio.run_coroutine_threadsafe(self._drop(), self.server._loop).result(5)

    async def _drop(self) -> None:
        now = time.monotonic()
        for client in list(self.server._clients):
            conn = client.conn
            first = self.first_seen.setdefault(conn, now)
            if conn in self.dropped or now - first < self.after_s:
                continue
            self.dropped.append(conn)
            if self.abort:
                conn.transport.abort()
            else:
                await conn.close(1001, "going away")


@needs_mono
@slow
@pytest.mark.parametrize("abort", [True, False], ids=["abort", "close"])
def test_client_reconnects_at_min_delay_after_a_working_connection_drops(
    build: str, build_dir: Path, abort: bool
) -> None:
    """The engine starts late (the client's backoff grows toward 5 s), then drops the first two
    working connections: the client reconnects after the 0.2 s minimum each time and logs both
    drops (CoreTests.exe --live-drops checks and prints the timings)."""
    spec = importlib.util.spec_from_file_location("unity_bridge_live_server", CI / "live_server.py")
    assert spec is not None and spec.loader is not None
    live_server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(live_server)  # free_port() and pose(index), as the live tests use

    drops = 2
    port = live_server.free_port()
    url = f"ws://127.0.0.1:{port}/?coords=unity&names=profile"
    client = subprocess.Popen(
        ["mono", str(build_dir / "bin" / "CoreTests.exe"), "--live-drops", url, str(drops), "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = None
    try:
        time.sleep(3.5)  # engine down: refused at 0, 0.2, 0.6, 1.4, 3.0 s; next try ~6.2 s
        server = WebSocketServer("127.0.0.1", port, avatar_profile="ci", version="ci")
        server.start()
        dropper = _Dropper(server, abort, after_s=0.3)
        index = 0
        deadline = time.monotonic() + 30
        while client.poll() is None and time.monotonic() < deadline:
            server.publish(live_server.pose(index), sent_wall_s=time.time())
            index += 1
            if len(dropper.dropped) < drops:
                dropper.poll()
            time.sleep(0.01)
        output = client.communicate(timeout=10)[0]
    finally:
        if client.poll() is None:
            client.kill()
        if server is not None:
            server.close()
    assert client.returncode == 0, output
    assert re.search(r"^4 passed, 0 failed$", output, re.MULTILINE), output
    assert len(dropper.dropped) == drops, output


def test_package_version_tracks_wire_schema() -> None:
    package = json.loads((BRIDGE / "package.json").read_text(encoding="utf-8"))
    assert package["name"] == "com.vtuber.bridge"
    assert int(package["version"].split(".")[0]) == ws_json.SCHEMA_VERSION
    protocol = (BRIDGE / "Runtime" / "Core" / "Protocol.cs").read_text(encoding="utf-8")
    assert f"public const int SchemaVersion = {ws_json.SCHEMA_VERSION};" in protocol
    assert f'public const string PackageVersion = "{package["version"]}";' in protocol


def test_core_assembly_has_no_engine_reference() -> None:
    asmdef = json.loads((BRIDGE / "Runtime" / "Core" / "Vtuber.Bridge.Core.asmdef").read_text())
    assert asmdef["noEngineReferences"] is True and asmdef["references"] == []
    for source in (BRIDGE / "Runtime" / "Core").glob("*.cs"):
        assert "using UnityEngine" not in source.read_text(encoding="utf-8"), source


def test_univrm_defines_come_from_the_asmdef() -> None:
    asmdef = json.loads((BRIDGE / "Runtime" / "Unity" / "Vtuber.Bridge.asmdef").read_text())
    defines = {d["name"]: d["define"] for d in asmdef["versionDefines"]}
    assert defines == {"com.vrmc.univrm": "VTUBER_UNIVRM0", "com.vrmc.vrm": "VTUBER_UNIVRM1"}
    assert {"Vtuber.Bridge.Core", "VRM", "VRM10"} <= set(asmdef["references"])
    sources = "".join(
        p.read_text(encoding="utf-8") for p in (BRIDGE / "Runtime" / "Unity").glob("*.cs")
    )
    assert "#if VTUBER_UNIVRM0" in sources and "#if VTUBER_UNIVRM1" in sources


def test_every_imported_file_has_a_meta_file() -> None:
    result = subprocess.run(
        [sys.executable, str(CI / "make_meta.py"), "--check"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
