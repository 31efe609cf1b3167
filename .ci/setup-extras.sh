#!/usr/bin/env bash
# What the test suite needs beyond Python packages, installed by `setup.sh --dev`:
#   blender          - the BVH import test (Debian's blender 3.4, run headless)
#   chromium         - the browser-source page tests (driven by Playwright, no browser download)
#   mono-mcs, mono-runtime - compile and test the Unity bridge's C# core
#   the web page     - npm ci && npm run build in web/ (three.js + three-vrm from npm)
# Each step is skipped when its tool is already there; without root/apt the tests that need the
# tool skip with a reason instead.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(blender chromium mono-mcs mono-runtime)
missing=()
command -v blender >/dev/null || missing+=(blender)
command -v chromium >/dev/null || missing+=(chromium)
command -v mcs >/dev/null || missing+=(mono-mcs)
command -v mono >/dev/null || missing+=(mono-runtime)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "setup: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: cannot install ${missing[*]} (needs root and apt-get); their tests will skip" >&2
  fi
fi

if [ -f web/package.json ]; then
  if command -v npm >/dev/null; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
  else
    echo "setup: npm not found; the browser-source page is not built and its tests will skip" >&2
  fi
fi
