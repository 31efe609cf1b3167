"""The records handed from stage to stage. Reading this file tells the whole data flow.

```
Frame --track--> Landmarks --solve--> Rig --smooth--> Rig --retarget--> AvatarPose --encode--> bytes/text
```

Conventions (the details live in ``vtuber.conventions``):

* ``t`` is the capture time in seconds: ``time.monotonic()`` at capture for cameras, the stream
  position for files. Nothing downstream invents a clock; filters and MediaPipe take ``t``.
* Image landmarks are MediaPipe-normalised: x right and y down in [0, 1] of the image width and
  height, z a relative depth on the scale of x (smaller is closer).
* Every rotation in ``Rig`` is a unit quaternion stored scalar-last ``(x, y, z, w)`` in the
  *internal avatar frame*: right-handed, metres, +Y up, +Z out of the avatar's face (forward),
  +X to the avatar's own left. This is glTF's / VRM 1.0's frame; Unity's is reached only through
  ``vtuber.conventions``.
* Left and right always mean the tracked person's own sides (MediaPipe's "subject" naming), never
  the viewer's; mirroring (selfie view) is one explicit step in retargeting.
* A missing part (face lost, hand out of view) is ``None`` plus quality data, never an exception.

All records are frozen; arrays inside them must be treated as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Mapping, NewType

import numpy as np
from numpy.typing import NDArray

BoneName = NewType("BoneName", str)
"""A Unity ``HumanBodyBones`` enum name, e.g. ``"Head"``, ``"LeftUpperArm"``."""

BlendshapeName = NewType("BlendshapeName", str)
"""A blendshape name. In ``Rig`` always an ARKit-52 name (``"eyeBlinkLeft"``); in ``AvatarPose``
the avatar profile's name (VRM 0.x preset, VRM 1.0 expression or Perfect Sync)."""

Side = Literal["left", "right"]

Quaternion = NDArray[np.float64]
"""Shape (4,), unit length, scalar-last ``(x, y, z, w)``."""

Vector3 = NDArray[np.float64]
"""Shape (3,)."""

_EMPTY: Mapping[str, float] = MappingProxyType({})


def frozen_mapping(values: Mapping[str, float] | None = None) -> Mapping[str, float]:
    """A read-only copy of ``values`` for use inside a frozen record."""
    return MappingProxyType(dict(values or {}))


