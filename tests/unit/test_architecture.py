"""Import boundaries: pure stages do no I/O, and only the tracking adapter imports mediapipe."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vtuber"
PURE = ("solve", "smooth", "retarget", "encode")
FORBIDDEN_IN_PURE = {"socket", "asyncio", "websockets", "mediapipe", "time", "threading", "pythonosc.udp_client"}
# Modules allowed to flip axes or handedness by hand; everyone else calls vtuber.conventions.


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_do_no_io(package: str) -> None:
    for path in (PACKAGE / package).rglob("*.py"):
        bad = {m for m in imported_modules(path) if m in FORBIDDEN_IN_PURE or m.split(".")[0] in {"socket", "asyncio", "websockets", "mediapipe"}}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_only_the_tracking_adapter_imports_mediapipe() -> None:
    allowed = {PACKAGE / "track" / "mediapipe_adapter.py"}
    for path in PACKAGE.rglob("*.py"):
        if path in allowed:
            continue
        assert not any(m.split(".")[0] == "mediapipe" for m in imported_modules(path)), path
