"""VMC receiver presets and a send-rate cap, around ``vtuber.send.udp.VmcSender``.

A preset bundles what a receiver needs (anchors.md section 3, "Receiver quirks"):

=============  =======  ==============  ==========  =================================================
preset         profile  bone positions  root turn   why
=============  =======  ==============  ==========  =================================================
generic        (pose)   rest offsets    no          the spec: all bones, local pose, Unity frame
vseeface       vrm0     rest offsets    no          wants whole frames as bundles: every bundle of a
                                                    frame goes out back to back in one ``send`` (never
                                                    single messages), <= 1472 B each
warudo         vrm0     rest offsets    180 deg     XR Animator turns the root 180 deg for Warudo;
                                                    VRM1 models want ``[vmc] profile = "vrm1"``
vnyan          vrm0     rest offsets    no          XR Animator's plain "VNyan" mode (its "VNyan(+Z)"
                                                    mode = ``[vmc] root_turn_180 = true``)
vmagicmirror   perfect  rest offsets    no          reads Perfect Sync clips; re-targets received
               _sync                                poses, so load the same avatar on both sides
evmc4u         vrm0     rest offsets    no          Bone Position Synchronize (on by default) applies
                                                    our positions as localPosition: we send rest
                                                    offsets, never zeros; give the avatar's own
                                                    ``rest_offsets`` or untick the option
=============  =======  ==============  ==========  =================================================

"rest offsets" means ``encode_vmc(bone_positions=False)``: each bone's position is its rest
offset (``rest_offsets`` or the default skeleton), never a per-frame or zero position.
A preset's ``profile`` re-maps ``pose.source_blendshapes`` to that receiver's names (VRM 0.x
presets, VRM 1.0 expressions or Perfect Sync), so several receivers with different vocabularies
can be fed from one engine; ``None`` keeps ``pose.blendshapes``. The root turn goes through
``vtuber.conventions.turn_around_y``.

``RateCap`` skips frames (it never waits) so a receiver gets at most ``max_rate_hz`` frames a
second on average, with a 20 % jitter allowance so a 60 Hz source under a 60 Hz cap keeps all
of its frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType, TracebackType

from numpy.typing import ArrayLike

from vtuber import conventions
from vtuber.errors import ConfigError, SenderError
from vtuber.records import AvatarPose, BoneTransform
from vtuber.retarget.profile import AvatarProfile, load_profile
from vtuber.retarget.retarget import map_blendshapes
from vtuber.send.udp import DEFAULT_TARGETS, Target, VmcSender

DEFAULT_MAX_RATE_HZ = 60.0
JITTER_FRACTION = 0.2
"""A frame up to 20 % of a period early still passes the cap (capture timestamps jitter)."""


@dataclass(frozen=True, slots=True)
class VmcPreset:
    """What one receiver needs. Fields are overridable per target (``with_options``)."""

    name: str
    profile: str | None = None
    bone_positions: bool = False
    root_turn_180: bool = False
    bones: bool = True
    blendshapes: bool = True
    notes: str = ""

    def with_options(self, **options: object) -> VmcPreset:
        """A copy with some fields changed (unknown names raise ConfigError)."""
        unknown = set(options) - {"profile", "bone_positions", "root_turn_180", "bones", "blendshapes"}
        if unknown:
            raise ConfigError(f"[vmc] unknown preset option {min(unknown)!r}")
        return replace(self, **options)  # type: ignore[arg-type]


PRESETS: Mapping[str, VmcPreset] = MappingProxyType(
    {
        "generic": VmcPreset("generic", notes="the VMC spec as written; blendshapes as the avatar profile names them"),
        "vseeface": VmcPreset("vseeface", profile="vrm0", notes="VMC receiver on 39539; whole frames as bundles"),
        "warudo": VmcPreset("warudo", profile="vrm0", root_turn_180=True, notes="root turned 180 deg; VRM1 models: [vmc] profile = vrm1"),
        "vnyan": VmcPreset("vnyan", profile="vrm0", notes="VNyan(+Z) mode: [vmc] root_turn_180 = true"),
        "vmagicmirror": VmcPreset("vmagicmirror", profile="perfect_sync", notes="load the same avatar in both apps"),
        "evmc4u": VmcPreset("evmc4u", profile="vrm0", notes="rest offsets as positions; untick Bone Position Synchronize or pass rest_offsets"),
    }
)


def get_preset(name: str) -> VmcPreset:
    """A preset by name (case-insensitive); ConfigError lists the choices."""
    try:
        return PRESETS[name.lower()]
    except KeyError:
        raise ConfigError(f"[vmc] unknown preset {name!r}: use one of {', '.join(PRESETS)}") from None


class RateCap:
    """Allow at most ``max_rate_hz`` frames per second on average, skipping the rest (pure:
    the caller passes the time). ``max_rate_hz <= 0`` allows everything."""

    __slots__ = ("_next", "_period", "allowed", "skipped")

    def __init__(self, max_rate_hz: float = DEFAULT_MAX_RATE_HZ) -> None:
        self._period = 1.0 / max_rate_hz if max_rate_hz > 0 else 0.0
        self._next: float | None = None
        self.allowed = 0
        self.skipped = 0

    def allow(self, time_s: float) -> bool:
        """True when a frame at ``time_s`` may be sent (and books it)."""
        tolerance = self._period * JITTER_FRACTION
        if self._next is not None and self._period > 0:
            restarted = time_s < self._next - 2.0 * self._period  # the clock went backwards
            if time_s < self._next - tolerance and not restarted:
                self.skipped += 1
                return False
            if restarted:
                self._next = None
        base = time_s - tolerance if self._next is None else max(self._next, time_s - tolerance)
        self._next = base + self._period
        self.allowed += 1
        return True


def apply_preset(pose: AvatarPose, preset: VmcPreset, profile: AvatarProfile | None) -> AvatarPose:
    """The pose as ``preset`` wants it: blendshapes renamed to ``profile``, root turned (pure)."""
    changes: dict[str, object] = {}
    if profile is not None and pose.source_blendshapes:
        changes["blendshapes"] = MappingProxyType(map_blendshapes(pose.source_blendshapes, profile))
    if preset.root_turn_180:
        position = pose.root.position if pose.root.position is not None else (0.0, 0.0, 0.0)
        q, p = conventions.turn_around_y(pose.root.rotation, position)
        changes["root"] = BoneTransform(rotation=q, position=p)
    return replace(pose, **changes) if changes else pose  # type: ignore[arg-type]


class PresetVmcSender:
    """A ``VmcSender`` configured for one receiver preset, behind a send-rate cap.

    Args:
        targets: receivers of this preset (default ``127.0.0.1:39539``).
        preset: a ``VmcPreset`` or its name (``vseeface``, ``warudo``, ``vnyan``,
            ``vmagicmirror``, ``evmc4u``, ``generic``).
        max_rate_hz: frames per second at most (default 60; 0 = no cap). Skips, never waits.
        rest_offsets: the avatar's own bone rest offsets (metres, internal frame).

    Raises:
        SenderError: an unknown preset or profile, or a bad target.
    """

    def __init__(
        self,
        targets: Sequence[Target] = DEFAULT_TARGETS,
        *,
        preset: VmcPreset | str = "generic",
        max_rate_hz: float = DEFAULT_MAX_RATE_HZ,
        rest_offsets: Mapping[str, ArrayLike] | None = None,
    ) -> None:
        try:
            self.preset = get_preset(preset) if isinstance(preset, str) else preset
            self._profile = load_profile(self.preset.profile) if self.preset.profile else None
        except ConfigError as exc:
            raise SenderError(str(exc)) from exc
        if max_rate_hz < 0:
            raise SenderError(f"[vmc] max_rate_hz must be >= 0, got {max_rate_hz}")
        self.rate_cap = RateCap(max_rate_hz)
        self._sender = VmcSender(
            targets,
            bones=self.preset.bones,
            bone_positions=self.preset.bone_positions,
            blendshapes=self.preset.blendshapes,
            rest_offsets=rest_offsets,
        )

    @property
    def targets(self) -> list[Target]:
        return self._sender.targets

    @property
    def dropped_datagrams(self) -> int:
        return self._sender.dropped_datagrams

    def send(self, pose: AvatarPose, time_s: float) -> None:
        """Send the frame if the cap allows it; all its bundles go out back to back."""
        if self.rate_cap.allow(time_s):
            self._sender.send(apply_preset(pose, self.preset, self._profile), time_s)

    def close(self) -> None:
        self._sender.close()

    def __enter__(self) -> PresetVmcSender:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
