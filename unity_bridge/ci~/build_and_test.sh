#!/usr/bin/env bash
# Build and test the Unity bridge without Unity (Mono):
#   1. the engine (Python) writes WebSocket messages with its own encoder + the expected values;
#   2. the protocol core (Runtime/Core, plain C#) is compiled and its tests run on those messages;
#   3. the Unity-facing scripts (Runtime/Unity, Samples~) are compiled against declared
#      signatures of UnityEngine / UniVRM (UnityStubs/) with VTUBER_UNIVRM0/1 off and on;
#   4. the core's WebSocket client runs against the engine's real server (connect, reconnect).
# Needs: mcs + mono (Debian: apt-get install -y --no-install-recommends mono-mcs mono-runtime),
# Python with the vtuber package's dependencies (PYTHON, default python3).
# Usage: unity_bridge/ci~/build_and_test.sh [WORK_DIR]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BRIDGE="$(dirname "$HERE")"
PYTHON="${PYTHON:-python3}"
OUT="${1:-$(mktemp -d -t vtuber-unity-bridge.XXXXXX)}"
mkdir -p "$OUT/msgs" "$OUT/bin"
MCS=(mcs -nologo -warnaserror -debug- -optimize+)

for tool in mcs mono "$PYTHON"; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

echo "== 1. engine messages"
"$PYTHON" "$HERE/emit_messages.py" "$OUT/msgs"

echo "== 2. protocol core"
"${MCS[@]}" -target:library -out:"$OUT/bin/Vtuber.Bridge.Core.dll" -r:System.dll -r:System.Core.dll \
  "$BRIDGE"/Runtime/Core/*.cs
"${MCS[@]}" -target:exe -out:"$OUT/bin/CoreTests.exe" -r:"$OUT/bin/Vtuber.Bridge.Core.dll" "$HERE"/Tests/*.cs
(cd "$OUT/bin" && mono CoreTests.exe "$OUT/msgs") | sed 's/^/core: /'
test "${PIPESTATUS[0]}" -eq 0

echo "== 3. Unity-facing scripts against UnityEngine/UniVRM signatures"
"${MCS[@]}" -target:library -nowarn:0660,0661 -out:"$OUT/bin/UnityEngine.dll" "$HERE/UnityStubs/UnityEngine.cs"
"${MCS[@]}" -langversion:7.2 -target:library -out:"$OUT/bin/VRM.dll" -r:"$OUT/bin/UnityEngine.dll" "$HERE/UnityStubs/UniVRM0.cs"
"${MCS[@]}" -langversion:7.2 -target:library -out:"$OUT/bin/VRM10.dll" -r:"$OUT/bin/UnityEngine.dll" "$HERE/UnityStubs/UniVRM10.cs"
for variant in none univrm0 univrm1 both; do
  args=(-r:"$OUT/bin/UnityEngine.dll" -r:"$OUT/bin/Vtuber.Bridge.Core.dll")
  case $variant in
    univrm0) args+=(-define:VTUBER_UNIVRM0 -r:"$OUT/bin/VRM.dll") ;;
    univrm1) args+=(-define:VTUBER_UNIVRM1 -r:"$OUT/bin/VRM10.dll") ;;
    both) args+=(-define:VTUBER_UNIVRM0 -define:VTUBER_UNIVRM1 -r:"$OUT/bin/VRM.dll" -r:"$OUT/bin/VRM10.dll") ;;
  esac
  "${MCS[@]}" -target:library -out:"$OUT/bin/Vtuber.Bridge.$variant.dll" "${args[@]}" "$BRIDGE"/Runtime/Unity/*.cs
  "${MCS[@]}" -target:library -out:"$OUT/bin/Samples.$variant.dll" -r:"$OUT/bin/Vtuber.Bridge.$variant.dll" "${args[@]}" \
    "$BRIDGE"/Samples~/*/*.cs
  echo "unity: compiled Runtime/Unity + Samples~ with defines: $variant"
done

echo "== 4. client against the engine's WebSocket server"
"$PYTHON" "$HERE/live_server.py" mono "$OUT/bin/CoreTests.exe" | sed 's/^/live: /'
test "${PIPESTATUS[0]}" -eq 0

echo "== all passed ($OUT)"
