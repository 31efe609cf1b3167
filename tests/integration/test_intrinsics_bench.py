"""Issue 9: with intrinsics recovered from rendered boards, the face bench's head rotation error is
lower than with the 60 degree field-of-view default (real MediaPipe on rendered faces through a
40 degree, off-centre, distorting camera; ``vtuber bench intrinsics``, docs/benchmarks.md).

The margin on MediaPipe landmarks is small (a few hundredths of a degree: the depth-aware head
fit leans on MediaPipe's own depth, which does not depend on the camera model), so the test uses
the face bench's own protocol (head on the optical axis) with 40 poses, where the result held for
each of the 4 seeds tried; the exact-landmark control shows how much the intrinsics matter when
the landmarks are perfect.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vtuber.bench import intrinsics

pytestmark = pytest.mark.mediapipe


def test_recovered_intrinsics_beat_the_fov_default(models_dir: Path) -> None:
    r = intrinsics.run(("tasks",), poses=40, views=20, seed=0, positions=("centre",))
    errors = r["board"]["recovered_vs_true"]
    assert abs(errors["fx_pct"]) < 1.0 and abs(errors["fy_pct"]) < 1.0, errors
    assert r["board"]["rms_px"] < 0.5, r["board"]
    head = r["head"]["tasks"]["centre"]
    assert head["missed"] == 0, head
    # the set-up is sensitive to the camera model: on exact landmarks the default is off by ~1 deg
    exact = head["exact"]
    assert exact["default"]["mean"] > 0.5 and exact["recovered"]["mean"] < 0.25, exact
    # the acceptance line, on real MediaPipe landmarks
    assert head["recovered"]["mean"] < head["default"]["mean"], {k: head[k]["mean"] for k in ("default", "recovered", "true")}
