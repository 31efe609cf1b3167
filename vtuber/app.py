"""Builds the engine's parts from an ``EngineConfig`` and runs it (the I/O shell around the core).

Owns what the engine itself must not: opening devices, sockets and files, signal handling,
recording, and the live telemetry line on the terminal.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

from vtuber.capture.base import FrameSource
from vtuber.capture.open import open_source
from vtuber.config import EngineConfig, parse_host_port
from vtuber.errors import ConfigError
from vtuber.engine import Engine, FrameCallback, RunSummary
from vtuber.records import AvatarPose, Frame, Landmarks, Rig
from vtuber.retarget.profile import load_profile
from vtuber.send.base import Sender
from vtuber.smooth import RigSmoother, get_preset
from vtuber.solve.body import relaxed_rest
from vtuber.solve.camera import CameraIntrinsics
from vtuber.solve.rig import FaceCalibration
from vtuber.track.base import Tracker

logger = logging.getLogger(__name__)

DEFAULT_RECORD_FPS = 30.0  # BVH frame rate when the source does not say (webcam default rate)


def telemetry_line(engine: Engine) -> str:
    """One status line: per-stage p95 latency, capture-to-send latency, tracking state and, with
    the WebSocket stream on, how many clients (browser sources, Unity) read it."""
    tel = engine.telemetry
    stages = " ".join(f"{name} {tel.stage(name).p95_ms:.1f}" for name in ("track", "solve", "smooth", "send"))
    line = (
        f"frame {tel.frames} | p95 ms: {stages} | after-track {tel.after_tracking().p95_ms:.2f}"
        f" | latency p95 {tel.latency().p95_ms:.0f} ms | face {engine.face_state}"
    )
    readers = [s.client_count for s in engine.senders if isinstance(getattr(s, "client_count", None), int)]
    if readers:
        line += f" | ws clients {sum(readers)}"
    return line


class FpsPrinter:
    """Writes the telemetry line to stderr about once a second (a terminal overwrites it).

    The engine thread only builds the line and hands it over; a daemon thread writes it, so a
    paused terminal (Ctrl-S) or a slow pipe never stalls the engine (a line not yet written is
    replaced by the newer one), and a closed stderr ends the view, not the run."""

    def __init__(self) -> None:
        import queue

        self._last_frames = 0
        self._last_time = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._lines: queue.Queue[str] = queue.Queue(maxsize=1)
        threading.Thread(target=self._write_lines, name="vtuber-telemetry", daemon=True).start()

    def __call__(self, engine: Engine) -> None:
        import queue

        now = time.monotonic()
        fps = (engine.telemetry.frames - self._last_frames) / max(now - self._last_time, 1e-6)
        self._last_frames, self._last_time = engine.telemetry.frames, now
        line = f"{fps:5.1f} fps | {telemetry_line(engine)}"
        text = ("\r" + line + "\033[K") if self.tty else line + "\n"
        try:
            self._lines.get_nowait()  # drop a line the writer has not taken yet
        except queue.Empty:
            pass
        try:
            self._lines.put_nowait(text)
        except queue.Full:
            pass

    def _write_lines(self) -> None:
        while True:
            text = self._lines.get()
            try:
                sys.stderr.write(text)
                sys.stderr.flush()
            except (OSError, ValueError):  # stderr closed (a pipe reader went away)
                return


def build_senders(config: EngineConfig, stack: ExitStack, profile_name: str) -> list[Sender]:
    """The network outputs the config enables, opened and registered for closing."""
    senders: list[Sender] = []
    if config.vmc.enabled and config.vmc.targets:
        from vtuber.send.vmc_presets import PresetVmcSender

        targets = [parse_host_port(t, "--vmc") for t in config.vmc.targets]
        from vtuber.send.vmc_presets import get_preset as get_vmc_preset

        preset = get_vmc_preset(config.vmc.preset)
        if config.vmc.profile:
            preset = preset.with_options(profile=config.vmc.profile)
        if config.vmc.root_turn_180:
            preset = preset.with_options(root_turn_180=True)
        vmc = PresetVmcSender(targets, preset=preset, max_rate_hz=config.vmc.max_rate_hz)
        senders.append(stack.enter_context(vmc))
        logger.info("sending VMC (%s preset) to %s", config.vmc.preset, ", ".join(config.vmc.targets))
    if config.vts.enabled:
        from vtuber.send.vts import VtsPlugin

        vts = VtsPlugin(config.vts.url, token_path=config.vts.token_path or None)
        stack.callback(vts.close)
        senders.append(vts)
        logger.info("VTube Studio plugin: connecting to %s (allow the plugin in VTube Studio)", config.vts.url)
    if config.ifacialmocap.enabled:
        from vtuber.send.ifacialmocap import IFacialMocapSender

        targets = [parse_host_port(t, "[ifacialmocap] targets") for t in config.ifacialmocap.targets]
        senders.append(stack.enter_context(IFacialMocapSender(targets)))
        logger.info("sending iFacialMocap to %s", ", ".join(config.ifacialmocap.targets))
    if config.osc.enabled:
        from vtuber.send.osc_map import OscMapSender

        targets = [parse_host_port(t, "[osc] targets") for t in config.osc.targets] or None
        osc = OscMapSender(config.osc.map, targets)
        senders.append(stack.enter_context(osc))
        logger.info("sending OSC with the map %s", config.osc.map)
    if config.websocket.enabled:
        from vtuber.send.websocket import WebSocketServer
        from vtuber.send.websocket_process import WebSocketServerProcess, supported

        # its own process where the platform allows: clients never take the engine's GIL
        server_class = WebSocketServerProcess if supported() else WebSocketServer
        server = server_class(
            host=config.websocket.host,
            port=config.websocket.port,
            avatar_profile=profile_name,
            token=config.websocket.token or None,
            allowed_origins=config.websocket.allowed_origins,
        )
        server.start()
        stack.callback(server.close)
        senders.append(server)
        logger.info("WebSocket stream on ws://%s:%d/", config.websocket.host, server.port)
        if config.page.enabled:
            start_page(config, stack, f"ws://{config.websocket.host}:{server.port}")
    return senders


def start_page(config: EngineConfig, stack: ExitStack, ws_url: str) -> None:
    """Serve the browser-source page, or say in one line why it is not available."""
    from vtuber.errors import SenderError
    from vtuber.send.access import is_loopback
    from vtuber.web.server import PageServer

    try:
        page = PageServer(
            host=config.page.host,
            port=config.page.port,
            avatar_path=config.page.avatar or None,
            ws_url=ws_url,
            token=config.websocket.token or None,
            allowed_origins=config.websocket.allowed_origins,
        )
        page.start()
    except SenderError as exc:
        if config.page.avatar or not is_loopback(config.page.host):  # the user asked for the page explicitly
            raise
        logger.warning("browser-source page not served: %s", exc)
        return
    stack.callback(page.close)
    logger.info("OBS browser source: %s", page.url if page.token is None else page.url.split("?")[0] + "?token=<your access token>")


def build_tracker(config: EngineConfig, models_dir_env: str | None) -> Tracker:
    """The configured tracker; 68-point back ends are imported only when chosen."""
    if config.track.backend == "dlib":
        from vtuber.track.dlib_adapter import DlibTracker

        return DlibTracker()
    if config.track.backend == "fan":
        from vtuber.track.fan_adapter import FanTracker

        return FanTracker(device=config.track.device)  # type: ignore[arg-type]
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    return MediaPipeTracker(
        config.track.mode,  # type: ignore[arg-type]
        face_backend=config.track.face_backend,  # type: ignore[arg-type]
        models_dir=config.track.models_dir or models_dir_env or None,
        download_models=config.track.download_models,
        hand_backend=config.track.hand_backend,
    )


REPLAY_SECTIONS = ("camera", "user", "smoothing", "avatar")
"""Config sections that change what a session's landmarks become (intrinsics, calibration
profile, smoothing, avatar profile and mirroring): stored in a session's header so that
``vtuber replay`` reproduces the live run."""


def replay_settings(config: EngineConfig) -> dict[str, dict[str, Any]]:
    """The ``REPLAY_SECTIONS`` of ``config`` as TOML-like plain data (a session header's ``settings``)."""
    return {name: dataclasses.asdict(getattr(config, name)) for name in REPLAY_SECTIONS}


def check_recording_paths(config: EngineConfig) -> None:
    """ConfigError, before anything opens or is written, when the run's recordings would destroy
    data: a folder, a BVH named .csv, two recordings in one file, a recording onto the source
    being read, or (without ``[record] overwrite`` / ``--overwrite``) an earlier take
    (``vtuber.record.safety``)."""
    from vtuber.record import safety

    targets: list[safety.Target] = []
    if config.record.session:
        targets.append(safety.Target(config.record.session, "--record-session", "session"))
    if config.record.bvh:
        targets += safety.bvh_targets(config.record.bvh, "--record-bvh")
    spec = config.source.spec
    inputs = [Path(spec)] if spec and spec != "demo" else []
    safety.check_targets(targets, inputs, overwrite=config.record.overwrite)


def build_recorders(config: EngineConfig, source: FrameSource, stack: ExitStack, setup: UserSetup | None = None) -> FrameCallback | None:
    """An ``on_frame`` callback writing BVH and/or a session file, closed by ``stack``.

    Every file is created here, before the run starts, with its header (a run that records
    nothing still leaves valid empty recordings); a path that cannot be written raises a
    one-line ``RecordingError`` before any frame is processed. The paths were checked by
    ``check_recording_paths`` before anything opened."""
    writers: list[Callable[[Frame, Landmarks, Rig, AvatarPose], None]] = []
    fps = source.nominal_fps or DEFAULT_RECORD_FPS
    if config.record.session:
        from vtuber.record.session import SessionWriter

        # image_size [0, 0]: filled in from the first frame by the writer
        header = {
            "source": source.name,
            "fps": fps,
            "image_size": [0, 0],
            "mode": config.track.mode,
            "settings": replay_settings(config),
            **({"user_setup": setup.to_header()} if setup is not None else {}),
        }
        session = stack.enter_context(SessionWriter(config.record.session, header))
        writers.append(lambda frame, lm, rig, pose: session.write(lm, rig))
        logger.info("recording the session to %s", config.record.session)
    if config.record.bvh:
        from vtuber.record.bvh_file import BvhFileWriter, rig_blendshape_names

        path = Path(config.record.bvh)
        csv = path.with_suffix(".csv")
        bvh = stack.enter_context(
            BvhFileWriter(path, fps, blendshape_csv=csv, blendshape_names=rig_blendshape_names(), rest=relaxed_rest())
        )
        writers.append(lambda frame, lm, rig, pose: bvh.write_rig(rig))
        logger.info("recording BVH to %s (%.3f fps), blendshapes to %s", path, fps, csv)
    if not writers:
        return None

    def on_frame(frame: Frame, lm: Landmarks, rig: Rig, pose: AvatarPose) -> None:
        for write in writers:
            write(frame, lm, rig, pose)

    return on_frame


def load_face_calibration(config: EngineConfig) -> FaceCalibration:
    """The user's profile (``--user-profile`` or the selected one): its ``[face]`` section and,
    riding along for the body solver, its ``[body]`` section (``FaceCalibration.body``). A missing
    section means defaults quietly; a broken one is one warning line naming the file and field,
    then defaults for that section only. With a 68-point tracker (dlib, FAN) the ``[face]``
    section, measured with MediaPipe, is left out with one warning line."""
    import dataclasses

    from vtuber.calibrate import store
    from vtuber.solve.body_calibration import parse_body
    from vtuber.solve.calibration import parse_face

    root = config.user.calibration_dir
    name = config.user.profile or store.selected("user", root)
    if not name:
        return FaceCalibration()
    calibration = FaceCalibration()
    loaded: list[str] = []
    failed: list[str] = []
    for section, parse, what in (("face", parse_face, "face calibration"), ("body", parse_body, "body calibration (none)")):
        try:
            value = store.load_user_section(name, section, parse, root)  # type: ignore[arg-type]
        except ConfigError as exc:
            if str(exc) not in failed:  # a missing or unreadable file fails both sections alike
                logger.warning("%s; using the default %s", exc, what)
            failed.append(str(exc))
            continue
        if value is None:
            continue
        loaded.append(section)
        calibration = value if section == "face" else dataclasses.replace(calibration, body=value)
    if "face" in loaded and config.track.backend != "mediapipe":
        # ``vtuber calibrate face`` measures MediaPipe's landmarks: its neutral head rotation and
        # eye/mouth ranges do not fit a 68-point tracker's (``solve_rig`` ignores them there too)
        logger.warning(
            "user profile %s: its face calibration was made with MediaPipe and is not used with --tracker %s "
            "(68-point defaults instead)",
            name,
            config.track.backend,
        )
        loaded.remove("face")
        calibration = FaceCalibration(body=calibration.body)
    logger.info("user profile: %s (%s)", name, ", ".join(loaded) or "no usable sections")
    return calibration


@dataclasses.dataclass(frozen=True, slots=True)
class UserSetup:
    """What a run solves with beyond the config: the user's calibration and the camera profile.
    A session records both (its header's ``user_setup``), so a replay does not depend on the
    profiles on disk when it runs (re-calibrated, renamed, another folder).

    Attributes:
        calibration: the face calibration, with the body calibration riding along.
        camera_profile: the camera profile's TOML table (``store.camera_to_table``), or None for
            the field-of-view default.
        origin: where ``camera_profile`` came from, for messages (a file or a session).
    """

    calibration: FaceCalibration
    camera_profile: dict[str, Any] | None = None
    origin: str = "camera profile"

    def camera_resolver(self) -> Callable[[tuple[int, int]], CameraIntrinsics | None]:
        """Called on the first frame: the camera profile fitted to the stream's (width, height),
        or None (with one warning line) when there is none or it does not fit."""
        from vtuber.calibrate import store

        table = self.camera_profile

        def resolve(size: tuple[int, int]) -> CameraIntrinsics | None:
            if table is None:
                return None
            try:
                profile = store.parse_camera_profile(table, self.origin, str(table.get("name", "")))
                camera = store.fit_to_image(profile.intrinsics, size, self.origin)
            except ConfigError as exc:
                logger.warning("%s; using the field-of-view default instead", exc)
                return None
            logger.info("camera profile: fx %.1f fy %.1f px at %dx%d", camera.fx, camera.fy, *size)
            return camera

        return resolve

    def to_header(self) -> dict[str, Any]:
        """Plain JSON data for a session header."""
        from vtuber.solve.body_calibration import body_to_table
        from vtuber.solve.calibration import calibration_to_table

        body = self.calibration.body
        return _finite_json({
            "face": calibration_to_table(self.calibration),
            "body": None if body is None else body_to_table(body),
            "camera_profile": self.camera_profile,
        })

    @classmethod
    def from_header(cls, data: Any, where: str) -> UserSetup:
        """The inverse of ``to_header``; ConfigError (one line naming ``where``) when damaged."""
        from vtuber.solve.body_calibration import parse_body
        from vtuber.solve.calibration import parse_face

        if not isinstance(data, dict) or not isinstance(data.get("face"), dict):
            raise ConfigError(f"{where}: user_setup must be a table with a face table")
        calibration = parse_face(data["face"], where)
        if isinstance(data.get("body"), dict):
            calibration = dataclasses.replace(calibration, body=parse_body(data["body"], where))
        camera = data.get("camera_profile")
        origin = f"{where} (recorded camera profile)"
        if camera is not None:
            if not isinstance(camera, dict):
                raise ConfigError(f"{where}: user_setup.camera_profile must be a table")
            from vtuber.calibrate import store

            store.parse_camera_profile(camera, origin, str(camera.get("name", "")))  # damaged: ConfigError now
        return cls(calibration, camera, origin)


def _finite_json(value: Any) -> Any:
    """``value`` without non-finite floats (a profile's unknown ``rms_px`` is NaN), which strict
    JSON readers refuse: a table entry is left out (readers then use its default), a list item
    becomes None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items() if not (isinstance(v, float) and not math.isfinite(v))}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


def load_user_setup(config: EngineConfig) -> UserSetup:
    """The user's calibration (``load_face_calibration``) and the named or selected camera
    profile's table; a missing or broken camera profile is one warning line, then the
    field-of-view default."""
    from vtuber.calibrate import store

    root = config.user.calibration_dir
    name = config.camera.profile or store.selected("camera", root)
    table: dict[str, Any] | None = None
    origin = "camera profile"
    if name:
        try:
            path = store.resolve("camera", name, root)
            profile = store.read_camera_profile(name, root)
        except ConfigError as exc:
            logger.warning("%s; using the field-of-view default instead", exc)
        else:
            origin = str(path)
            i = profile.intrinsics
            table = store.camera_to_table(i, rms_px=profile.rms_px, name=profile.name, created=profile.created or None)
    setup = UserSetup(load_face_calibration(config), table, origin)
    # solve with exactly what a session records (parsing renormalises the neutral rotation,
    # which can move its last bit): the live run and its replay then agree byte for byte
    recorded = UserSetup.from_header(json.loads(json.dumps(setup.to_header())), origin)
    return dataclasses.replace(recorded, origin=origin)


def run_engine(
    config: EngineConfig,
    *,
    models_dir_env: str | None = None,
    source: FrameSource | None = None,
    tracker: Tracker | None = None,
    with_senders: bool = True,
    on_stats: Callable[[Engine], None] | None = None,
    setup: UserSetup | None = None,
) -> RunSummary:
    """Open everything the config names (or use the given source/tracker), run, close everything.
    ``setup``: the calibration and camera profile to solve with (a replay passes the session's);
    default: the user's profiles (``load_user_setup``)."""
    from vtuber.cli import install_stop_signals

    profile = load_profile(config.avatar.profile)
    check_recording_paths(config)  # before the camera and the models open: fail fast
    with ExitStack() as stack:
        if source is None:
            source = open_source(config.source)
        stack.callback(source.close)
        if tracker is None:
            tracker = build_tracker(config, models_dir_env)
        stack.callback(tracker.close)
        senders = build_senders(config, stack, profile.name) if with_senders else []
        if setup is None:
            setup = load_user_setup(config)
        on_frame = build_recorders(config, source, stack, setup)
        logger.info("source: %s; tracker: %s; profile: %s", source.name, tracker.name, profile.name)
        engine = Engine(
            source=source,
            tracker=tracker,
            smoother=RigSmoother(get_preset(config.smoothing.preset), rest=relaxed_rest()),
            profile=profile,
            senders=senders,
            fov_deg=config.camera.horizontal_fov_deg,
            camera_resolver=setup.camera_resolver(),
            calibration=setup.calibration,
            mirror=config.avatar.mirror,
            pace=config.source.pace,
            on_frame=on_frame,
        )
        install_stop_signals(engine.stop)
        printer = on_stats or (FpsPrinter() if config.run.telemetry else None)
        summary = engine.run(max_frames=config.run.max_frames, duration_s=config.run.duration_s, on_stats=printer)
        if printer is not None and sys.stderr.isatty():
            sys.stderr.write("\n")
        return summary
