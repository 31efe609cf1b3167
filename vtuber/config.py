"""Engine settings: frozen dataclasses, one per stage, loaded once at the edge.

A TOML file (``--config FILE``) has one table per section below; command-line flags override it.
Unknown sections or keys and wrongly typed values raise ``ConfigError`` naming the file and the
field, e.g. ``config.toml: [vmc] port must be an integer 1-65535, got "abc"``.

Example::

    [source]
    spec = "webcam:0"        # "demo", "webcam:N", "/dev/videoN", a video file or an image folder
    [track]
    mode = "face"            # face | face_hands | upper_body
    [vmc]
    targets = ["127.0.0.1:39539"]
    [websocket]
    port = 8765
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from vtuber.errors import ConfigError

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceConfig:
    spec: str = "demo"
    """Where frames come from: ``demo``, ``webcam:N``, a device path, a video file or a folder."""
    pace: bool = True
    """Play recorded sources at their own frame rate; False runs them as fast as possible."""
    width: int = 640
    """Requested webcam width, pixels."""
    height: int = 480
    """Requested webcam height, pixels."""
    fps: float = 30.0
    """Requested webcam rate, frames per second; also the rate of image folders."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackConfig:
    backend: str = "mediapipe"
    """``mediapipe`` (478 points, hands, body), ``dlib`` (68 points, face only, offline model
    from face-recognition-models) or ``fan`` (face-alignment 68 points; ``pip install
    'vtuber[fan]'``, then ``pip install --no-deps face-alignment==1.5.0``, and its weights)."""
    device: str = "cpu"
    """``fan`` only: ``cpu``, ``cuda`` or ``mps``."""
    mode: str = "face"
    """``face`` (fastest), ``face_hands`` or ``upper_body``."""
    hand_backend: str = "legacy"
    """``legacy`` (the Hands model in the mediapipe wheel) or ``tasks`` (the Tasks HandLandmarker;
    hand_landmarker.task from --models-dir, the cache or its official URL)."""
    face_backend: str = "auto"
    """``mesh`` (Face Mesh, fastest), ``tasks`` (Tasks points + 52 blendshapes), ``hybrid``
    (Face Mesh points + Tasks blendshapes) or ``auto`` (hybrid when the model is available)."""
    models_dir: str = ""
    """Folder holding face_landmarker.task / hand_landmarker.task (empty: cache + download)."""
    download_models: bool = True
    """Allow downloading missing Tasks models from MediaPipe's official URLs (sha256-checked)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraConfig:
    horizontal_fov_deg: float = 60.0
    """Field of view used for PnP when no calibrated camera profile is given, degrees."""
    profile: str = ""
    """Camera profile from ``vtuber calibrate camera`` (a name in calibration/cameras/ or a
    .toml path); empty: the selected profile, else the field-of-view default."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserConfig:
    profile: str = ""
    """User profile from ``vtuber calibrate face`` (neutral head, eye and mouth ranges); a name in
    calibration/users/ or a .toml path; empty: the selected profile, else defaults."""
    calibration_dir: str = "calibration"
    """Folder holding cameras/, users/ and selected.toml."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SmoothingConfig:
    preset: str = "balanced"
    """``responsive``, ``balanced``, ``smooth`` or ``none``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AvatarConfig:
    profile: str = "vrm0"
    """Blendshape vocabulary: ``vrm0``, ``vrm1``, ``perfect_sync`` or a profile .toml path."""
    mirror: bool = False
    """Selfie view: the avatar moves like your mirror image (your right eye closes its left)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VmcConfig:
    enabled: bool = True
    targets: tuple[str, ...] = ("127.0.0.1:39539",)
    """``HOST:PORT`` of each VMC receiver (Marionette); VMC's standard port is 39539."""
    preset: str = "generic"
    """Receiver quirks: generic, vseeface, warudo, vnyan, vmagicmirror, evmc4u (docs/receivers.md)."""
    profile: str = ""
    """Blendshape names sent over VMC (vrm0, vrm1, perfect_sync or a profile file); empty: the
    preset's own (generic: the [avatar] profile)."""
    root_turn_180: bool = False
    """Turn the root 180 degrees for every preset (warudo always does; VNyan's "+Z" mode needs it)."""
    max_rate_hz: float = 60.0
    """Send at most this many frames a second (0: every frame); receivers render at 60 Hz."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VtsConfig:
    enabled: bool = False
    """Drive VTube Studio through its public API as a plugin (VTS asks once to allow it)."""
    url: str = "ws://localhost:8001"
    token_path: str = ""
    """Where the VTS token is kept (empty: ~/.config/vtuber/vts_token.json)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IFacialMocapConfig:
    enabled: bool = False
    """Send the iFacialMocap UDP stream (52 ARKit values + head/eyes) that VSeeFace, Warudo and
    VNyan's iFacialMocap receivers take."""
    targets: tuple[str, ...] = ("127.0.0.1:49983",)


