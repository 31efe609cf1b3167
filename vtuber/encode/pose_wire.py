"""AvatarPose <-> bytes for handing a frame to another process on the same machine (pure).

The WebSocket server runs in a child process (``vtuber.send.websocket_process``); the engine
hands it each frame as one message made here. Pickling the ``AvatarPose`` itself costs about
60 us a frame on this project's 2-core machine (55 bones, each a numpy quaternion object); this
packs the bone rotations into one array first and pickles plain values, about a third of that.

Carried: everything ``vtuber.encode.ws_json.encode_frame`` reads (``t``, ``index``, ``root``,
``head``, bone rotations, both blendshape vocabularies, ``tracked``) and the wall-clock time the
engine sent the frame. Not carried: bone positions (rest offsets no JSON field uses); the
rebuilt pose has ``position=None`` on every bone. Only for processes of the same installation:
the bytes are a pickle, never read from the network.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from vtuber.records import AvatarPose, BoneTransform, HeadPose, frozen_mapping

_NO_ROTATIONS = np.empty((0, 4), dtype=np.float64)


def pose_to_wire(pose: AvatarPose, sent_wall_s: float) -> bytes:
    """One frame as bytes.

    Args:
        pose: the retargeted pose (internal frame).
        sent_wall_s: wall-clock Unix time in seconds the engine sent the frame.
    """
    bones = pose.bones
    rotations = np.array([b.rotation for b in bones.values()], dtype=np.float64) if bones else _NO_ROTATIONS
    head = pose.head
    root = pose.root
    state = (
        float(sent_wall_s),
        pose.t,
        pose.index,
        tuple(bones),
        rotations.tobytes(),
        root.rotation.tolist(),
        None if root.position is None else root.position.tolist(),
        None if head is None else (head.rotation.tolist(), head.position.tolist(), head.reprojection_error_px),
        _plain_dict(pose.blendshapes),
        _plain_dict(pose.source_blendshapes),
        _plain_dict(pose.tracked),
    )
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def _plain_dict(mapping: Mapping[str, object]) -> dict[str, object]:
    """A ``dict`` copy of ``mapping`` (pickle takes no mapping proxy). A proxy of a dict, the
    records' usual read-only mapping, copies the dict whole (a tenth of ``dict(proxy)``'s cost,
    which reads it key by key); the same entries in the same order either way."""
    if type(mapping) is MappingProxyType or type(mapping) is dict:
        copy = mapping.copy()
        if type(copy) is dict:
            return copy
    return dict(mapping)


def pose_from_wire(data: bytes) -> tuple[AvatarPose, float]:
    """The pose and the sent wall-clock time ``pose_to_wire`` packed.

    Raises:
        ValueError: ``data`` is not a frame made by ``pose_to_wire``.
    """
    try:
        sent, t, index, names, rotations, root_rotation, root_position, head, blend, source, tracked = pickle.loads(data)
        quaternions = np.frombuffer(rotations, dtype=np.float64).reshape(len(names), 4)
    except Exception as exc:  # noqa: BLE001 - any damage means the same thing: not our frame
        raise ValueError(f"not a pose frame ({type(exc).__name__}: {exc})") from exc
    pose = AvatarPose(
        t=t,
        index=index,
        root=BoneTransform(
            np.array(root_rotation, dtype=np.float64),
            None if root_position is None else np.array(root_position, dtype=np.float64),
        ),
        bones=MappingProxyType({name: BoneTransform(quaternions[i].copy()) for i, name in enumerate(names)}),
        blendshapes=frozen_mapping(blend),
        head=None if head is None else HeadPose(np.array(head[0]), np.array(head[1]), head[2]),
        source_blendshapes=frozen_mapping(source),
        tracked=MappingProxyType(dict(tracked)),
    )
    return pose, sent
