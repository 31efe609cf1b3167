"""``vtuber plot SESSION -o PNG``: a session's head angles, blinks, mouth and hands over time.

Needs matplotlib (an optional extra), imported only when plotting, with the Agg backend.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from vtuber import geometry
from vtuber.record import RecordingError
from vtuber.record.session import read_session


def session_series(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The plotted series as arrays over frames: ``t`` (seconds from the first frame), ``yaw``,
    ``pitch``, ``roll`` (degrees, NaN without a head), ``blink_left``, ``blink_right``,
    ``mouth`` (``jawOpen``, else the ``aa`` viseme; NaN without a rig), ``left_hand``,
    ``right_hand`` (1 when the tracker saw the hand)."""
    header, frames = read_session(path)
    cols: dict[str, list[float]] = {
        k: []
        for k in (
            "t",
            "yaw",
            "pitch",
            "roll",
            "blink_left",
            "blink_right",
            "mouth",
            "left_hand",
            "right_hand",
        )
    }
    for lm, rig in frames:
        cols["t"].append(lm.t)
        if rig is not None and rig.head is not None:
            y, p, r = geometry.to_yaw_pitch_roll(rig.head.rotation)
            cols["yaw"].append(math.degrees(y))
            cols["pitch"].append(math.degrees(p))
            cols["roll"].append(math.degrees(r))
        else:
            for k in ("yaw", "pitch", "roll"):
                cols[k].append(math.nan)
        bs = rig.blendshapes if rig is not None else {}
        nan = math.nan if rig is None else 0.0
        cols["blink_left"].append(float(bs.get("eyeBlinkLeft", nan)))
        cols["blink_right"].append(float(bs.get("eyeBlinkRight", nan)))
        cols["mouth"].append(float(bs.get("jawOpen", bs.get("aa", nan))))
        cols["left_hand"].append(1.0 if lm.left_hand is not None else 0.0)
        cols["right_hand"].append(1.0 if lm.right_hand is not None else 0.0)
    out: dict[str, Any] = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    if len(out["t"]):
        out["t"] = out["t"] - out["t"][0]
    out["header"] = header
    return out


def plot_session(path: str | os.PathLike[str], out_png: str | os.PathLike[str]) -> Path:
    """Write a PNG with four panels (head yaw/pitch/roll; blinks; mouth open; hand presence)
    against time (``plot_path`` decides the file). Returns the path written. Raises ImportError naming the extra if matplotlib is
    missing."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("vtuber plot needs matplotlib: pip install matplotlib") from e

    out = plot_path(path, out_png)  # a bad name fails before the work
    s = session_series(path)
    t = s["t"]
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(10, 9), constrained_layout=True)
    ax = axes[0]
    for k, c in (("yaw", "tab:blue"), ("pitch", "tab:orange"), ("roll", "tab:green")):
        ax.plot(t, s[k], label=k, color=c, lw=1)
    ax.set_ylabel("head (deg)")
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(f"{Path(path).name} - {s['header'].get('source', '')}", fontsize="medium")

    ax = axes[1]
    ax.plot(t, s["blink_left"], label="eyeBlinkLeft", lw=1)
    ax.plot(t, s["blink_right"], label="eyeBlinkRight", lw=1)
    ax.set_ylabel("blink")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(loc="upper right", fontsize="small")

    ax = axes[2]
    ax.plot(t, s["mouth"], color="tab:red", lw=1)
    ax.set_ylabel("mouth open")
    ax.set_ylim(-0.05, 1.05)

    ax = axes[3]
    ax.step(t, s["left_hand"] + 1.5, where="post", label="left hand", lw=1)
    ax.step(t, s["right_hand"], where="post", label="right hand", lw=1)
    ax.set_yticks([0, 1, 1.5, 2.5], ["R off", "R on", "L off", "L on"], fontsize="small")
    ax.set_ylabel("hands")
    ax.set_xlabel("time (s)")

    try:
        fig.savefig(out, dpi=100)
    except OSError as exc:
        raise RecordingError(f"cannot write {out}: {exc.strerror or exc}; check the folder exists and is writable") from None
    finally:
        plt.close(fig)
    return out


PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def plot_path(session: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Where ``plot_session`` writes: ``out``; an existing folder gets ``<session name>.png``
    inside it, a name without a suffix gets ``.png``; RecordingError for other suffixes."""
    o = Path(out)
    if o.is_dir():
        return o / (Path(session).stem + ".png")
    if not o.suffix:
        return o.with_suffix(".png")
    if o.suffix.lower() not in PLOT_SUFFIXES:
        raise RecordingError(f"cannot plot to {o}: use a .png, .pdf or .svg file name")
    return o
