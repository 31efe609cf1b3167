"""AvatarPose -> generic OSC messages through a user-editable address map (VRChat-style).

Pure: no sockets, no clock (``time_s`` is passed in). The map is a TOML file, for example
``avatars/osc_vrchat.toml``::

    host = "127.0.0.1"          # where to send (the sender reads these two)
    port = 9000                 # VRChat listens for OSC input on 9000

    [defaults]                  # optional, applies to every [[address]]
    rate_hz = 20
    min_change = 0.01

    [[address]]
    path = "/avatar/parameters/JawOpen"
    source = "jawOpen"          # a blendshape channel or head.yaw ... (below)
    type = "float"              # "float" (OSC f), "int" (OSC i) or "bool" (OSC T/F)
    range = [0.0, 1.0]          # source values clamped to this range ...
    output = [0.0, 1.0]         # ... and mapped linearly onto this one (default: = range)
    rate_hz = 10                # at most this many messages per second (0 = every frame)
    min_change = 0.02           # send only when the output moved this much (bool/int: any change)
    keepalive_s = 1.0           # resend an unchanged value this often (0 = never)
    threshold = 0.5             # bool only: output >= threshold is true (default: mid-range)

Sources:

* any blendshape channel of the pose: ARKit-52 names and visemes (``jawOpen``, ``aa``) from
  ``pose.source_blendshapes``, else the avatar profile's names (``Blink_L``) from
  ``pose.blendshapes``;
* ``head.yaw``, ``head.pitch``, ``head.roll`` in degrees (``conventions.internal_head_angles_deg``:
  yaw > 0 turns toward the avatar's own left, pitch > 0 looks down, roll > 0 tilts the head top
  toward the avatar's right; a reversed ``range`` such as ``[45, -45]`` flips a sign);
* ``head.x``, ``head.y``, ``head.z`` in metres (internal frame, relative to the camera);
* ``tracked.<part>``: 1 when that part (``face``, ``left_hand``...) was tracked, else 0;
* ``gaze.y``: vertical gaze in -1..1, up positive: the mean over both eyes of ``eyeLookUp*`` minus
  ``eyeLookDown*`` (an address has one source, and VRChat's ``EyesY`` is signed).

A source missing from a frame (no face, unknown name) sends nothing for that address.
Messages are OSC 1.0 (big-endian float32/int32, UTF-8 address, NUL padded to 4 bytes).
"""

from __future__ import annotations

import math
import struct
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vtuber import conventions
from vtuber.errors import ConfigError
from vtuber.records import AvatarPose

ValueType = Literal["float", "int", "bool"]
VALUE_TYPES = ("float", "int", "bool")
HEAD_SOURCES = ("head.yaw", "head.pitch", "head.roll", "head.x", "head.y", "head.z")
GAZE_SOURCES = ("gaze.y",)
_GAZE_Y_PARTS = (("eyeLookUpLeft", "eyeLookUpRight"), ("eyeLookDownLeft", "eyeLookDownRight"))
DEFAULT_PORT = 9000
"""VRChat's OSC input port."""


@dataclass(frozen=True, slots=True)
class OscAddress:
    """One address of the map (fields as in the module docstring)."""

    path: str
    source: str
    type: ValueType = "float"
    range: tuple[float, float] = (0.0, 1.0)
    output: tuple[float, float] = (0.0, 1.0)
    rate_hz: float = 0.0
    min_change: float = 0.0
    keepalive_s: float = 0.0
    threshold: float = 0.5

    def value(self, raw: float) -> float | int | bool:
        """Clamp ``raw`` into ``range``, map onto ``output`` and convert to ``type``."""
        a, b = self.range
        lo, hi = min(a, b), max(a, b)
        fraction = (min(hi, max(lo, raw)) - a) / (b - a)
        out = self.output[0] + fraction * (self.output[1] - self.output[0])
        if self.type == "bool":
            return out >= self.threshold
        if self.type == "int":
            return round(out)
        return out


