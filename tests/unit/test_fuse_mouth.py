"""The hybrid back end's two point sets: lip measures averaged, eyes and brows left alone."""

from __future__ import annotations

import numpy as np

from vtuber.solve.arkit import MOUTH_FEATURES, face_features, fuse_mouth, neutral_features
from vtuber.solve.face_model import canonical_face


def test_only_lip_measures_are_averaged() -> None:
    a = dict(neutral_features())
    b = {k: v + 1.0 for k, v in a.items()}
    fused = fuse_mouth(dict(a), b)
    for name, value in fused.items():
        expected = a[name] + 0.5 if name in MOUTH_FEATURES else a[name]
        assert abs(value - expected) < 1e-12, name
    assert {"lip_gap", "mouth_width", "corner_y_L", "corner_y_R"} <= MOUTH_FEATURES
    assert not any(k.startswith(("iris", "lower_lid", "brow")) for k in MOUTH_FEATURES)


def test_fusing_a_face_with_itself_changes_nothing_and_an_opened_jaw_lands_between() -> None:
    v = canonical_face().vertices_cm
    closed = np.vstack([v, np.zeros((10, 3))])
    opened = closed.copy()
    opened[[14, 17, 152], 1] -= 1.0  # lower lip and chin 1 cm down
    f_closed, f_open = face_features(closed), face_features(opened)
    assert fuse_mouth(dict(f_closed), f_closed) == f_closed
    gap = fuse_mouth(dict(f_closed), f_open)["lip_gap"]
    assert f_closed["lip_gap"] < gap < f_open["lip_gap"]
    assert abs(gap - 0.5 * (f_closed["lip_gap"] + f_open["lip_gap"])) < 1e-12
