"""Write WebSocket messages produced by the engine's own encoder, plus the values the bridge must read.

Run by ``build_and_test.sh`` in the same CI run as the C# tests, so a change to the wire format
that the Unity bridge does not follow breaks CI:

    python unity_bridge/ci~/emit_messages.py OUT_DIR

OUT_DIR receives ``NN_<case>.json`` (the exact text of one message from
``vtuber.encode.ws_json.encode_hello`` / ``encode_frame``) and ``expected.json``, the sidecar the
C# tests compare against. The expected values are derived here from the ``AvatarPose`` inputs and
the conversion table of ``docs/protocol.md`` (Unity: positions ``(-x, y, z)``, rotations
``(x, -y, -z, w)``), not by re-reading the encoder's output.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from vtuber import geometry
from vtuber.encode import ws_json
from vtuber.records import AvatarPose, BoneTransform, HeadPose
from vtuber.retarget import skeleton

DECIMALS = ws_json.DECIMALS


def r6(value: float) -> float:
    return round(float(value), DECIMALS) + 0.0


def wire_rotation(q, coords: str) -> list[float]:
    x, y, z, w = (float(v) for v in q)
    return [r6(v) for v in ((x, -y, -z, w) if coords == "unity" else (x, y, z, w))]


def wire_position(p, coords: str) -> list[float]:
    x, y, z = (float(v) for v in p)
    return [r6(v) for v in ((-x, y, z) if coords == "unity" else (x, y, z))]


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    return q / np.linalg.norm(q)  # not canonicalised: about half have w < 0


# Blendshapes with names the bridge must decode exactly: VRM 0.x presets, a custom Japanese clip
# name (sent as \u escapes), an emoji (a UTF-16 surrogate pair), a quote and a backslash, and
# weights that Python writes in exponent form (1e-06) or that round to 0.0 / 1.0.
PROFILE_BLENDSHAPES = {
    "Blink_L": 0.91,
    "Blink_R": 0.25,
    "A": 0.123456789,
    "Joy": 1.0,
    "\u307e\u3070\u305f\u304d": 0.5,
    "smile \U0001f600": 0.333333333,
    'quote"back\\slash': 0.75,
    "tiny": 0.000001,
    "vanishing": 0.0000004,
    "zero": 0.0,
}
ARKIT_BLENDSHAPES = {
    "eyeBlinkLeft": 0.9,
    "eyeBlinkRight": 0.1,
    "jawOpen": 0.4567891,
    "mouthSmileLeft": 0.0000012,
    "aa": 0.6,
    "ih": 0.0,
    "ou": 0.05,
    "ee": 0.07,
    "oh": 1.0,
}


def full_pose(rng: np.random.Generator) -> tuple[AvatarPose, dict]:
    bones = {name: BoneTransform(random_rotation(rng)) for name in skeleton.BONES}
    # Values that stress the rounding: a component below 5e-7 (rounds to 0), a negative one that
    # rounds to -0.0 (sent as 0.0), and an exact identity.
    bones["LeftEye"] = BoneTransform(np.array([4e-7, -4e-7, 0.0, 1.0]))
    bones["Jaw"] = BoneTransform(np.array([0.0, 0.0, 0.0, 1.0]))
    yaw, pitch, roll = 20.0, 10.0, -5.0
    head = HeadPose(
        geometry.from_yaw_pitch_roll(math.radians(yaw), math.radians(pitch), math.radians(roll)),
        np.array([0.02, 0.05, -0.6]),
    )
    pose = AvatarPose(
        t=12.3456789,
        index=370,
        root=BoneTransform(random_rotation(rng), np.array([0.1, -0.2, 0.3])),
        bones=bones,
        blendshapes=PROFILE_BLENDSHAPES,
        head=head,
        source_blendshapes=ARKIT_BLENDSHAPES,
        tracked={"face": True, "left_hand": False, "right_hand": True, "pose": True},
    )
    return pose, {"yaw": yaw, "pitch": pitch, "roll": roll}


def sparse_pose(rng: np.random.Generator) -> AvatarPose:
    """Head never tracked, no tracking flags, root position unknown, one known and one unknown bone."""
    return AvatarPose(
        t=2.0**33 + 0.5,
        index=2**40 + 7,
        root=BoneTransform(np.array([0.0, 0.0, 0.0, 1.0])),
        bones={
            "Head": BoneTransform(-random_rotation(rng)),
            "LeftUpperArmTwist": BoneTransform(random_rotation(rng)),
        },
        blendshapes={},
        head=None,
        source_blendshapes={},
        tracked={},
    )


def expected_frame(
    pose: AvatarPose, coords: str, names: str, sent: float, euler: dict | None
) -> dict:
    tracking = [["face", bool(pose.tracked.get("face", False))]]
    tracking += [[k, bool(v)] for k, v in pose.tracked.items() if k != "face"]
    head = None
    if pose.head is not None:
        assert euler is not None
        head = {
            "rotation": wire_rotation(pose.head.rotation, coords),
            "position": wire_position(pose.head.position, coords),
            **euler,
        }
    blend = pose.blendshapes if names == "profile" else pose.source_blendshapes
    root_position = pose.root.position if pose.root.position is not None else (0.0, 0.0, 0.0)
    return {
        "type": "frame",
        "coords": coords,
        "names": names,
        "index": int(pose.index),
        "t": r6(pose.t),
        "sent": r6(sent),
        "tracking": tracking,
        "head": head,
        "root": {
            "rotation": wire_rotation(pose.root.rotation, coords),
            "position": wire_position(root_position, coords),
        },
        "bones": [[name, wire_rotation(b.rotation, coords)] for name, b in pose.bones.items()],
        "blendshapes": [[name, r6(w)] for name, w in blend.items()],
    }


def with_schema(text: str, schema: int) -> str:
    message = json.loads(text)
    message["schema"] = schema
    return json.dumps(message, separators=(",", ":"))


def emit(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(8)
    cases: list[dict] = []

    def add(name: str, text: str, expected: dict) -> None:
        file = f"{len(cases):02d}_{name}.json"
        (out / file).write_text(text, encoding="utf-8")
        cases.append({"name": name, "file": file, "expected": expected})

    sent = 1767225600.123456
    bones = list(skeleton.BONES)
    hellos = {}
    for coords in ws_json.COORDS:
        for names in ws_json.NAMES:
            text = ws_json.encode_hello(
                engine_version="9.9.9",
                coords=coords,
                names=names,
                avatar_profile="vroid_default",
                bones=bones,
            )
            hellos[(coords, names)] = text
            add(
                f"hello_{coords}_{names}",
                text,
                {
                    "type": "hello",
                    "schema": ws_json.SCHEMA_VERSION,
                    "engine": "vtuber 9.9.9",
                    "coords": coords,
                    "names": names,
                    "avatar_profile": "vroid_default",
                    "bones": bones,
                },
            )
    add(
        "hello_subset",
        ws_json.encode_hello(
            engine_version="0.1.0",
            coords="unity",
            names="profile",
            avatar_profile="vrm0",
            bones=["Hips", "Head"],
        ),
        {
            "type": "hello",
            "schema": ws_json.SCHEMA_VERSION,
            "engine": "vtuber 0.1.0",
            "coords": "unity",
            "names": "profile",
            "avatar_profile": "vrm0",
            "bones": ["Hips", "Head"],
        },
    )

    pose, euler = full_pose(rng)
    for coords in ws_json.COORDS:
        for names in ws_json.NAMES:
            text = ws_json.encode_frame(pose, coords=coords, names=names, sent_wall_s=sent)
            add(
                f"frame_full_{coords}_{names}",
                text,
                expected_frame(pose, coords, names, sent, euler),
            )

    sparse = sparse_pose(rng)
    for coords in ws_json.COORDS:
        text = ws_json.encode_frame(sparse, coords=coords, names="profile", sent_wall_s=sent + 1)
        add(
            f"frame_sparse_{coords}",
            text,
            expected_frame(sparse, coords, "profile", sent + 1, None),
        )

    # Schema mismatch: the same messages stamped with the next schema.
    wrong = ws_json.SCHEMA_VERSION + 1
    add(
        "schema_mismatch_hello",
        with_schema(hellos[("unity", "profile")], wrong),
        {"type": "error", "message_type": "hello", "schema": wrong},
    )
    add(
        "schema_mismatch_frame",
        with_schema(
            ws_json.encode_frame(pose, coords="unity", names="profile", sent_wall_s=sent), wrong
        ),
        {"type": "error", "message_type": "frame", "schema": wrong},
    )

    sidecar = {
        "schema_version": ws_json.SCHEMA_VERSION,
        "decimals": DECIMALS,
        "bones": bones,
        "parents": {name: skeleton.PARENTS[name] for name in skeleton.BONES},
        "cases": cases,
    }
    (out / "expected.json").write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
    return sidecar


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    sidecar = emit(Path(argv[1]))
    print(
        f"wrote {len(sidecar['cases'])} messages (schema {sidecar['schema_version']}) to {argv[1]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
