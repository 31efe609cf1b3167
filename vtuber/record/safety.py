"""Checks that a recording about to be created destroys nothing (shared by ``run``, ``replay`` and
``convert``), before any file is opened.

Refused always (``--overwrite`` cannot help): a recording path that is a folder, a BVH named
``.csv`` (its blendshape CSV would be the same file), two recordings in one file, and a recording
that is one of the inputs being read (the video, image or session). Refused unless ``overwrite``:
an existing file that holds data. A file this tool wrote that holds no frames (a run that failed
at start, or ended before its first frame) holds nothing to lose and is replaced.
Paths are compared after resolving symlinks and ``..``, each path on its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vtuber.errors import ConfigError

Kind = Literal["bvh", "csv", "session"]
HEAD_BYTES = 1 << 18  # a BVH header (55 joints) is ~9 kB and a session header a few kB


@dataclass(frozen=True, slots=True)
class Target:
    """One file a recording will create: its path as the user wrote it, the option or output that
    names it (for messages) and its format."""

    raw: str
    what: str
    kind: Kind

    @property
    def path(self) -> Path:
        return Path(self.raw)


def bvh_targets(raw: str, what: str) -> list[Target]:
    """The BVH and the blendshape CSV written beside it."""
    return [Target(raw, what, "bvh"), Target(str(Path(raw).with_suffix(".csv")), f"the blendshape CSV beside {what}", "csv")]


def holds_data(path: Path, kind: Kind) -> bool:
    """False only for a file in this tool's format with no frames in it (header only)."""
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
        size = path.stat().st_size
    except OSError:
        return True
    if kind == "bvh":
        start = head.find(b"\nFrame Time:")
        end = head.find(b"\n", start + 1)
        return not (head.startswith(b"HIERARCHY") and start >= 0 and end >= 0 and size <= end + 1)
    end = head.find(b"\n")
    if kind == "csv":
        return not (head.startswith(b"frame,time") and end >= 0 and size <= end + 1)
    return not (head.startswith(b"{") and b"vtuber-session" in head[: max(end, 0)] and size <= end + 1)


def check_targets(targets: Sequence[Target], inputs: Iterable[Path] = (), *, overwrite: bool = False) -> None:
    """ConfigError (one line naming the file and the fix) for a target that would destroy data
    (module docstring)."""
    for t in targets:
        if t.raw.endswith(("/", os.sep)) or t.path.is_dir():
            example = t.path / ("take1.jsonl" if t.kind == "session" else "take1.bvh")
            raise ConfigError(f"{t.what} {t.raw} is a folder: name a file in it (e.g. {example})")
        if t.kind == "bvh" and t.path.suffix.lower() == ".csv":
            raise ConfigError(
                f"{t.what} {t.raw} ends in .csv, the name of the blendshape CSV written beside the BVH: "
                f"name the BVH {t.path.with_suffix('.bvh')}"
            )
    resolved = [t.path.resolve() for t in targets]
    for i, a in enumerate(targets):
        for b, path in zip(targets[i + 1 :], resolved[i + 1 :]):
            if path == resolved[i]:
                raise ConfigError(
                    f"{a.what} {a.raw} is also {b.what}: two recordings in one file destroy both; "
                    "give each its own path (e.g. take1.bvh and take1.jsonl)"
                )
    for source in inputs:
        if not source.is_file():
            continue
        real = source.resolve()
        for t, path in zip(targets, resolved):
            if path == real:
                raise ConfigError(f"{t.what} {t.raw} is the input being read ({source}): give the recording its own name")
    if overwrite:
        return
    for t in targets:
        if t.path.is_file() and holds_data(t.path, t.kind):
            raise ConfigError(
                f"{t.path} ({t.what}) already exists and would be overwritten: choose another name, "
                "move the earlier take away, or pass --overwrite to replace it"
            )