@dataclass(frozen=True, slots=True, kw_only=True)
class OscConfig:
    enabled: bool = False
    """Send OSC through a user-editable address map (e.g. VRChat /avatar/parameters/...)."""
    map: str = "avatars/osc_vrchat.toml"
    targets: tuple[str, ...] = ()
    """``HOST:PORT`` list; empty: the map's own host and port."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSocketConfig:
    enabled: bool = True
    host: str = LOOPBACK
    """Bind address; anything but loopback needs ``token``."""
    port: int = 8765
    token: str = ""
    """Access token clients must send (``?token=``); required to bind a non-loopback address."""
    allowed_origins: tuple[str, ...] = ()
    """Browser origins allowed besides pages served from loopback."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PageConfig:
    enabled: bool = True
    """Serve the OBS browser-source page (a VRM avatar driven by the WebSocket stream)."""
    host: str = LOOPBACK
    port: int = 8766
    avatar: str = ""
    """A .vrm file (VRM 0.x or 1.0) for the page; empty: the project's default avatar."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    max_frames: int = 0
    """Stop after this many frames (0: until the source ends or Ctrl-C)."""
    duration_s: float = 0.0
    """Stop after this many seconds of wall-clock time (0: no limit)."""
    telemetry: bool = True
    """Print fps, per-stage latency and tracking state about once a second."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordConfig:
    bvh: str = ""
    """Write the motion to this BVH file as it happens (blendshapes to a .csv beside it)."""
    session: str = ""
    """Write every frame's landmarks, rig and timestamps to this session file (JSON lines)."""
    overwrite: bool = False
    """Replace recordings that already exist; by default a run refuses to start rather than
    destroy an earlier take."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    source: SourceConfig = field(default_factory=SourceConfig)
    track: TrackConfig = field(default_factory=TrackConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    user: UserConfig = field(default_factory=UserConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    avatar: AvatarConfig = field(default_factory=AvatarConfig)
    vmc: VmcConfig = field(default_factory=VmcConfig)
    websocket: WebSocketConfig = field(default_factory=WebSocketConfig)
    page: PageConfig = field(default_factory=PageConfig)
    vts: VtsConfig = field(default_factory=VtsConfig)
    ifacialmocap: IFacialMocapConfig = field(default_factory=IFacialMocapConfig)
    osc: OscConfig = field(default_factory=OscConfig)
    run: RunConfig = field(default_factory=RunConfig)
    record: RecordConfig = field(default_factory=RecordConfig)

    def __post_init__(self) -> None:
        validate(self)


_CHOICES = {
    ("track", "backend"): ("mediapipe", "dlib", "fan"),
    ("track", "mode"): ("face", "face_hands", "upper_body"),
    ("track", "hand_backend"): ("legacy", "tasks"),
    ("track", "face_backend"): ("auto", "mesh", "tasks", "hybrid"),
    ("smoothing", "preset"): ("responsive", "balanced", "smooth", "none"),
}


def is_valid_fps(fps: float) -> bool:
    """True for a usable frame rate (frames per second): finite and above 0."""
    return math.isfinite(fps) and fps > 0


def validate(config: EngineConfig, origin: str = "config") -> None:
    """Raise ConfigError for values that are the right type but make no sense."""
    for (section, key), choices in _CHOICES.items():
        value = getattr(getattr(config, section), key)
        if value not in choices:
            raise ConfigError(f"{origin}: [{section}] {key} must be one of {', '.join(choices)}, got {value!r}")
    for section in ("websocket", "page"):
        port = getattr(config, section).port
        if not 1 <= port <= 65535:
            raise ConfigError(f"{origin}: [{section}] port must be 1-65535, got {port}")
    for section in ("vmc", "ifacialmocap", "osc"):
        for target in getattr(config, section).targets:
            parse_host_port(target, f"{origin}: [{section}] targets")
    if not is_valid_fps(config.source.fps):
        raise ConfigError(f"{origin}: [source] fps must be a frame rate above 0 (e.g. 30), got {config.source.fps!r}")
    if config.vmc.max_rate_hz < 0:
        raise ConfigError(f"{origin}: [vmc] max_rate_hz must be >= 0, got {config.vmc.max_rate_hz}")
    if config.track.backend != "mediapipe" and config.track.mode != "face":
        raise ConfigError(f"{origin}: [track] backend {config.track.backend} tracks the face only; use mode = \"face\"")
    fov = config.camera.horizontal_fov_deg
    if not (math.isfinite(fov) and 1 < fov < 179):  # written so NaN fails too
        raise ConfigError(
            f"{origin}: [camera] horizontal_fov_deg (--fov) must be a number of degrees between 1 and 179 "
            f"(typical webcams 55-80), got {fov!r}"
        )
    if config.run.max_frames < 0:
        raise ConfigError(f"{origin}: [run] max_frames (--frames) must be >= 0 (0: no limit), got {config.run.max_frames}")
    duration = config.run.duration_s
    if not (math.isfinite(duration) and duration >= 0):  # written so NaN fails too
        raise ConfigError(f"{origin}: [run] duration_s (--duration) must be seconds >= 0 (0: no limit), got {duration!r}")


def parse_host_port(text: str, what: str = "address") -> tuple[str, int]:
    """``"HOST:PORT"`` -> (host, port); ConfigError naming ``what`` otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{what}: expected HOST:PORT (for example 127.0.0.1:39539), got {text!r}")
    return host, int(port)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML config file's tables, unchecked (``build_config`` checks them); ConfigError when
    it is missing or not TOML."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {p}") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from exc