@dataclass(frozen=True, slots=True)
class OscMap:
    """A parsed address map: target plus addresses."""

    addresses: tuple[OscAddress, ...]
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    name: str = ""


@dataclass(slots=True)
class _Sent:
    value: float | int | bool
    time_s: float


@dataclass
class OscMapEncoder:
    """Turns poses into the OSC messages that are due, with per-address rate limits and
    send-on-change. State is only what was last sent per address; time comes from the caller."""

    osc_map: OscMap
    _sent: dict[str, _Sent] = field(default_factory=dict)

    def encode(self, pose: AvatarPose, time_s: float) -> list[bytes]:
        """OSC messages (one per datagram) due at ``time_s`` for ``pose``."""
        out: list[bytes] = []
        for address in self.osc_map.addresses:
            raw = source_value(pose, address.source)
            if raw is None or not math.isfinite(raw):
                continue
            value = address.value(raw)
            if self._due(address, value, time_s):
                self._sent[address.path] = _Sent(value, time_s)
                out.append(osc_message(address.path, value))
        return out

    def reset(self) -> None:
        """Forget what was sent: every address is sent again on the next frame."""
        self._sent.clear()

    def _due(self, address: OscAddress, value: float | bool, time_s: float) -> bool:
        last = self._sent.get(address.path)
        if last is None or time_s < last.time_s:  # first frame, or the clock restarted
            return True
        elapsed = time_s - last.time_s
        if address.rate_hz > 0 and elapsed < 1.0 / address.rate_hz - 1e-9:
            return False
        if address.keepalive_s > 0 and elapsed >= address.keepalive_s:
            return True
        if address.type == "float":
            return abs(float(value) - float(last.value)) > address.min_change
        return value != last.value


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


def source_value(pose: AvatarPose, source: str) -> float | None:
    """The raw value of ``source`` in ``pose`` (units in the module docstring), or None."""
    if source.startswith("head."):
        if pose.head is None:
            return None
        if source in ("head.yaw", "head.pitch", "head.roll"):
            angles = conventions.internal_head_angles_deg(pose.head.rotation)
            return angles[("head.yaw", "head.pitch", "head.roll").index(source)]
        axis = ("head.x", "head.y", "head.z").index(source) if source in HEAD_SOURCES else -1
        return float(pose.head.position[axis]) if axis >= 0 else None
    if source.startswith("tracked."):
        return 1.0 if pose.tracked.get(source[len("tracked."):], False) else 0.0
    if source == "gaze.y":
        shapes = pose.source_blendshapes
        up, down = ([shapes.get(n) for n in names] for names in _GAZE_Y_PARTS)
        if None in up or None in down:
            return None
        return 0.5 * (float(up[0]) + float(up[1]) - float(down[0]) - float(down[1]))  # type: ignore[arg-type]
    if source in pose.source_blendshapes:
        return float(pose.source_blendshapes[source])
    if source in pose.blendshapes:
        return float(pose.blendshapes[source])
    return None


# ---------------------------------------------------------------------------------------------
# OSC 1.0 message encoding
# ---------------------------------------------------------------------------------------------


def osc_message(path: str, value: float | bool) -> bytes:
    """One OSC message with one argument: ``f`` float32, ``i`` int32, or ``T``/``F`` (no data)."""
    if isinstance(value, bool):
        return _osc_string(path) + _osc_string(",T" if value else ",F")
    if isinstance(value, int):
        return _osc_string(path) + _osc_string(",i") + struct.pack(">i", value)
    return _osc_string(path) + _osc_string(",f") + struct.pack(">f", value)


def _osc_string(text: str) -> bytes:
    raw = text.encode("utf-8") + b"\x00"
    return raw + b"\x00" * (-len(raw) % 4)


# ---------------------------------------------------------------------------------------------
# Loading the TOML map
# ---------------------------------------------------------------------------------------------


