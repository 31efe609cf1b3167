#!/usr/bin/env bash
# Set up vtuber in ./.venv (Python 3.11). `bash setup.sh` installs what running needs;
# `bash setup.sh --dev` also installs what the tests need (pytest, browser, Mono, Blender, ...).
# Safe to run again: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")"
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python 3.11 is required (mediapipe 0.10.21 wheels); set PYTHON=/path/to/python3.11" >&2; exit 1; }

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "$DEV" = 1 ]; then
  .venv/bin/python -m pip install --quiet -e ".[dev,fan]"
  # face-alignment declares opencv-python; --no-deps keeps mediapipe's opencv-contrib-python alone.
  .venv/bin/python -m pip install --quiet --no-deps "face-alignment==1.5.0"
else
  .venv/bin/python -m pip install --quiet -e .
fi

# Optional parts: each installs only when its folder and tools exist.
if [ -f .ci/setup-extras.sh ] && [ "$DEV" = 1 ]; then
  bash .ci/setup-extras.sh
fi
echo "setup: done (.venv ready)"
