"""Calibration profiles on disk: named TOML files under one folder (default ``calibration/``).

```
calibration/
├── cameras/NAME.toml     a camera's intrinsics and distortion at one image size
├── users/NAME.toml       a person's calibration: [face] (neutral face, ranges), later [body]
└── selected.toml         the default camera and user: camera = "NAME", user = "NAME"
```

Every loader validates what it reads and raises ``ConfigError`` with one line naming the file and
the field (``calibration/cameras/c920.toml: [intrinsics] fx must be a positive number, got "x"``).
The ``*_or_default`` helpers turn that into a logged warning and ``None`` so the engine falls
back to its defaults instead of stopping. The format is described in ``calibration/README.md``.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from vtuber.errors import ConfigError
from vtuber.solve.camera import CameraIntrinsics

logger = logging.getLogger(__name__)

DEFAULT_ROOT = Path("calibration")
KINDS = ("camera", "user")
_FOLDERS = {"camera": "cameras", "user": "users"}
CAMERA_FORMAT = "vtuber-camera"
USER_FORMAT = "vtuber-user"
FORMAT_VERSION = 1
DISTORTION_LENGTHS = (4, 5, 8, 12, 14)  # the coefficient counts OpenCV accepts
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ASPECT_TOLERANCE = 0.01  # a stream whose aspect differs by more is a different sensor crop

T = TypeVar("T")


# ---------------------------------------------------------------- names and paths


def check_name(name: str) -> str:
    """A profile name: letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit."""
    if not NAME_PATTERN.fullmatch(name) or name.endswith(".toml"):
        raise ConfigError(f"bad profile name {name!r}: use letters, digits, '.', '_' or '-' (for example logitech-c920)")
    return name


def profile_path(kind: str, name: str, root: str | Path = DEFAULT_ROOT) -> Path:
    """Where the ``kind`` (camera | user) profile ``name`` lives."""
    if kind not in KINDS:
        raise ConfigError(f"profile kind must be camera or user, got {kind!r}")
    return Path(root) / _FOLDERS[kind] / f"{check_name(name)}.toml"


def resolve(kind: str, name_or_path: str | Path, root: str | Path = DEFAULT_ROOT) -> Path:
    """A profile name (looked up under ``root``) or a path to a ``.toml`` file."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        return Path(text).expanduser()
    return profile_path(kind, text, root)


def list_profiles(kind: str, root: str | Path = DEFAULT_ROOT) -> list[str]:
    """Names of the ``kind`` profiles under ``root``, sorted."""
    folder = Path(root) / _FOLDERS[kind]
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml") if NAME_PATTERN.fullmatch(p.stem))


def delete_profile(kind: str, name: str, root: str | Path = DEFAULT_ROOT) -> Path:
    """Remove a profile (and its selection, if selected). ConfigError if it does not exist."""
    path = profile_path(kind, name, root)
    if not path.is_file():
        raise ConfigError(f"no {kind} profile named {name!r} in {Path(root) / _FOLDERS[kind]} (see: vtuber calibrate profiles list)")
    path.unlink()
    if selected(kind, root) == name:
        select(kind, None, root)
    return path


# ---------------------------------------------------------------- selection


def selection_path(root: str | Path = DEFAULT_ROOT) -> Path:
    return Path(root) / "selected.toml"


def selected(kind: str, root: str | Path = DEFAULT_ROOT) -> str | None:
    """The selected ``kind`` profile's name, or None. A broken selection file is logged, not raised."""
    path = selection_path(root)
    if not path.is_file():
        return None
    try:
        data = read_toml(path)
        value = data.get(kind)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {kind} must be a profile name (string), got {value!r}")
        return check_name(value)
    except ConfigError as exc:
        logger.warning("%s; ignoring the selection", exc)
        return None


def select(kind: str, name: str | None, root: str | Path = DEFAULT_ROOT) -> None:
    """Make ``name`` the default ``kind`` profile (None: no default). The profile must exist."""
    if kind not in KINDS:
        raise ConfigError(f"profile kind must be camera or user, got {kind!r}")
    current = {k: selected(k, root) for k in KINDS}
    if name is not None and not profile_path(kind, name, root).is_file():
        raise ConfigError(f"no {kind} profile named {name!r} in {Path(root) / _FOLDERS[kind]} (see: vtuber calibrate profiles list)")
    current[kind] = name
    write_toml(selection_path(root), {k: v for k, v in current.items() if v is not None})


# ---------------------------------------------------------------- camera profiles


@dataclass(frozen=True, slots=True)
class CameraProfile:
    """A saved camera: its intrinsics plus how good the fit was (``quality`` as saved)."""

    name: str
    intrinsics: CameraIntrinsics
    rms_px: float
    created: str
    quality: dict[str, Any]