def load_config(path: str | Path, overrides: dict[str, dict[str, Any]] | None = None) -> EngineConfig:
    """Read a TOML config file, apply ``overrides`` ({section: {key: value}}), validate."""
    return build_config(read_config_file(path), overrides, origin=str(path))


def build_config(
    data: dict[str, Any], overrides: dict[str, dict[str, Any]] | None = None, *, origin: str = "config"
) -> EngineConfig:
    """An EngineConfig from parsed TOML plus overrides, checking every section, key and type."""
    sections: dict[str, Any] = {}
    hints = get_type_hints(EngineConfig)
    merged: dict[str, dict[str, Any]] = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for section, values in (overrides or {}).items():
        current = merged.setdefault(section, {})
        if not isinstance(current, dict):
            raise _not_a_table(origin, section, current)
        current.update(values)
    for section, values in merged.items():
        if section not in hints:
            raise ConfigError(f"{origin}: unknown section [{section}] (known: {', '.join(hints)})")
        if not isinstance(values, dict):
            raise _not_a_table(origin, section, values)
        sections[section] = _build_section(hints[section], section, values, origin)
    try:
        config = EngineConfig(**sections)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("config:", f"{origin}:", 1)) from None
    return config


def _not_a_table(origin: str, section: str, value: Any) -> ConfigError:
    """The error for a section written as a plain value (``source = "webcam:0"``)."""
    keys = f"spec = {value!r}" if section == "source" and isinstance(value, str) else "key = value lines"
    return ConfigError(
        f"{origin}: [{section}] must be a table, got {section} = {value!r} "
        f"(write it as a table: a [{section}] line, then {keys})"
    )


def _build_section(cls: type, section: str, values: dict[str, Any], origin: str) -> Any:
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in hints:
            raise ConfigError(f"{origin}: unknown key '{key}' in [{section}] (known: {', '.join(hints)})")
        kwargs[key] = _coerce(hints[key], value, f"{origin}: [{section}] {key}")
    return cls(**kwargs)


def _coerce(kind: Any, value: Any, where: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} must be a string, got {value!r}")
    if kind == tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{where} must be a list of strings, got {value!r}")
    raise ConfigError(f"{where}: unsupported setting type {kind}")


def replace(config: EngineConfig, section: str, **values: Any) -> EngineConfig:
    """A copy of ``config`` with some keys of one section changed (validated)."""
    return dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **values)})
