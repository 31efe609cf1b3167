"""pose_wire: the frame handed to the WebSocket server process encodes to the same JSON."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tests.integration.test_websocket_server import make_pose
from vtuber import geometry
from vtuber.encode.pose_wire import pose_from_wire, pose_to_wire
from vtuber.encode.ws_json import encode_frame
from vtuber.records import AvatarPose, BoneTransform

VARIANTS = [(c, n) for c in ("unity", "gltf") for n in ("profile", "arkit")]


def test_round_trip_encodes_to_identical_json_in_every_variant() -> None:
    for index in range(20):
        pose = make_pose(index)
        copy, sent = pose_from_wire(pose_to_wire(pose, 1_700_000_000.123456))
        assert sent == 1_700_000_000.123456
        for coords, names in VARIANTS:
            assert encode_frame(copy, coords=coords, names=names, sent_wall_s=sent) == encode_frame(
                pose, coords=coords, names=names, sent_wall_s=sent
            )
        assert list(copy.bones) == list(pose.bones)  # bone order is part of the JSON
        for name, bone in pose.bones.items():
            np.testing.assert_array_equal(copy.bones[name].rotation, bone.rotation)


def test_pose_without_head_bones_or_root_position() -> None:
    pose = AvatarPose(t=1.5, index=7, root=BoneTransform(geometry.IDENTITY), bones={}, blendshapes={})
    copy, _ = pose_from_wire(pose_to_wire(pose, 0.0))
    assert copy.head is None and copy.root.position is None and dict(copy.bones) == {}
    assert encode_frame(copy, coords="unity", names="profile", sent_wall_s=0.0) == encode_frame(
        pose, coords="unity", names="profile", sent_wall_s=0.0
    )


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", pickle.dumps((1, 2, 3)), pickle.dumps((0.0, 0.0, 0, ("Hips",), b"\x00" * 8, [0, 0, 0, 1], None, None, {}, {}, {}))],
    ids=["empty", "garbage", "short", "rotations-cut"],
)
def test_damaged_bytes_are_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a pose frame"):
        pose_from_wire(data)