def load_osc_map(path: str | Path) -> OscMap:
    """Read and validate an address map; ConfigError names the file and the field. A relative
    ``avatars/NAME.toml`` that is not in the working directory is the built-in map of that name
    (``profile.avatar_file``)."""
    from vtuber.retarget.profile import avatar_file

    p = avatar_file(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read OSC address map ({exc})") from exc
    return parse_osc_map(data, origin=str(p))


def parse_osc_map(data: Mapping[str, Any], origin: str = "OSC map") -> OscMap:
    """Validate a decoded TOML document (see the module docstring for the fields)."""
    entries = data.get("address")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{origin}: needs at least one [[address]] table")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{origin}: field 'defaults' must be a table")
    addresses = tuple(_address({**defaults, **e} if isinstance(e, dict) else e, f"{origin}: address[{i}]") for i, e in enumerate(entries))
    paths = [a.path for a in addresses]
    duplicates = sorted({x for x in paths if paths.count(x) > 1})
    if duplicates:
        raise ConfigError(f"{origin}: duplicate address path {duplicates[0]!r}")
    host = data.get("host", "127.0.0.1")
    port = data.get("port", DEFAULT_PORT)
    if not isinstance(host, str) or not host:
        raise ConfigError(f"{origin}: field 'host' must be a non-empty string")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ConfigError(f"{origin}: field 'port' must be an integer 1-65535, got {port!r}")
    return OscMap(addresses, host, port, str(data.get("name", "")))


def _address(e: Any, where: str) -> OscAddress:
    if not isinstance(e, dict):
        raise ConfigError(f"{where}: must be a table")
    path, source, kind = e.get("path"), e.get("source"), e.get("type", "float")
    if not isinstance(path, str) or not path.startswith("/") or any(c in path for c in " #*,?[]{}"):
        raise ConfigError(f"{where}: field 'path' must be an OSC address like /avatar/parameters/Name, got {path!r}")
    if not isinstance(source, str) or not source:
        raise ConfigError(f"{where}: field 'source' must be a channel name or head.yaw/pitch/roll/x/y/z")
    if source.startswith("gaze.") and source not in GAZE_SOURCES:
        raise ConfigError(f"{where}: field 'source' {source!r}: use one of {', '.join(GAZE_SOURCES)}")
    if source.startswith("head.") and source not in HEAD_SOURCES:
        raise ConfigError(f"{where}: field 'source' {source!r}: use one of {', '.join(HEAD_SOURCES)}")
    if kind not in VALUE_TYPES:
        raise ConfigError(f"{where}: field 'type' must be float, int or bool, got {kind!r}")
    rng = _pair(e.get("range", (0.0, 1.0)), f"{where}: field 'range'")
    if rng[0] == rng[1]:
        raise ConfigError(f"{where}: field 'range' must have two different ends")
    out = _pair(e.get("output", rng), f"{where}: field 'output'")
    if kind == "int" and not all(-(2**31) <= x <= 2**31 - 1 for x in out):
        raise ConfigError(f"{where}: field 'output' must stay within OSC int32 (-2147483648..2147483647) for type int, got {list(out)}")
    if kind == "float" and not all(abs(x) <= 3.4e38 for x in out):
        raise ConfigError(f"{where}: field 'output' must stay within OSC float32 (+-3.4e38), got {list(out)}")
    numbers = {k: _number(e.get(k, 0.0), f"{where}: field {k!r}") for k in ("rate_hz", "min_change", "keepalive_s")}
    threshold = _number(e.get("threshold", (out[0] + out[1]) / 2.0), f"{where}: field 'threshold'", allow_negative=True)
    return OscAddress(path, source, kind, rng, out, threshold=threshold, **numbers)


def _pair(v: Any, where: str) -> tuple[float, float]:
    if not (isinstance(v, Sequence) and len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
        raise ConfigError(f"{where} must be two numbers [low, high], got {v!r}")
    return float(v[0]), float(v[1])


def _number(v: Any, where: str, allow_negative: bool = False) -> float:
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or (v < 0 and not allow_negative):
        raise ConfigError(f"{where} must be a number{'' if allow_negative else ' >= 0'}, got {v!r}")
    return float(v)
