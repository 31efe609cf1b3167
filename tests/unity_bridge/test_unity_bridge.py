"""The Unity bridge (unity_bridge/) built and tested with Mono against this engine's messages.

``unity_bridge/ci~/build_and_test.sh`` emits messages with ``vtuber.encode.ws_json``, compiles the
protocol core and runs its tests on them, compiles the Unity-facing scripts against UnityEngine /
UniVRM signatures with the UniVRM defines off and on, and runs the core's WebSocket client against
the engine's real server. Mono: ``apt-get install -y --no-install-recommends mono-mcs mono-runtime``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vtuber.encode import ws_json

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
def build(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("unity_bridge")
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