# ---------------------------------------------------------------------------------------------
# Capture -> track
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured image.

    Attributes:
        image: (H, W, 3) uint8, RGB order (converted once, in the capture layer).
        t: capture time in seconds (monotonic for live sources, stream time for files).
        index: 0-based frame number from the source (gaps mean the engine dropped frames).
    """

    image: NDArray[np.uint8]
    t: float
    index: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


# ---------------------------------------------------------------------------------------------
# Track -> solve
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaceLandmarks:
    """One face.

    Attributes:
        points: (N, 3) float32 normalised image coordinates. N is 478 for MediaPipe with iris
            (468 mesh + 2x5 iris: right iris 468-472, left iris 473-477), 468 without iris,
            68 for the iBUG 68-point layout.
        presence: 0..1 confidence that this is a face.
        blendshapes: ARKit-52 coefficients when the tracker produced them (MediaPipe Tasks
            FaceLandmarker), else empty. Left/Right are the subject's sides.
        head_points: a second tracker's points of the same face and layout for head pose, or
            None (head pose from ``points``). MediaPipe's hybrid back end puts the Tasks
            FaceLandmarker's points here (steadier and closer to the true head rotation) while
            ``points`` are legacy Face Mesh's (eyes that wink independently).
    """

    points: NDArray[np.float32]
    presence: float = 1.0
    blendshapes: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    head_points: NDArray[np.float32] | None = None

    @property
    def layout(self) -> Literal["mediapipe", "ibug68"]:
        """Which landmark index layout ``points`` follows."""
        return "ibug68" if len(self.points) == 68 else "mediapipe"

    @property
    def has_iris(self) -> bool:
        return len(self.points) >= 478


@dataclass(frozen=True, slots=True)
class PoseLandmarks:
    """MediaPipe Pose / BlazePose 33 body points.

    Attributes:
        points: (33, 3) float32 normalised image coordinates.
        world: (33, 3) float32 metres, origin between the hips, MediaPipe world axes
            (x to the image right, y down, z away from the camera).
        visibility: (33,) float32, 0..1 likelihood that each point is visible.
    """

    points: NDArray[np.float32]
    world: NDArray[np.float32]
    visibility: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class HandLandmarks:
    """21 MediaPipe hand points of one hand.

    Attributes:
        side: which of the subject's hands this is.
        points: (21, 3) float32 normalised image coordinates.
        world: (21, 3) float32 metres around the hand's centre, or None when the tracker has none.
        score: 0..1 handedness/presence confidence.
    """

    side: Side
    points: NDArray[np.float32]
    world: NDArray[np.float32] | None = None
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class Landmarks:
    """Everything the tracker found in one frame.

    Attributes:
        t: capture time of the frame, seconds.
        index: the frame's index.
        image_size: (width, height) in pixels of the frame the points are normalised to.
        face / pose / left_hand / right_hand: None when not tracked this frame.
    """

    t: float
    index: int
    image_size: tuple[int, int]
    face: FaceLandmarks | None = None
    pose: PoseLandmarks | None = None
    left_hand: HandLandmarks | None = None
    right_hand: HandLandmarks | None = None


# ---------------------------------------------------------------------------------------------
# Solve -> smooth -> retarget
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Head rotation and position in the internal frame.

    Attributes:
        rotation: (x, y, z, w) rotation of the head relative to facing the camera squarely.
        position: (3,) metres of the head (canonical face origin, behind the nose bridge) relative
            to the camera, in the internal frame: +X to the subject's left as seen by a camera
            facing them, +Y up, +Z toward the camera (so a head 0.6 m away has z = -0.6).
        reprojection_error_px: RMS PnP residual in pixels, a quality measure.
    """

    rotation: Quaternion
    position: Vector3
    reprojection_error_px: float = 0.0


@dataclass(frozen=True, slots=True)
class Rig:
    """The solved (and later smoothed) motion of one frame, avatar-independent.

    Attributes:
        t: capture time of the source frame, seconds.
        index: source frame index.
        head: head pose, or None when no face was tracked (before smoothing).
        blendshapes: ARKit-52 names (plus the VRM visemes ``aa ih ou ee oh``) -> weight in
            [0, 1]; Left/Right are the subject's sides.
        bones: Unity HumanBodyBones names -> local rotation relative to the VRM/Unity T-pose rest,
            in the internal frame.
        tracked: which parts were observed this frame (e.g. {"face": True, "left_hand": False}).
        held: channels the smoother held or eased because they were not observed.
    """

    t: float
    index: int
    head: HeadPose | None = None
    blendshapes: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    bones: Mapping[str, Quaternion] = field(default_factory=lambda: MappingProxyType({}))
    tracked: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))
    held: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class BoneTransform:
    """A bone's local transform in the internal frame (rotation relative to the T-pose rest,
    position = the bone's rest offset from its parent in metres, None where unknown)."""

    rotation: Quaternion
    position: Vector3 | None = None


@dataclass(frozen=True, slots=True)
class AvatarPose:
    """What the encoders take: a Rig retargeted to one avatar profile, still in the internal frame
    (each encoder converts to its wire frame through ``vtuber.conventions``).

    Attributes:
        t: capture time of the source frame, seconds.
        index: source frame index.
        root: the avatar root transform.
        bones: HumanBodyBones name -> local transform.
        blendshapes: avatar blendshape names (the profile's vocabulary) -> weight in [0, 1].
        head: the whole head pose (after mirroring), for receivers that take head angles rather
            than bones (VTube Studio, iFacialMocap); None when never tracked.
        source_blendshapes: the Rig's own channels before name mapping (ARKit-52 names plus the
            VRM visemes aa/ih/ou/ee/oh), for senders that map names per client.
        tracked: copied from the Rig.
    """

    t: float
    index: int
    root: BoneTransform
    bones: Mapping[str, BoneTransform]
    blendshapes: Mapping[str, float]
    head: HeadPose | None = None
    source_blendshapes: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    tracked: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))
