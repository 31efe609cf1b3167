"""A regular (non-editable) install from a real wheel finds the built-in avatar profiles, OSC
maps and the default avatar's generator, which live in the repository's top-level avatars/."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_a_wheel_install_finds_the_builtin_avatar_files(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(dist.glob("vtuber-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for file in ("vrm0.toml", "vrm1.toml", "perfect_sync.toml", "osc_vrchat.toml", "make_default_avatar.py"):
        assert any(n.endswith(f".data/data/share/vtuber/avatars/{file}") for n in names), file

    # A fresh environment holding only the wheel; the dependencies come from this one (a .pth),
    # and the working directory is not the repository.
    env = tmp_path / "env"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True).strip())
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}  # no checkout on the path
    install = subprocess.run(  # --ignore-installed: this environment's own (editable) vtuber is not the target's
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q", "--prefix", str(env), str(wheel)],
        capture_output=True, text=True, env=clean, timeout=600,
    )
    assert install.returncode == 0, install.stderr
    probe = (
        "import vtuber.retarget.profile as p, vtuber.web.server as s;"
        "from vtuber.encode.osc_map import load_osc_map;"
        "print(p.__file__); print(p.AVATARS_DIR); print(p.builtin_profiles());"
        "print(len(load_osc_map('avatars/osc_vrchat.toml').addresses)); print(s._REPO_GENERATOR.is_file())"
    )
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=clean, timeout=120)
    assert out.returncode == 0, out.stderr
    module, avatars, profiles, addresses, generator = out.stdout.strip().splitlines()
    assert module.startswith(str(env)), module  # the installed copy, not the checkout
    assert Path(avatars) == env / "share" / "vtuber" / "avatars"
    assert profiles == "['perfect_sync', 'vrm0', 'vrm1']"
    assert int(addresses) > 0 and generator == "True"
