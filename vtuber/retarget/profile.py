"""Avatar profiles: which blendshape names an avatar (or receiver) understands.

A profile is a TOML file (see ``avatars/*.toml``): ``name``, ``description`` and a
``[blendshapes]`` table mapping each avatar name to one engine channel (an ARKit-52 name or a
viseme ``aa ih ou ee oh``), as a string or as ``{ source = "...", gain = 1.0 }``. Loading
validates every field and raises ``ConfigError`` naming the file and the field.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from vtuber.errors import ConfigError
from vtuber.solve.arkit import ARKIT_52
from vtuber.solve.vowels import VOWELS

ENGINE_CHANNELS = frozenset(ARKIT_52) | frozenset(VOWELS)
"""What a profile entry may read: the solver's ARKit-52 weights and the five visemes."""

AVATARS_DIR = Path(__file__).resolve().parents[2] / "avatars"
"""The repository's avatars/ folder, which holds the built-in profiles."""


@dataclass(frozen=True, slots=True)
class ChannelMap:
    """One avatar blendshape driven by one engine channel."""

    source: str
    gain: float = 1.0


@dataclass(frozen=True, slots=True)
class AvatarProfile:
    """A named mapping from engine channels to an avatar's blendshape names."""

    name: str
    description: str
    blendshapes: Mapping[str, ChannelMap]


def builtin_profiles() -> list[str]:
    """Names of the avatar profiles in avatars/ (its other TOML files, such as OSC maps, have no
    ``[blendshapes]`` table)."""
    return sorted(p.stem for p in AVATARS_DIR.glob("*.toml") if "\n[blendshapes]" in "\n" + p.read_text(encoding="utf-8"))


def load_profile(name_or_path: str | Path) -> AvatarProfile:
    """A built-in profile by name (``vrm0``, ``vrm1``, ``perfect_sync``) or a TOML file path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = AVATARS_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise ConfigError(
                f"unknown avatar profile {name_or_path!r}: use one of {', '.join(builtin_profiles())} or a .toml path"
            )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read avatar profile ({exc})") from exc
    return _parse(path, data)


def _parse(path: Path, data: dict[str, Any]) -> AvatarProfile:
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: field 'name' must be a non-empty string")
    table = data.get("blendshapes")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{path}: field 'blendshapes' must be a non-empty table")
    maps: dict[str, ChannelMap] = {}
    for target, spec in table.items():
        if isinstance(spec, str):
            source, gain = spec, 1.0
        elif isinstance(spec, dict) and isinstance(spec.get("source"), str):
            source, gain = spec["source"], spec.get("gain", 1.0)
            if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not math.isfinite(gain) or gain < 0:
                raise ConfigError(f"{path}: field 'blendshapes.{target}.gain' must be a finite number >= 0, got {gain!r}")
        else:
            raise ConfigError(f"{path}: field 'blendshapes.{target}' must be a channel name or {{ source, gain }}")
        if source not in ENGINE_CHANNELS:  # a typo would send 0 forever
            raise ConfigError(
                f"{path}: field 'blendshapes.{target}' source {source!r} is not an engine channel "
                "(an ARKit-52 name such as eyeBlinkLeft, or a viseme aa ih ou ee oh; names are case-sensitive)"
            )
        maps[target] = ChannelMap(source, float(gain))
    return AvatarProfile(name, str(data.get("description", "")), MappingProxyType(maps))
