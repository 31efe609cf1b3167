"""Body and finger solving on real clips with real MediaPipe Holistic, against labelled facts.

Labels: ``tests/data/body_labels.toml`` (frame ranges labelled by eye). Each clip is tracked once
(``MediaPipeTracker("upper_body", face_backend="mesh")``) and solved frame by frame with the
previous frame's bones; unobserved bones take ``relaxed_rest()`` (what the smoother eases to).

"Raised" is checked as the raised wrist being higher than the other wrist on the avatar (forward
kinematics on the default skeleton), not higher than the shoulder: MediaPipe's world upper arm
and forearm lengths differ from the avatar's (test_video: 0.19 m vs 0.27 m), so a hand held at
face height in the video lands at about shoulder height on an avatar with equal segments.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from tests.conftest import media_path
from vtuber import geometry
from vtuber.records import Frame, Rig
from vtuber.retarget.retarget import mirror_rig
from vtuber.solve import limits
from vtuber.solve.arms import elbow_flexion_deg
from vtuber.solve.body import BodySolution, relaxed_rest, solve_body
from vtuber.solve.fingers import finger_curl
from vtuber.solve.kinematics import forward_kinematics

pytestmark = [pytest.mark.mediapipe, pytest.mark.media, pytest.mark.slow]

LABELS = tomllib.loads((Path(__file__).parents[1] / "data" / "body_labels.toml").read_text())["clip"]
_CACHE: dict[str, list[BodySolution]] = {}


def _solve_clip(relative: str) -> list[BodySolution]:
    if relative in _CACHE:
        return _CACHE[relative]
    path = media_path(relative)
    cv2 = pytest.importorskip("cv2")
    from vtuber.track.mediapipe_adapter import MediaPipeTracker

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    out: list[BodySolution] = []
    previous = None
    with MediaPipeTracker("upper_body", face_backend="mesh") as tracker:
        index = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            frame = Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index / fps, index)
            solution = solve_body(tracker.track(frame), previous=previous)
            previous = solution.bones
            out.append(solution)
            index += 1
    cap.release()
    assert out, f"no frames decoded from {path}"
    _CACHE[relative] = out
    return out


def _frames(ranges: list[list[int]]) -> list[int]:
    return [i for lo, hi in ranges for i in range(lo, hi + 1)]


def _height(bones: dict[str, Any], bone: str) -> float:
    return float(forward_kinematics({**relaxed_rest(), **bones}).positions[bone][1])


def _ids(clip: dict[str, Any]) -> str:
    return Path(clip["path"]).stem


@pytest.mark.parametrize("clip", [c for c in LABELS if c.get("raised")], ids=_ids)
@pytest.mark.parametrize("mirror", [False, True], ids=["direct", "mirrored"])
def test_raised_hand_is_raised_on_the_avatar(clip: dict[str, Any], mirror: bool) -> None:
    solutions = _solve_clip(clip["path"])
    for fact in clip["raised"]:
        side = "Left" if fact["side"] == "left" else "Right"
        other = "Right" if side == "Left" else "Left"
        if mirror:  # the avatar moves like the user's mirror image: the other avatar hand rises
            side, other = other, side
        solved = 0
        for i in _frames(fact["frames"]):
            sol = solutions[i]
            if not sol.tracked[f"{fact['side']}_arm"] or f"{fact['side'].title()}LowerArm" not in sol.bones:
                continue
            solved += 1
            rig = Rig(t=0.0, index=i, bones=MappingProxyType(dict(sol.bones)))
            bones = dict(mirror_rig(rig).bones) if mirror else dict(sol.bones)
            raised = _height(bones, f"{side}Hand")
            lower = _height(bones, f"{other}Hand")
            assert raised > lower + fact["above_other_m"], (
                f"frame {i}: avatar {side}Hand at {raised:.2f} m, {other}Hand at {lower:.2f} m")
            if fact["forearm_up"]:
                assert raised > _height(bones, f"{side}LowerArm"), f"frame {i}: forearm not up"
        assert solved >= 0.6 * len(_frames(fact["frames"])), f"the raised arm was solved in only {solved} frames"


@pytest.mark.parametrize("clip", LABELS, ids=_ids)
def test_elbows_never_bend_backwards(clip: dict[str, Any]) -> None:
    lo, hi = limits.LOWER_ARM.flex
    checked = 0
    for sol in _solve_clip(clip["path"]):
        for side in ("left", "right"):
            bone = f"{side.title()}LowerArm"
            if bone not in sol.bones:
                continue
            checked += 1
            flex = elbow_flexion_deg(sol.bones[bone], side)  # type: ignore[arg-type]
            assert lo - 1e-6 <= flex <= hi + 1e-6, f"elbow flexion {flex:.1f} outside [{lo}, {hi}]"
            # and geometrically: the forearm is on the front side of the upper arm's bend plane
            posed = forward_kinematics({**relaxed_rest(), **sol.bones})
            up = posed.rotations[f"{side.title()}UpperArm"]
            forearm = posed.positions[f"{side.title()}Hand"] - posed.positions[bone]
            bend = geometry.rotate(up, limits.bone_axes(bone).bend)
            assert float(bend @ forearm) >= -1e-6
    assert checked > 0


@pytest.mark.parametrize("clip", [c for c in LABELS if c.get("fingers")], ids=_ids)
def test_fingers_open_and_close_with_the_video(clip: dict[str, Any]) -> None:
    solutions = _solve_clip(clip["path"])
    curls: dict[str, list[float]] = {"open": [], "closed": []}
    for fact in clip["fingers"]:
        for i in _frames(fact["frames"]):
            curl = finger_curl(solutions[i].bones, fact["side"])
            if curl is not None:
                curls[fact["state"]].append(curl)
    assert curls["open"], "no labelled open hand was tracked"
    open_mean = float(np.mean(curls["open"]))
    if curls["closed"] or any(f["state"] == "closed" for f in clip["fingers"]):
        assert curls["closed"], "no labelled closed hand was tracked"
        closed_mean = float(np.mean(curls["closed"]))
        gap = clip.get("min_curl_gap_deg", 10.0)
        assert closed_mean > open_mean + gap, f"closed {closed_mean:.1f} vs open {open_mean:.1f} degrees"
    if "max_open_curl_deg" in clip:
        assert open_mean < clip["max_open_curl_deg"], f"open hands curl {open_mean:.1f} degrees"