def camera_to_table(
    intrinsics: CameraIntrinsics, *, rms_px: float, name: str, quality: dict[str, Any] | None = None, created: str | None = None
) -> dict[str, Any]:
    """The TOML table of a camera profile."""
    return {
        "format": CAMERA_FORMAT,
        "version": FORMAT_VERSION,
        "name": name,
        "created": created or _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "image": {"width": int(intrinsics.width), "height": int(intrinsics.height)},
        "intrinsics": {
            "fx": float(intrinsics.fx),
            "fy": float(intrinsics.fy),
            "cx": float(intrinsics.cx),
            "cy": float(intrinsics.cy),
            "distortion": [float(c) for c in intrinsics.distortion],
        },
        "quality": {"rms_px": float(rms_px), **(quality or {})},
    }


def save_camera_profile(
    name: str,
    intrinsics: CameraIntrinsics,
    *,
    rms_px: float,
    quality: dict[str, Any] | None = None,
    root: str | Path = DEFAULT_ROOT,
) -> Path:
    """Write ``calibration/cameras/NAME.toml`` (replacing an existing one) and return its path."""
    path = profile_path("camera", name, root)
    write_toml(path, camera_to_table(intrinsics, rms_px=rms_px, name=name, quality=quality))
    return path


def read_camera_profile(name_or_path: str | Path, root: str | Path = DEFAULT_ROOT) -> CameraProfile:
    """Load and validate a camera profile. Raises ConfigError (one line: file and field)."""
    path = resolve("camera", name_or_path, root)
    if not path.is_file():
        raise ConfigError(f"camera profile not found: {path} (see: vtuber calibrate profiles list)")
    return parse_camera_profile(read_toml(path), str(path), path.stem)


def parse_camera_profile(data: dict[str, Any], where: str, name: str) -> CameraProfile:
    """A ``CameraProfile`` from a camera profile's table (a file's, or one a session recorded);
    ``where`` names it in the one-line ConfigError."""
    fmt = data.get("format", CAMERA_FORMAT)
    if fmt != CAMERA_FORMAT:
        raise ConfigError(f"{where}: format must be {CAMERA_FORMAT!r}, got {fmt!r} (is this a {fmt} file?)")
    version = field_value(data, "version", int, where, default=FORMAT_VERSION)
    if version > FORMAT_VERSION:
        raise ConfigError(f"{where}: version {version} is newer than this vtuber understands ({FORMAT_VERSION})")
    image = table(data, "image", where)
    intr = table(data, "intrinsics", where)
    width = field_value(image, "width", int, where, "image", check=lambda v: v > 0, must="a positive integer")
    height = field_value(image, "height", int, where, "image", check=lambda v: v > 0, must="a positive integer")
    positive = {"check": lambda v: v > 0 and math.isfinite(v), "must": "a positive number"}
    fx = field_value(intr, "fx", float, where, "intrinsics", **positive)
    fy = field_value(intr, "fy", float, where, "intrinsics", **positive)
    cx = field_value(intr, "cx", float, where, "intrinsics", check=lambda v: 0 <= v <= width, must=f"a number within the image width 0-{width}")
    cy = field_value(intr, "cy", float, where, "intrinsics", check=lambda v: 0 <= v <= height, must=f"a number within the image height 0-{height}")
    dist = intr.get("distortion", [0.0] * 5)
    if not isinstance(dist, list) or not all(_is_number(c) and math.isfinite(c) for c in dist):
        raise ConfigError(f"{where}: [intrinsics] distortion must be a list of numbers, got {_show(dist)}")
    if len(dist) not in DISTORTION_LENGTHS:
        raise ConfigError(f"{where}: [intrinsics] distortion must have 4, 5, 8, 12 or 14 coefficients, got {len(dist)}")
    if not 0.2 < fx / fy < 5.0:
        raise ConfigError(f"{where}: [intrinsics] fx/fy = {fx / fy:.2f} is not a real lens (fx and fy swapped or mistyped?)")
    quality = data.get("quality", {})
    if not isinstance(quality, dict):
        raise ConfigError(f"{where}: [quality] must be a table")
    rms = field_value(quality, "rms_px", float, where, "quality", default=float("nan"))
    created = field_value(data, "created", str, where, default="")
    intrinsics = CameraIntrinsics(width, height, fx, fy, cx, cy, tuple(float(c) for c in dist))
    return CameraProfile(name, intrinsics, rms, created, dict(quality))


def load_camera_profile(
    name_or_path: str | Path, image_size: tuple[int, int] | None = None, root: str | Path = DEFAULT_ROOT
) -> CameraIntrinsics:
    """The intrinsics of a camera profile (a name under ``root``/cameras or a .toml path).

    With ``image_size`` (the stream's width, height) the intrinsics are rescaled to it; a stream
    of another aspect ratio is another sensor crop, so that raises ConfigError naming [image].
    """
    profile = read_camera_profile(name_or_path, root)
    if image_size is None:
        return profile.intrinsics
    return fit_to_image(profile.intrinsics, image_size, str(resolve("camera", name_or_path, root)))


