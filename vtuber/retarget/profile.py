"""Avatar profiles: which blendshape names an avatar (or receiver) understands.

A profile is a TOML file (see ``avatars/*.toml``): ``name``, ``description`` and a
``[blendshapes]`` table mapping each avatar name to one engine channel (an ARKit-52 name or a
viseme ``aa ih ou ee oh``), as a string or as ``{ source = "...", gain = 1.0 }``. Loading
validates every field and raises ``ConfigError`` naming the file and the field.
"""

from __future__ import annotations

import math
import os
import sysconfig
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

def _avatars_dir() -> Path:
    """avatars/ beside the package in a source checkout (and an editable install); after a
    regular install (a wheel), the same files installed as data under ``share/vtuber/avatars``
    (pyproject's ``data-files``) in the environment's or the user's data directory."""
    repo = Path(__file__).resolve().parents[2] / "avatars"
    if repo.is_dir():
        return repo
    schemes = [sysconfig.get_path("data")]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        schemes.append(sysconfig.get_path("data", user_scheme))
    for data in schemes:
        installed = Path(data) / "share" / "vtuber" / "avatars"
        if installed.is_dir():
            return installed
    return repo  # missing everywhere: errors name the checkout's path


AVATARS_DIR = _avatars_dir()
"""The folder of the built-in avatar profiles, OSC maps and the default avatar's generator."""


def avatar_file(path: str | Path) -> Path:
    """``path`` as given when it exists; otherwise, for a relative path naming one of the
    built-in files (``avatars/osc_vrchat.toml`` or ``osc_vrchat.toml``), that file in
    ``AVATARS_DIR``, so the defaults work from any working directory and after a wheel install.
    Anything else comes back unchanged (the caller's error then names what was asked for)."""
    given = Path(path)
    if given.exists() or given.is_absolute():
        return given
    builtin = AVATARS_DIR / given.name
    if builtin.is_file() and (len(given.parts) == 1 or given.parts[-2] == "avatars"):
        return builtin
    return given


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