def fit_to_image(intrinsics: CameraIntrinsics, image_size: tuple[int, int], origin: str = "camera profile") -> CameraIntrinsics:
    """``intrinsics`` at ``image_size``; ConfigError if the aspect ratio differs."""
    w, h = image_size
    if (w, h) == (intrinsics.width, intrinsics.height):
        return intrinsics
    if abs((w / h) / (intrinsics.width / intrinsics.height) - 1.0) > ASPECT_TOLERANCE:
        raise ConfigError(
            f"{origin}: [image] {intrinsics.width}x{intrinsics.height} does not match the stream's {w}x{h} "
            f"(another aspect ratio): calibrate at this resolution"
        )
    return intrinsics.scaled_to(w, h)


def load_camera_or_default(
    name_or_path: str | Path | None, image_size: tuple[int, int] | None = None, root: str | Path = DEFAULT_ROOT
) -> CameraIntrinsics | None:
    """Like ``load_camera_profile`` but for the engine: no name means the selected camera (if
    any); a missing or broken profile logs its one-line error and returns None (the caller then
    uses ``CameraIntrinsics.from_fov``)."""
    name = name_or_path or selected("camera", root)
    if not name:
        return None
    try:
        return load_camera_profile(name, image_size, root)
    except ConfigError as exc:
        logger.warning("%s; using the field-of-view default instead", exc)
        return None


# ---------------------------------------------------------------- user profiles (face, body)


def save_user_section(name: str, section: str, values: dict[str, Any], root: str | Path = DEFAULT_ROOT) -> Path:
    """Write one section (``face``, ``body``) of ``calibration/users/NAME.toml``, keeping the others."""
    path = profile_path("user", name, root)
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = read_toml(path)
        except ConfigError:
            logger.warning("%s is not valid TOML; rewriting it", path)
    data.update({"format": USER_FORMAT, "version": FORMAT_VERSION, "name": name})
    data[section] = values
    data.setdefault("created", _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat())
    write_toml(path, data)
    return path


def load_user_section(
    name_or_path: str | Path, section: str, parse: Callable[[dict[str, Any], str], T], root: str | Path = DEFAULT_ROOT
) -> T | None:
    """``parse(table, where)`` of one section of a user profile; None if the profile has no such
    section. ``parse`` validates with ``field_value`` and raises ConfigError; ``where`` is the
    file name to put in its messages. Raises ConfigError for a missing or malformed file."""
    path = resolve("user", name_or_path, root)
    if not path.is_file():
        raise ConfigError(f"user profile not found: {path} (see: vtuber calibrate profiles list)")
    data = read_toml(path)
    fmt = data.get("format", USER_FORMAT)
    if fmt != USER_FORMAT:
        raise ConfigError(f"{path}: format must be {USER_FORMAT!r}, got {fmt!r}")
    if section not in data:
        return None
    return parse(table(data, section, str(path)), str(path))


def load_user_section_or_default(
    name_or_path: str | Path | None, section: str, parse: Callable[[dict[str, Any], str], T], root: str | Path = DEFAULT_ROOT
) -> T | None:
    """The engine's variant: the selected user when no name; errors are logged, None returned."""
    name = name_or_path or selected("user", root)
    if not name:
        return None
    try:
        return load_user_section(name, section, parse, root)
    except ConfigError as exc:
        logger.warning("%s; using the default %s calibration instead", exc, section)
        return None


# ---------------------------------------------------------------- TOML in and out, field checks


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"profile not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from exc


def table(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    """The sub-table ``[name]``; ConfigError naming it when missing or not a table."""
    if name not in data:
        raise ConfigError(f"{where}: [{name}] is missing")
    value = data[name]
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table, got {_show(value)}")
    return value


_MISSING: Any = object()


def field_value(
    data: dict[str, Any],
    key: str,
    kind: type[T],
    where: str,
    section: str | None = None,
    *,
    default: Any = _MISSING,
    check: Callable[[Any], bool] | None = None,
    must: str | None = None,
) -> T:
    """``data[key]`` checked to be a ``kind`` (int, float, str, bool, list) and to pass ``check``.

    Raises ConfigError like ``FILE: [section] key must be a number, got "abc"`` or
    ``FILE: [section] key is missing``. Profile parsers (face, body) use this too.
    """
    label = f"[{section}] {key}" if section else key
    if key not in data:
        if default is _MISSING:
            raise ConfigError(f"{where}: {label} is missing")
        return default  # type: ignore[no-any-return]
    value = data[key]
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}
    if kind is float:
        ok = _is_number(value)
        value = float(value) if ok else value
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ConfigError(f"{where}: {label} must be {must or names.get(kind, kind.__name__)}, got {_show(value)}")
    if check is not None and not check(value):
        raise ConfigError(f"{where}: {label} must be {must or 'valid'}, got {_show(value)}")
    return value  # type: ignore[no-any-return]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, list, dict)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def write_toml(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` (scalars, lists of scalars, nested tables) as TOML, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(dumps_toml(data), encoding="utf-8")
    tmp.replace(path)


def dumps_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer: enough for profiles (no arrays of tables, no datetimes)."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v in data.items():
        if isinstance(v, dict):
            name = f"{prefix}.{_key(k)}" if prefix else _key(k)
            out += f"\n[{name}]\n" + dumps_toml(v, name)
    return out


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
